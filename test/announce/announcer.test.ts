// Announcer with a recording transport and hand-driven timers: first packet
// at once, one per interval, update with a new hash, withdraw with the last
// hash, errors counted not thrown. Then once over real UDP on loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { Announcer, type AnnouncerTimers, type SapDestination, type SapTransport } from '../../src/announce/announcer.js';
import { decodeSap, sapHash } from '../../src/announce/sap.js';
import { silentLogger } from '../../src/log.js';

class Recorder implements SapTransport {
  readonly sent: Array<{ packet: Buffer; dest: SapDestination }> = [];
  fail = false;
  closed = 0;
  async send(packet: Buffer, dest: SapDestination): Promise<void> {
    if (this.fail) throw new Error('ENETUNREACH');
    this.sent.push({ packet, dest });
  }
  async close(): Promise<void> { this.closed += 1; }
}

/** Timeouts that fire only when the test says so. */
class Ticks implements AnnouncerTimers {
  private next = 1;
  readonly live = new Map<number, { fn: () => void; ms: number }>();
  setTimeout(fn: () => void, ms: number): unknown { const id = this.next++; this.live.set(id, { fn, ms }); return id; }
  clearTimeout(h: unknown): void { this.live.delete(h as number); }
  /** Fires every pending timeout once (each re-arms its own next one). */
  fire(): void {
    const due = [...this.live.entries()];
    for (const [id, { fn }] of due) { this.live.delete(id); fn(); }
  }
}

const flush = () => new Promise((r) => setImmediate(r));
const GROUP = 'ff3e:40:2001:db8:1:0:8000:1';
const SDP1 = `v=0\r\no=- 1 1 IN IP6 2001:db8::1\r\ns=One\r\nc=IN IP6 ${GROUP}\r\nt=0 0\r\nm=audio 5004 RTP/AVP 14\r\n`;
const SDP2 = SDP1.replace('o=- 1 1', 'o=- 1 2').replace('s=One', 's=Two');

function setup(scoped = false) {
  const transport = new Recorder();
  const timers = new Ticks();
  const a = new Announcer({ logger: silentLogger, intervalMs: 5000, transport, timers, scoped, random: () => 0.5 });
  return { a, transport, timers };
}

test('first announcement leaves at once, then one per interval, to [group]:9875', async () => {
  const { a, transport, timers } = setup();
  a.announce('k', { group: GROUP, sdp: SDP1, iface: 'lan0', originAddress: '2001:db8::1' });
  await flush();
  assert.equal(transport.sent.length, 1);
  const { packet, dest } = transport.sent[0]!;
  assert.deepEqual(dest, { address: GROUP, port: 9875, family: 6, iface: 'lan0', originAddress: '2001:db8::1', ttl: 255 });
  const p = decodeSap(packet);
  assert.equal(p.deletion, false);
  assert.equal(p.origin, '2001:db8::1');
  assert.equal(p.msgIdHash, sapHash(SDP1));
  assert.equal(p.payload.toString(), SDP1);
  assert.equal([...timers.live.values()][0]!.ms, 5000);
  timers.fire();
  timers.fire();
  await flush();
  assert.equal(transport.sent.length, 3);
  assert.ok(transport.sent.every((s) => s.packet.equals(packet)));
  assert.deepEqual(a.stats(), { sessions: 1, sent: 3, sendErrors: 0 });
  await a.close();
});

test('alsoScoped adds the RFC 2974 scoped address; IPv4 too', async () => {
  const { a, transport } = setup(true);
  a.announce('six', { group: GROUP, sdp: SDP1, iface: 'lan0', originAddress: '2001:db8::1' });
  a.announce('four', { group: '239.255.1.2', sdp: SDP1, iface: 'lan0', originAddress: '192.0.2.1', ttl: 4, alsoScoped: true });
  a.announce('off', { group: '239.255.1.3', sdp: SDP1, iface: 'lan0', originAddress: '192.0.2.1', alsoScoped: false });
  await flush();
  assert.deepEqual(transport.sent.map((s) => [s.dest.address, s.dest.family, s.dest.ttl]), [
    [GROUP, 6, 255], ['ff0e::2:7ffe', 6, 255], ['239.255.1.2', 4, 4], ['239.255.255.255', 4, 4], ['239.255.1.3', 4, 255],
  ]);
  await a.close();
});

