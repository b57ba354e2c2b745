/**
 * The live membership edge against real Linux hosts (IGMPv3 / MLDv2): three
 * hosts and the headend on one bridge (snooping off, a plain switch), hosts
 * joining and leaving with real sockets through test/helpers/joiner.ts, the
 * headend running `headend watch --json` in its own namespace. A tshark
 * capture on the headend's interface checks the queries we send and that the
 * hosts answer them.
 *
 * Timers are shortened (SHORT_TIMERS: GMI 4.5 s) so that expiry runs in
 * seconds; every wait polls the watch output with a deadline.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, canUseNetns, waitLinkLocal, type Netns } from '../helpers/netns.js';
import { startJoiner, type Joiner } from '../helpers/joiner.js';
import { REPO, SHORT_TIMERS, scratchDir, startCapture, startWatch, type Capture, type Watch, type WatchLine } from './membership-watch.js';

const skip = !canUseNetns() && 'needs root and iproute2 (network namespaces)';

const MEMBERSHIP = SHORT_TIMERS;
const GMI_MS = MEMBERSHIP.robustness * MEMBERSHIP.queryIntervalMs + MEMBERSHIP.queryResponseIntervalMs;

const SSM6 = 'ff3e:40:2001:db8:1:0:8000:1';
const SOURCE6 = '2001:db8::5';
const ASM6 = 'ff0e::db8:1';
const SSM4 = '232.1.1.1';
const SOURCE4 = '10.99.0.1';
const ASM4 = '239.1.1.1';
const VANISH4 = '239.2.2.2';

const lab = new Lab();
const scratch = scratchDir();
let headend: Netns;
let hub: Netns;
let hosts: Netns[] = [];
let joiners: Joiner[] = [];
let hostLinkLocal: string[] = [];
let headendLinkLocal = '';
let watch: Watch;
let capture: Capture;
/** For the report-to-event delay: when each host's SSM join showed up in watch (epoch ms). */
const joinEventAt: number[] = [];

const isEdge = (type: string, group: string, source: string) => (l: WatchLine) =>
  l.event === type && l.group === group && l.source === source && l.iface === 'lan0';
const isCount = (group: string, source: string, n: number) => (l: WatchLine) =>
  (l.event === 'listeners' || l.event === 'active') && l.group === group && l.source === source && l.listeners === n;

before(async () => {
  if (skip) return;
  hub = await lab.netns('hub');
  headend = await lab.netns('headend');
  hosts = [await lab.netns('h1'), await lab.netns('h2'), await lab.netns('h3')];
  await lab.bridge(hub, headend, 'lan0', hosts, 'eth0');
  await headend.exec('ip', ['addr', 'add', '10.0.0.1/24', 'dev', 'lan0']);
  for (const [i, h] of hosts.entries()) {
    await h.exec('ip', ['addr', 'add', `10.0.0.${11 + i}/24`, 'dev', 'eth0']);
  }
  headendLinkLocal = await waitLinkLocal(headend, 'lan0');
  hostLinkLocal = await Promise.all(hosts.map((h) => waitLinkLocal(h, 'eth0')));
  capture = await startCapture(headend, 'lan0', scratch.dir);
  watch = await startWatch(headend, ['lan0'], MEMBERSHIP, scratch.dir);
  joiners = await Promise.all(hosts.map((h) => startJoiner(h)));
});

after(async () => {
  try {
    await Promise.all(joiners.map((j) => j.close()));
  } finally {
    await lab.close();
    scratch.remove();
  }
});

test('IPv6 SSM: three hosts count as three listeners; one leaving keeps the group, the last leave makes it idle', { skip }, async () => {
  const since = watch.mark();
  await joiners[0].join(SSM6, 'eth0', SOURCE6);
  const active = await watch.waitFor(isEdge('active', SSM6, SOURCE6), 'active for the SSM join', { since });
  assert.equal(active.listeners, 1);
  joinEventAt[0] = active.at;
  await joiners[1].join(SSM6, 'eth0', SOURCE6);
  joinEventAt[1] = (await watch.waitFor(isCount(SSM6, SOURCE6, 2), 'two listeners', { since })).at;
  await joiners[2].join(SSM6, 'eth0', SOURCE6);
  const three = await watch.waitFor(isCount(SSM6, SOURCE6, 3), 'three listeners', { since });

  joinEventAt[2] = three.at;
  // The table printed after that event.
  const table = await watch.waitFor((l) => Array.isArray(l.table) && l.table.some((r) => r.group === SSM6), 'table with the group', { since: watch.lines.indexOf(three) });
  const row = table.table!.find((r) => r.group === SSM6)!;
  assert.deepEqual(new Set(row.hosts as string[]), new Set(hostLinkLocal), 'each host tracked by its link-local address');

  const leaving = watch.mark();
  await joiners[0].leave(SSM6, 'eth0', SOURCE6);
  await watch.waitFor(isCount(SSM6, SOURCE6, 2), 'two listeners after one leave', { since: leaving });
  await joiners[1].leave(SSM6, 'eth0', SOURCE6);
  await watch.waitFor(isCount(SSM6, SOURCE6, 1), 'one listener after two leaves', { since: leaving });
  assert.equal(watch.lines.slice(leaving).some(isEdge('idle', SSM6, SOURCE6)), false, 'not idle while a host still listens');
  await joiners[2].leave(SSM6, 'eth0', SOURCE6);
  const idle = await watch.waitFor(isEdge('idle', SSM6, SOURCE6), 'idle after the last leave', { since: leaving });
  assert.equal(idle.listeners, 0);
});

