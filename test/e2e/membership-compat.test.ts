/**
 * Older hosts against the live edge: a Linux host forced to MLDv1
 * (force_mld_version=1) and IGMPv2 (force_igmp_version=2) on a veth pair.
 * Their reports go to the group address itself, so the headend needs the
 * multicast routing socket (membership.multicastRouterSocket, MRT_INIT /
 * MRT6_INIT) to hear them (PROTOCOLS.md §1); their leaves go to ff02::2 /
 * 224.0.0.2. Such hosts suppress each other's reports, so they count as one
 * listener per interface.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, canUseNetns, type Netns } from '../helpers/netns.js';
import { startJoiner, type Joiner } from '../helpers/joiner.js';
import { needsMulticastRouting } from '../../src/lab/kernel.js';
import { REPO, SHORT_TIMERS, scratchDir, startWatch, type Watch, type WatchLine } from './membership-watch.js';

const skip = (!canUseNetns() && 'needs root and iproute2 (network namespaces)') || needsMulticastRouting(4, 6);
if (skip) console.log(`# skipped: ${skip}`);

const MEMBERSHIP = { ...SHORT_TIMERS, multicastRouterSocket: true };
const ASM6 = 'ff0e::db8:2';
const ASM4 = '239.3.3.3';

const lab = new Lab();
const scratch = scratchDir();
let headend: Netns;
let host: Netns;
let joiner: Joiner;
let watch: Watch;

const isEdge = (type: string, group: string) => (l: WatchLine) => l.event === type && l.group === group && l.source === '*';

before(async () => {
  if (skip) return;
  headend = await lab.netns('headend');
  host = await lab.netns('old');
  await lab.veth(headend, 'lan0', host, 'eth0');
  await headend.exec('ip', ['addr', 'add', '10.0.1.1/24', 'dev', 'lan0']);
  await host.exec('ip', ['addr', 'add', '10.0.1.2/24', 'dev', 'eth0']);
  await host.exec('sysctl', ['-qw', 'net.ipv6.conf.eth0.force_mld_version=1']);
  await host.exec('sysctl', ['-qw', 'net.ipv4.conf.eth0.force_igmp_version=2']);
  watch = await startWatch(headend, ['lan0'], MEMBERSHIP, scratch.dir);
  joiner = await startJoiner(host);
});

after(async () => {
  try {
    await joiner?.close();
  } finally {
    await lab.close();
    scratch.remove();
  }
});

test('an MLDv1 host: report to the group is heard (MRT6_INIT), Done makes the group idle', { skip }, async () => {
  const since = watch.mark();
  await joiner.join(ASM6, 'eth0');
  const active = await watch.waitFor(isEdge('active', ASM6), 'active for the MLDv1 join', { since });
  assert.equal(active.listeners, 1);
  const heard = await watch.waitFor((l) => l.event === 'received' && (l.message as { kind?: string })?.kind === 'legacy-report', 'an MLDv1 report', { since });
  assert.equal((heard.message as { version: number }).version, 1);
  await joiner.leave(ASM6, 'eth0');
  await watch.waitFor(isEdge('idle', ASM6), 'idle after the MLDv1 Done', { since });
  // A v1 Done makes the querier ask the group before letting it go (RFC 9777 §7.6.2 / RFC 2710 §4).
  assert.ok(watch.lines.slice(since).some((l) => l.event === 'query' && l.group === ASM6), 'a multicast-address-specific query was sent');
});

test('an IGMPv2 host: report to the group is heard (MRT_INIT), Leave makes the group idle', { skip }, async () => {
  const since = watch.mark();
  await joiner.join(ASM4, 'eth0');
  const active = await watch.waitFor(isEdge('active', ASM4), 'active for the IGMPv2 join', { since });
  assert.equal(active.listeners, 1);
  await joiner.leave(ASM4, 'eth0');
  await watch.waitFor(isEdge('idle', ASM4), 'idle after the IGMPv2 Leave', { since });
  assert.ok(watch.lines.slice(since).some((l) => l.event === 'query' && l.group === ASM4), 'a group-specific query was sent');
});

test('with the routing socket, multicast data from the link (cache-miss upcalls) is not mistaken for membership', { skip }, async () => {
  const since = watch.mark();
  const send = `
    const dgram = require('node:dgram');
    const s4 = dgram.createSocket('udp4'), s6 = dgram.createSocket('udp6');
    s4.bind(0, () => { s4.setMulticastInterface('10.0.1.2');
      s4.send('x', 5004, '239.9.9.9', () => s4.close()); });
    s6.bind(0, () => { s6.setMulticastInterface('::%eth0');
      s6.send('x', 5004, 'ff0e::db8:9', () => s6.close()); });`;
  await host.exec(process.execPath, ['-e', send]);
  // Reports sent after the data arrive after its upcalls, on the same sockets.
  await joiner.join(ASM4, 'eth0');
  await joiner.join(ASM6, 'eth0');
  await watch.waitFor(isEdge('active', ASM4), 'active for the IGMPv2 join', { since });
  await watch.waitFor(isEdge('active', ASM6), 'active for the MLDv1 join', { since });
  assert.deepEqual(watch.lines.slice(since).filter((l) => l.event === 'rejected'), []);
  await joiner.leave(ASM4, 'eth0');
  await joiner.leave(ASM6, 'eth0');
});

test('LiveMembership in-process: a second routing socket is refused by name; close() twice releases everything', { skip }, async () => {
  // Runs inside the headend namespace, next to the watch that holds MRT_INIT.
  // The script ends only if close() released the sockets and the timer.
  const script = `
    import { LiveMembership } from '${REPO}/src/membership/live.ts';
    import { buildConfig } from '${REPO}/src/config.ts';
    import { silentLogger as logger } from '${REPO}/src/log.ts';
    const base = buildConfig({ membership: ${JSON.stringify(SHORT_TIMERS)} }).membership;
    let clash = '';
    try {
      (await LiveMembership.open({ interfaces: ['lan0'], config: { ...base, multicastRouterSocket: true }, logger })).close();
    } catch (err) { clash = err.message; }
    const live = await LiveMembership.open({ interfaces: ['lan0'], config: base, logger });
    const queries = [];
    live.on('query', (q) => queries.push(q));
    await new Promise((r) => live.once('query', () => setImmediate(r)));
    const out = { clash, interfaces: live.interfaces().length, stats: live.stats(), dump: live.dump(), queries: queries.length };
    live.close();
    live.close();
    process.stdout.write(JSON.stringify(out));`;
  const res = JSON.parse(await headend.exec(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { timeoutMs: 15_000 })) as {
    clash: string; interfaces: number; stats: { engine: { queriesSent: number }; live: { queriesSent: number } }; dump: unknown[]; queries: number;
  };
  assert.match(res.clash, /membership\.multicastRouterSocket: .*MRT_INIT.*(in use|EADDRINUSE)/i);
  assert.equal(res.interfaces, 1);
  assert.ok(res.queries >= 1, 'startup queries reached a listener attached after open()');
  assert.ok(res.stats.live.queriesSent >= 1 && res.stats.engine.queriesSent >= 1);
  assert.deepEqual(res.dump, []);
});
