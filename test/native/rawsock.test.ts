/**
 * The raw-socket addon against the real kernel, over loopback only: a sender
 * and a receiver socket in this process, unicast to 127.0.0.1 / ::1 (raw
 * sockets get a copy of every locally delivered IGMP / ICMPv6 datagram).
 * Multicast joins and sends on a real link are covered by test/e2e/membership*.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadNative, openMembershipSocket, icmp6FilterPassOnly, type RawPacket, type RawSocket } from '../../src/native/index.js';

const root = process.getuid?.() === 0;
const LOOPBACK4 = Buffer.from([127, 0, 0, 1]);
const LOOPBACK6 = Buffer.from('00000000000000000000000000000001', 'hex');

/** Opens a membership socket whose packets land in a queue that `next` awaits. */
function receiver(family: 4 | 6, accept: (p: RawPacket) => boolean) {
  const queue: RawPacket[] = [];
  const waiters: Array<(p: RawPacket) => void> = [];
  const sock = openMembershipSocket(family, (err, pkt) => {
    if (err || !pkt || !accept(pkt)) return;
    const w = waiters.shift();
    if (w) w(pkt); else queue.push(pkt);
  });
  const next = (timeoutMs = 2000) =>
    new Promise<RawPacket>((resolve, reject) => {
      const p = queue.shift();
      if (p) return resolve(p);
      const timer = setTimeout(() => reject(new Error(`no packet within ${timeoutMs} ms`)), timeoutMs);
      waiters.push((pkt) => { clearTimeout(timer); resolve(pkt); });
    });
  return { sock, next };
}

test('IPv4: header stripped, TTL, Router Alert, addresses and ifindex read from it', { skip: !root && 'needs CAP_NET_RAW' }, async () => {
  // IGMPv3 report, one ALLOW record: 232.1.2.3 from 10.0.0.1 (a marker source to match on).
  const report = Buffer.from('220000000000000105000001e8010203' + '0a000001', 'hex');
  const rx = receiver(4, (p) => p.payload.equals(report));
  const tx: RawSocket = openMembershipSocket(4, () => {});
  try {
    assert.equal(tx.send(report, LOOPBACK4, 1, LOOPBACK4), report.length);
    const pkt = await rx.next();
    assert.deepEqual(pkt.payload, report);
    assert.deepEqual(pkt.from, LOOPBACK4);
    assert.deepEqual(pkt.to, LOOPBACK4);
    assert.equal(pkt.ifindex, loadNative().ifNameToIndex('lo'));
    assert.equal(pkt.routerAlert, true, 'IP_OPTIONS 94040000 is on the wire');
    assert.ok(pkt.ttl > 0, `ttl ${pkt.ttl}`);
    assert.equal(pkt.error, undefined);
  } finally {
    tx.close();
    rx.sock.close();
  }
});

test('IPv6: hop-by-hop Router Alert, hop limit 1, destination and ifindex from ancillary data; filter passes only MLD', { skip: !root && 'needs CAP_NET_RAW' }, async () => {
  const marker = Buffer.from('fe800000000000000000000000001234', 'hex');
  // MLDv2 report, one ALLOW record for ff3e:40:2001:db8:1:0:8000:1 from the marker source.
  const report = Buffer.from('8f000000000000010500000' + '1ff3e0040200100db0001000080000001' + marker.toString('hex'), 'hex');
  const echo = Buffer.concat([Buffer.from('80000000', 'hex'), marker]);
  const seen: number[] = [];
  const rx = receiver(6, (p) => {
    if (!p.payload.subarray(p.payload.length - 16).equals(marker)) return false;
    seen.push(p.payload[0]);
    return true;
  });
  const tx = openMembershipSocket(6, () => {});
  try {
    // The echo request goes first: if the ICMP6_FILTER let it through it would arrive first.
    tx.send(echo, LOOPBACK6, 1, LOOPBACK6);
    tx.send(report, LOOPBACK6, 1, LOOPBACK6);
    const pkt = await rx.next();
    assert.deepEqual(seen, [143]);
    // The kernel fills in the ICMPv6 checksum (offset 2); everything else is ours.
    assert.deepEqual(Buffer.concat([pkt.payload.subarray(0, 2), pkt.payload.subarray(4)]), Buffer.concat([report.subarray(0, 2), report.subarray(4)]));
    assert.notEqual(pkt.payload.readUInt16BE(2), 0, 'checksum computed by the kernel');
    assert.deepEqual(pkt.from, LOOPBACK6);
    assert.deepEqual(pkt.to, LOOPBACK6);
    assert.equal(pkt.ttl, 1, 'hop limit 1');
    assert.equal(pkt.routerAlert, true);
    assert.equal(pkt.ifindex, 1);
  } finally {
    tx.close();
    rx.sock.close();
  }
});

test('errors name the syscall and errno; close is safe twice', { skip: !root && 'needs CAP_NET_RAW' }, () => {
  const n = loadNative();
  const sock = openMembershipSocket(6, () => {});
  assert.throws(() => sock.joinGroup(Buffer.alloc(16, 0xff), 999_999), (e: Error & { syscall?: string; errno?: number }) => {
    assert.match(e.message, /MCAST_JOIN_GROUP/);
    assert.equal(typeof e.errno, 'number');
    return true;
  });
  assert.throws(() => sock.joinGroup(Buffer.alloc(4), 1), /length does not match/);
  assert.throws(() => sock.setsockopt(n.constants.IPPROTO_IPV6, 9999, 1), (e: Error & { syscall?: string }) => e.syscall === 'setsockopt');
  assert.throws(() => sock.setsockopt(1, 2, 'x' as unknown as number), TypeError);
  sock.close();
  sock.close();
  assert.throws(() => sock.send(Buffer.alloc(8), LOOPBACK6, 1, LOOPBACK6), /EBADF|Bad file descriptor/);
  assert.throws(() => n.ifNameToIndex('no-such-if0'), /if_nametoindex/);
  assert.throws(() => new n.RawSocket(5 as 4, 2, () => {}), RangeError);
});

test('interfaceAddresses lists loopback addresses as raw bytes, primary IPv4 first', { skip: !root && 'needs the addon' }, () => {
  const addrs = loadNative().interfaceAddresses('lo');
  assert.deepEqual(addrs.find((a) => a.family === 4)?.address, LOOPBACK4);
  assert.ok(addrs.some((a) => a.family === 6 && a.address.equals(LOOPBACK6)));
  assert.deepEqual(loadNative().interfaceAddresses('no-such-if0'), []);
});

test('ICMP6_FILTER value: a set bit blocks, the MLD types are clear', () => {
  const words = new Uint32Array(icmp6FilterPassOnly([130, 131, 132, 143]).buffer.slice(0));
  const blocked = (t: number) => (words[t >> 5] & (1 << (t & 31))) !== 0;
  assert.equal(blocked(130), false);
  assert.equal(blocked(143), false);
  assert.equal(blocked(128), true);
  assert.equal(blocked(135), true);
});