test('update sends the new SDP at once with a new hash; withdraw sends a deletion with the last hash, then stops', async () => {
  const { a, transport, timers } = setup();
  a.announce('k', { group: GROUP, sdp: SDP1, iface: 'lan0', originAddress: '2001:db8::1' });
  a.update('k', SDP2);
  await flush();
  const [first, second] = transport.sent.map((s) => decodeSap(s.packet));
  assert.notEqual(second!.msgIdHash, first!.msgIdHash);
  assert.equal(second!.payload.toString(), SDP2);
  assert.equal(a.hashOf('k'), second!.msgIdHash);
  assert.equal(timers.live.size, 1, 'one interval per session');
  await a.withdraw('k');
  const del = decodeSap(transport.sent.at(-1)!.packet);
  assert.equal(del.deletion, true);
  assert.equal(del.msgIdHash, second!.msgIdHash);
  assert.equal(del.payload.toString(), SDP2);
  assert.equal(timers.live.size, 0);
  const count = transport.sent.length;
  timers.fire();
  await flush();
  assert.equal(transport.sent.length, count, 'nothing after withdraw');
  await a.withdraw('k'); // unknown now: nothing
  assert.equal(transport.sent.length, count);
  assert.throws(() => a.update('k', SDP1), /no announcement for k/);
});

test('an update whose SDP hashes the same still changes the hash', async () => {
  const { a, transport } = setup();
  // Find two SDPs with the same 16-bit hash.
  const seen = new Map<number, string>();
  let pair: [string, string] | undefined;
  for (let i = 0; !pair; i++) {
    const sdp = `${SDP1}a=x:${i}\r\n`;
    const h = sapHash(sdp);
    const other = seen.get(h);
    if (other) pair = [other, sdp]; else seen.set(h, sdp);
  }
  a.announce('k', { group: GROUP, sdp: pair[0], iface: 'lan0', originAddress: '2001:db8::1' });
  a.update('k', pair[1]);
  await flush();
  const hashes = transport.sent.map((s) => decodeSap(s.packet).msgIdHash);
  assert.equal(hashes.length, 2);
  assert.notEqual(hashes[0], hashes[1]);
  await a.close();
});

test('close withdraws every session once and closes the transport; safe twice', async () => {
  const { a, transport } = setup();
  a.announce('a', { group: GROUP, sdp: SDP1, iface: 'lan0', originAddress: '2001:db8::1' });
  a.announce('b', { group: 'ff3e::2', sdp: SDP2, iface: 'lan0', originAddress: '2001:db8::1' });
  await Promise.all([a.close(), a.close()]);
  const deletions = transport.sent.map((s) => decodeSap(s.packet)).filter((p) => p.deletion);
  assert.equal(deletions.length, 2);
  assert.equal(transport.closed, 1);
  assert.throws(() => a.announce('c', { group: GROUP, sdp: SDP1, iface: 'lan0', originAddress: '2001:db8::1' }), /closed/);
});

test('intervals are spread by up to a third either way (RFC 2974 §3.1)', async () => {
  const delays: number[] = [];
  for (const r of [0, 0.25, 0.5, 0.999999]) {
    const timers = new Ticks();
    const a = new Announcer({ logger: silentLogger, intervalMs: 6000, transport: new Recorder(), timers, random: () => r });
    a.announce('k', { group: GROUP, sdp: SDP1, iface: 'lan0', originAddress: '2001:db8::1' });
    delays.push([...timers.live.values()][0]!.ms);
    await a.close();
  }
  assert.deepEqual(delays, [4000, 5000, 6000, 8000]);
});

test('a send error is counted and logged, never thrown', async () => {
  const { a, transport, timers } = setup();
  transport.fail = true;
  a.announce('k', { group: GROUP, sdp: SDP1, iface: 'lan0', originAddress: '2001:db8::1' });
  timers.fire();
  await flush();
  await a.withdraw('k');
  assert.deepEqual(a.stats(), { sessions: 0, sent: 0, sendErrors: 3 });
});

test('real UDP: a SAP packet from the announcer arrives on loopback, from the origin address', async () => {
  const rx = createSocket({ type: 'udp4', reuseAddr: true });
  await new Promise<void>((r) => rx.bind(0, '127.0.0.1', () => r()));
  const port = rx.address().port;
  const got = new Promise<{ msg: Buffer; from: string }>((r) => rx.once('message', (msg, rinfo) => r({ msg, from: rinfo.address })));
  // Unicast to loopback exercises socket, bind and send without a multicast route.
  const a = new Announcer({ logger: silentLogger, port });
  try {
    a.announce('k', { group: '127.0.0.1', sdp: SDP1, iface: 'lo', originAddress: '127.0.0.1', ttl: 1 });
    const { msg, from } = await got;
    assert.equal(from, '127.0.0.1');
    assert.equal(decodeSap(msg).payload.toString(), SDP1);
  } finally {
    await a.close();
    rx.close();
  }
});
