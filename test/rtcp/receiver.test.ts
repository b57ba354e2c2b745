// The RTCP edge on real sockets, multicast kept on the loopback interface
// (IP_MULTICAST_IF 127.0.0.1): a receiver report sent to the group reaches
// the group's figures; close() while the socket still binds leaves nothing
// open; the last leave() closes the group.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { RtcpReceiver } from '../../src/rtcp/receiver.js';
import { silentLogger } from '../../src/log.js';

const GROUP = '239.255.77.5';
const PORT = 25005;
const OURS = 0x1234abcd;

/** RFC 3550 §6.4.2 RR with one report block about `source`. */
function receiverReport(reporter: number, source: number, jitter: number): Buffer {
  const b = Buffer.alloc(32);
  b[0] = 0x81; // V=2, RC=1
  b[1] = 201;
  b.writeUInt16BE(7, 2); // length in 32-bit words minus one
  b.writeUInt32BE(reporter, 4);
  b.writeUInt32BE(source, 8);
  b[12] = 64; // fraction lost 64/256
  b.writeUIntBE(10, 13, 3); // cumulative lost
  b.writeUInt32BE(1000, 16); // highest sequence
  b.writeUInt32BE(jitter, 20);
  return b;
}

async function send(packet: Buffer): Promise<void> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()));
  s.setMulticastInterface('127.0.0.1');
  await new Promise<void>((resolve, reject) => s.send(packet, PORT, GROUP, (e) => (e ? reject(e) : resolve())));
  s.close();
}

async function until<T>(cond: () => T | undefined, ms = 3000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = cond();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('a report about our SSRC counts; jitter in the group\'s own clock rate (48 kHz for Opus)', async () => {
  const rx = new RtcpReceiver({ logger: silentLogger });
  try {
    await rx.open({ group: GROUP, iface: 'lo', ifaceAddress4: '127.0.0.1', port: PORT, ssrc: OURS, clockRate: 48_000 });
    await send(receiverReport(0x55, 0x999, 480)); // about another stream: not ours
    await send(receiverReport(0x77, OURS, 480));
    const r = await until(() => { const x = rx.reception(GROUP); return x && x.receivers > 0 ? x : undefined; });
    assert.equal(r.receivers, 1);
    assert.equal(r.perReceiver[0]!.ssrc, 0x77);
    assert.equal(r.fractionLost, 0.25);
    assert.equal(r.cumulativeLost, 10);
    assert.equal(r.jitterMs, 10, '480 ticks of a 48 kHz clock');
    assert.equal(r.perReceiver[0]!.jitterMs, 10);
  } finally {
    rx.closeAll();
  }
});

test('close() while the socket still binds: open() resolves and nothing stays open', async () => {
  const rx = new RtcpReceiver({ logger: silentLogger });
  const opening = rx.open({ group: GROUP, iface: 'lo', ifaceAddress4: '127.0.0.1', port: PORT });
  rx.close(GROUP);
  await opening;
  assert.deepEqual(rx.groups(), []);
  assert.equal(rx.reception(GROUP), undefined);
  // The port is free again: a new open binds and hears.
  await rx.open({ group: GROUP, iface: 'lo', ifaceAddress4: '127.0.0.1', port: PORT });
  assert.deepEqual(rx.groups(), [GROUP]);
  rx.leave(GROUP, 'lo');
  assert.deepEqual(rx.groups(), [], 'the last interface left closes the group');
  rx.leave(GROUP, 'lo');
  rx.closeAll();
});

test('a stream started again on a group that is still open: reports about its new SSRC count', async () => {
  const rx = new RtcpReceiver({ logger: silentLogger });
  try {
    await rx.open({ group: GROUP, iface: 'lo', ifaceAddress4: '127.0.0.1', port: PORT, ssrc: OURS });
    await rx.open({ group: GROUP, iface: 'lo', ifaceAddress4: '127.0.0.1', port: PORT, ssrc: OURS + 1 });
    await send(receiverReport(0x78, OURS + 1, 900));
    const r = await until(() => { const x = rx.reception(GROUP); return x && x.receivers > 0 ? x : undefined; });
    assert.equal(r.perReceiver[0]!.ssrc, 0x78);
    assert.equal(r.jitterMs, 10, '900 ticks of the default 90 kHz clock');
  } finally {
    rx.closeAll();
  }
});