test('IPv6 ASM: any-source joins from two hosts, then both leave', { skip }, async () => {
  const since = watch.mark();
  await joiners[0].join(ASM6, 'eth0');
  await watch.waitFor(isEdge('active', ASM6, '*'), 'active for the ASM join', { since });
  await joiners[1].join(ASM6, 'eth0');
  await watch.waitFor(isCount(ASM6, '*', 2), 'two ASM listeners', { since });
  await joiners[0].leave(ASM6, 'eth0');
  await watch.waitFor(isCount(ASM6, '*', 1), 'one ASM listener', { since });
  await joiners[1].leave(ASM6, 'eth0');
  await watch.waitFor(isEdge('idle', ASM6, '*'), 'idle after both left', { since });
});

test('IPv4 SSM (232/8): join with a source, leave', { skip }, async () => {
  const since = watch.mark();
  await joiners[1].join(SSM4, 'eth0', SOURCE4);
  const active = await watch.waitFor(isEdge('active', SSM4, SOURCE4), 'active for the IPv4 SSM join', { since });
  assert.equal(active.listeners, 1);
  await joiners[1].leave(SSM4, 'eth0', SOURCE4);
  await watch.waitFor(isEdge('idle', SSM4, SOURCE4), 'idle after the IPv4 SSM leave', { since });
});

test('IPv4 ASM (239/8): two hosts, one leaves, the other leaves', { skip }, async () => {
  const since = watch.mark();
  await joiners[0].join(ASM4, 'eth0');
  await joiners[2].join(ASM4, 'eth0');
  await watch.waitFor(isCount(ASM4, '*', 2), 'two IPv4 ASM listeners', { since });
  await joiners[0].leave(ASM4, 'eth0');
  await watch.waitFor(isCount(ASM4, '*', 1), 'one IPv4 ASM listener', { since });
  assert.equal(watch.lines.slice(since).some(isEdge('idle', ASM4, '*')), false);
  await joiners[2].leave(ASM4, 'eth0');
  await watch.waitFor(isEdge('idle', ASM4, '*'), 'idle after both IPv4 hosts left', { since });
});

test('a malformed report from the wire is rejected with its reason; the edge keeps working', { skip }, async () => {
  const since = watch.mark();
  // MLDv2 report announcing one record but carrying none: truncated at offset 8.
  // Sent from host 1 with the addon itself, as the hosts' kernels never send such a thing.
  const script = `
    import { loadNative, openMembershipSocket } from '${REPO}/src/native/index.ts';
    import { addrToBuffer, parseAddr } from '${REPO}/src/membership/addr.ts';
    const sock = openMembershipSocket(6, () => {});
    sock.send(Buffer.from('8f00000000000001', 'hex'), addrToBuffer(parseAddr('ff02::16')),
      loadNative().ifNameToIndex('eth0'), addrToBuffer(parseAddr('${hostLinkLocal[0]}')));
    sock.close();`;
  await hosts[0].exec(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script]);
  const rejected = await watch.waitFor((l) => l.event === 'rejected' && l.from === hostLinkLocal[0], 'a rejected event', { since });
  assert.match(String(rejected.reason), /malformed/);
  await joiners[0].join(ASM6, 'eth0');
  await watch.waitFor(isEdge('active', ASM6, '*'), 'active after the bad packet', { since });
  await joiners[0].leave(ASM6, 'eth0');
  await watch.waitFor(isEdge('idle', ASM6, '*'), 'idle after the bad packet', { since });
});

test('a host that vanishes without leaving: the group expires after the Group Membership Interval', { skip }, async (t) => {
  const since = watch.mark();
  await joiners[2].join(VANISH4, 'eth0');
  await watch.waitFor(isEdge('active', VANISH4, '*'), 'active for the host about to vanish', { since });
  // Unplug it: its bridge port goes down, the host keeps its membership and
  // keeps answering queries, but nothing reaches the headend any more.
  const unplugged = Date.now();
  await hub.exec('ip', ['link', 'set', 'p3', 'down']);
  try {
    const idle = await watch.waitFor(isEdge('idle', VANISH4, '*'), 'expiry of the vanished host', { since, timeoutMs: GMI_MS + 5000 });
    const after = idle.at - unplugged;
    t.diagnostic(`idle ${after.toFixed(0)} ms after unplugging (GMI ${GMI_MS} ms)`);
    // The last report heard is at most one query interval (+ response time)
    // before the unplug, so expiry cannot come sooner than this.
    assert.ok(after >= GMI_MS - MEMBERSHIP.queryIntervalMs - MEMBERSHIP.queryResponseIntervalMs - 100, `expired after only ${after} ms`);
  } finally {
    await hub.exec('ip', ['link', 'set', 'p3', 'up']);
    await joiners[2].leave(VANISH4, 'eth0');
  }
});

test('tshark decodes our queries cleanly, and the hosts answer them with reports', { skip }, async (t) => {
  await watch.waitFor((l) => l.event === 'query' && l.proto === 'igmp' && l.group === '0.0.0.0', 'an IGMP general query');
  await watch.waitFor((l) => l.event === 'query' && l.proto === 'mld' && l.group === '::', 'an MLD general query');
  await capture.stop();

  const ours = `(igmp.type == 0x11 && ip.src == 10.0.0.1) || (icmpv6.type == 130 && ipv6.src == ${headendLinkLocal})`;
  const verbose = await capture.read(['-V', '-Y', ours]);
  assert.doesNotMatch(verbose, /Malformed/);
  assert.doesNotMatch(verbose, /Expert Info \(Warning/);

  const fields = ['frame.time_epoch', 'ip.src', 'ipv6.src', 'igmp.type', 'icmpv6.type', 'ip.ttl', 'ip.dsfield', 'ip.opt.type',
    'ipv6.hlim', 'ipv6.opt.router_alert', 'igmp.maddr', 'icmpv6.mld.multicast_address', 'icmpv6.mld.qqi', 'icmpv6.mldr.mar.multicast_address'];
  const rows = (await capture.read(['-Y', 'igmp || icmpv6.type == 130 || icmpv6.type == 143', '-T', 'fields', '-E', 'occurrence=f', ...fields.flatMap((f) => ['-e', f])]))
    .trim().split('\n').map((line) => Object.fromEntries(line.split('\t').map((v, i) => [fields[i], v])));
  const queries4 = rows.filter((r) => r['igmp.type'] === '0x11' && r['ip.src'] === '10.0.0.1');
  const queries6 = rows.filter((r) => r['icmpv6.type'] === '130' && r['ipv6.src'] === headendLinkLocal);
  assert.ok(queries4.length > 0 && queries6.length > 0, `our queries in the capture: ${queries4.length} IGMP, ${queries6.length} MLD`);
  // Framing (RFC 9776 §4, RFC 9777 §5): TTL / hop limit 1, TOS 0xc0, Router Alert.
  for (const q of queries4) {
    assert.equal(q['ip.ttl'], '1');
    assert.equal(Number(q['ip.dsfield']), 0xc0);
    assert.match(q['ip.opt.type'], /^(148|0x94)$/, 'IPv4 Router Alert option');
  }
  for (const q of queries6) {
    assert.equal(q['ipv6.hlim'], '1');
    assert.equal(Number(q['ipv6.opt.router_alert']), 0, 'hop-by-hop Router Alert, value 0 = MLD (RFC 2711)');
    assert.notEqual(q['icmpv6.mld.qqi'], '', 'an MLDv2 query (QQIC present)');
  }

  // The hosts answer general queries: a report from each within QRI (+ slack) of one.
  const ts = (r: Record<string, string>) => Number(r['frame.time_epoch']) * 1000;
  const general = [...queries4.filter((q) => q['igmp.maddr'] === '0.0.0.0'), ...queries6.filter((q) => q['icmpv6.mld.multicast_address'] === '::')].map(ts);
  const reports = rows.filter((r) => r['igmp.type'] === '0x22' || r['icmpv6.type'] === '143');
  const answered = hostLinkLocal.filter((ll) =>
    general.some((q) => reports.some((r) => r['ipv6.src'] === ll && ts(r) > q && ts(r) <= q + MEMBERSHIP.queryResponseIntervalMs + 300)));
  assert.ok(answered.length >= 2, `hosts answering general MLD queries: ${answered.join(', ') || 'none'}`);

  // The "done when" figure: a host's SSM report on the wire -> the event out of watch.
  for (const [i, ll] of hostLinkLocal.entries()) {
    const first = reports.find((r) => r['ipv6.src'] === ll && r['icmpv6.mldr.mar.multicast_address'] === SSM6);
    if (first && joinEventAt[i]) t.diagnostic(`SSM join of host ${i + 1}: report on the wire -> watch event ${(joinEventAt[i] - ts(first)).toFixed(3)} ms`);
  }
});
