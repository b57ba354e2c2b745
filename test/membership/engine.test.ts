/**
 * The engine around the state table: older-version compatibility, SSM,
 * per-host tracking and immediate leave, strict framing, malformed input,
 * and the timer interface a live loop uses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildConfig } from '../../src/config.js';
import { parseAddr } from '../../src/membership/addr.js';
import { encodeIgmp, encodeMld } from '../../src/membership/codec.js';
import { MembershipEngine } from '../../src/membership/engine.js';
import { legacyLeave, legacyReport, outputToJson, record, sourceReport, type RecordName } from '../../src/membership/messages.js';
import type { EngineOutput, MembershipMessage } from '../../src/membership/types.js';

const OWN4 = parseAddr('192.0.2.100');
const OWN6 = parseAddr('fe80::100');
const [H1, H2] = [parseAddr('fe80::a'), parseAddr('fe80::b')];
const [V4H1, V4H2] = [parseAddr('192.0.2.10'), parseAddr('192.0.2.11')];
const S1 = '2001:db8::1';

function engine(membership: Record<string, unknown> = {}): MembershipEngine {
  const e = new MembershipEngine(buildConfig({ membership }).membership);
  e.addInterface('lan0', { ipv4: OWN4, ipv6: OWN6 }, 0);
  return e;
}

const lines = (out: EngineOutput[]) => out.map((o) => outputToJson(o));
const events = (out: EngineOutput[]) =>
  out.filter((o) => o.type === 'active' || o.type === 'idle').map((o) => `${o.type} ${outputToJson(o).group} ${outputToJson(o).source}`);
const groupQueries = (out: EngineOutput[]) =>
  lines(out).filter((j) => j.event === 'query' && j.group !== '::' && j.group !== '0.0.0.0');
const rejected = (out: EngineOutput[]) => lines(out).filter((j) => j.event === 'rejected').map((j) => j.reason as string);

function v3(e: MembershipEngine, at: number, from: string, type: RecordName, group: string, sources: string[] = []) {
  return e.apply(at, 'lan0', parseAddr(from), sourceReport(record(type, group, sources)));
}

// ---- compatibility (RFC 9776 §7.3.2, RFC 9777 §8.3.2) ----

test('an IGMPv2 report is IS_EX({}); its Leave is TO_IN({}) answered by an IGMPv2 Q(G)', () => {
  const e = engine({ immediateLeave: false });
  assert.deepEqual(events(e.apply(0, 'lan0', V4H1, legacyReport('239.1.1.1', 2))), ['active 239.1.1.1 *']);
  const row = e.dump(0)[0];
  assert.deepEqual([row.mode, row.groupTimerMs, row.hosts, row.subscribers], ['exclude', 260_000, [], 1]);
  const out = e.apply(5000, 'lan0', V4H1, legacyLeave('239.1.1.1'));
  assert.deepEqual(groupQueries(out), [{ event: 'query', iface: 'lan0', group: '239.1.1.1', sources: [], version: 2, suppress: false }]);
  assert.deepEqual(groupQueries(e.advance(6000)).length, 1);
  assert.deepEqual(events(e.advance(6999)), []);
  assert.deepEqual(events(e.advance(7000)), ['idle 239.1.1.1 *']);
  assert.deepEqual(e.dump(7000), []);
});

test('while an older host is present, BLOCK is ignored and TO_EX(x) is TO_EX({})', () => {
  const e = engine({ immediateLeave: false });
  e.apply(0, 'lan0', V4H2, legacyReport('239.1.1.1', 2));
  v3(e, 1000, '192.0.2.10', 'TO_EX', '239.1.1.1', ['10.0.0.1']);
  assert.deepEqual(e.dump(1000)[0].blocked, [], 'TO_EX({10.0.0.1}) treated as TO_EX({})');
  v3(e, 2000, '192.0.2.10', 'ALLOW', '239.1.1.1', ['10.0.0.2']);
  const out = v3(e, 3000, '192.0.2.10', 'BLOCK', '239.1.1.1', ['10.0.0.2']);
  assert.deepEqual(groupQueries(out), [], 'BLOCK ignored: no Q(G,S)');
  assert.deepEqual(e.dump(3000)[0].sources, [{ address: '10.0.0.2', timerMs: 259_000 }]);
  // Older Version Host Present = 260 s: after it, v3 rules again.
  e.apply(260_000, 'lan0', V4H1, sourceReport(record('IS_EX', '239.1.1.1', [])));
  const later = v3(e, 261_000, '192.0.2.10', 'TO_EX', '239.1.1.1', ['10.0.0.9']);
  // EXC(X,Y) + TO_EX(A) again: A-Y joins X with the group timer, and Q(G,A-Y) goes out.
  assert.deepEqual(e.dump(261_000)[0].sources, [{ address: '10.0.0.9', timerMs: 2000 }]);
  assert.deepEqual(groupQueries(later).map((q) => q.sources), [['10.0.0.9']]);
});

test('in IGMPv1 mode leaves are ignored; a v1 report sets the v1 host timer', () => {
  const e = engine({ immediateLeave: false });
  e.apply(0, 'lan0', V4H1, legacyReport('239.1.1.1', 1));
  const out = e.apply(1000, 'lan0', V4H1, legacyLeave('239.1.1.1'));
  assert.deepEqual(out, []);
  assert.equal(e.dump(1000)[0].groupTimerMs, 259_000);
  assert.equal(e.stats().ignored, 1);
});

test('MLDv1 report and Done: compatibility mode MLDv1, Q(G) sent as MLDv1', () => {
  const e = engine({ immediateLeave: false });
  e.apply(0, 'lan0', H1, legacyReport('ff0e::5'));
  const out = e.apply(1000, 'lan0', H1, legacyLeave('ff0e::5'));
  assert.deepEqual(groupQueries(out), [{ event: 'query', iface: 'lan0', group: 'ff0e::5', sources: [], version: 1, suppress: false }]);
  // A v1 listener answers the query: the group stays.
  e.apply(1500, 'lan0', H2, legacyReport('ff0e::5'));
  assert.deepEqual(groupQueries(e.advance(2000)), [{ event: 'query', iface: 'lan0', group: 'ff0e::5', sources: [], version: 1, suppress: true }]);
  assert.deepEqual(events(e.advance(10_000)), []);
  assert.equal(e.dump(10_000)[0].subscribers, 1);
});

// ---- SSM (RFC 4604) ----

test('SSM group: IS_EX/TO_EX ignored and counted, other records of the report still applied', () => {
  const e = engine({ ssmAnySourceJoins: 'ignore' });
  const msg = sourceReport(record('TO_EX', 'ff3e::1', []), record('ALLOW', 'ff3e::1', [S1]), record('IS_EX', 'ff3e::2', []));
  const out = e.apply(0, 'lan0', H1, msg);
  assert.deepEqual(events(out), [`active ff3e::1 ${S1}`]);
  assert.equal(rejected(out).length, 2);
  assert.match(rejected(out)[0], /^ssm: TO_EX for source-specific group ff3e::1/);
  assert.deepEqual(e.stats().rejected, { ssm: 2 });
  assert.deepEqual(e.dump(0).map((r) => r.group), ['ff3e::1']);
});

test('SSM group, default ssmAnySourceJoins accept: an any-source join is a listener on *, as ffmpeg sap:// sends it', () => {
  const e = engine();
  const join = e.apply(0, 'lan0', H1, sourceReport(record('TO_EX', 'ff3e::1', [])));
  assert.deepEqual(events(join), ['active ff3e::1 *']);
  assert.deepEqual(rejected(join), []);
  assert.equal(e.listeners('lan0', parseAddr('ff3e::1'), '*'), 1);
  assert.deepEqual(events(e.apply(1, 'lan0', H1, sourceReport(record('TO_IN', 'ff3e::1', [])))), ['idle ff3e::1 *']);
  assert.deepEqual(events(e.apply(2, 'lan0', V4H1, legacyReport('232.1.1.1', 2))), ['active 232.1.1.1 *']);
});

test('SSM group: older-version reports and leaves are ignored', () => {
  const e = engine({ ssmAnySourceJoins: 'ignore' });
  assert.match(rejected(e.apply(0, 'lan0', V4H1, legacyReport('232.1.1.1', 2)))[0], /^ssm: IGMPv2 report/);
  assert.match(rejected(e.apply(0, 'lan0', H1, legacyReport('ff3e::9')))[0], /^ssm: MLDv1 report/);
  assert.deepEqual(e.dump(0), []);
});

test('SSM join and leave: ALLOW{S} makes (S,G) active, BLOCK{S} idles it', () => {
  const e = engine({ immediateLeave: false });
  assert.deepEqual(events(v3(e, 0, 'fe80::a', 'ALLOW', 'ff3e::1', [S1])), [`active ff3e::1 ${S1}`]);
  const out = v3(e, 1000, 'fe80::a', 'BLOCK', 'ff3e::1', [S1]);
  assert.deepEqual(groupQueries(out), [{ event: 'query', iface: 'lan0', group: 'ff3e::1', sources: [S1], version: 2, suppress: false }]);
  assert.deepEqual(events(out), [], 'without immediate leave the RFC waits LMQT');
  assert.deepEqual(events(e.advance(2999)), []);
  assert.deepEqual(events(e.advance(3000)), [`idle ff3e::1 ${S1}`]);
});

// ---- per-host tracking and immediate leave ----

test('immediate leave: idle when the last tracked host leaves, the RFC query still sent', () => {
  const e = engine({ immediateLeave: true });
  v3(e, 0, 'fe80::a', 'ALLOW', 'ff3e::1', [S1]);
  v3(e, 0, 'fe80::b', 'ALLOW', 'ff3e::1', [S1]);
  assert.equal(e.listeners('lan0', parseAddr('ff3e::1'), parseAddr(S1)), 2);
  const first = v3(e, 1000, 'fe80::a', 'BLOCK', 'ff3e::1', [S1]);
  assert.deepEqual(events(first), []);
  assert.equal(groupQueries(first).length, 1);
  assert.deepEqual(e.dump(1000)[0].hosts, ['fe80::b']);
  assert.equal(groupQueries(e.advance(2000)).length, 1, 'the retransmission of the first BLOCK\'s query');
  const last = v3(e, 2500, 'fe80::b', 'BLOCK', 'ff3e::1', [S1]);
  assert.deepEqual(events(last), [`idle ff3e::1 ${S1}`]);
  assert.deepEqual(groupQueries(last), [{ event: 'query', iface: 'lan0', group: 'ff3e::1', sources: [S1], version: 2, suppress: false }]);
  // The router state still runs its course; nothing more is announced.
  assert.deepEqual(events(e.advance(10_000)), []);
  assert.deepEqual(e.dump(10_000), []);
});

test('immediate leave: a host answering the query brings the source back', () => {
  const e = engine({ immediateLeave: true });
  v3(e, 0, 'fe80::a', 'ALLOW', 'ff3e::1', [S1]);
  v3(e, 1000, 'fe80::a', 'BLOCK', 'ff3e::1', [S1]);
  assert.deepEqual(events(v3(e, 1500, 'fe80::c', 'IS_IN', 'ff3e::1', [S1])), [`active ff3e::1 ${S1}`]);
});

test('immediate leave on an ASM group: TO_IN({}) from the last host idles * at once', () => {
  const e = engine({ immediateLeave: true });
  v3(e, 0, 'fe80::a', 'TO_EX', 'ff0e::7');
  const out = v3(e, 1000, 'fe80::a', 'TO_IN', 'ff0e::7');
  assert.deepEqual(events(out), ['idle ff0e::7 *']);
  assert.equal(groupQueries(out).length, 1);
});

test('immediate leave waits for the untracked (v2) listener: a Leave still takes LMQT', () => {
  const e = engine({ immediateLeave: true });
  e.apply(0, 'lan0', V4H1, legacyReport('239.1.1.1', 2));
  v3(e, 0, '192.0.2.11', 'TO_EX', '239.1.1.1');
  v3(e, 1000, '192.0.2.11', 'TO_IN', '239.1.1.1');
  const out = e.apply(1000, 'lan0', V4H1, legacyLeave('239.1.1.1'));
  assert.deepEqual(events(out), []);
  assert.deepEqual(events(e.advance(2999)), []);
  assert.deepEqual(events(e.advance(3000)), ['idle 239.1.1.1 *']);
});

test('hosts are counted, listed, and forgotten GMI after their last report', () => {
  const e = engine({ immediateLeave: true });
  v3(e, 0, 'fe80::a', 'IS_EX', 'ff0e::7');
  v3(e, 100_000, 'fe80::b', 'IS_EX', 'ff0e::7');
  e.apply(100_000, 'lan0', H1, legacyReport('ff0e::7'));
  const row = e.dump(100_000)[0];
  assert.deepEqual([row.hosts, row.subscribers], [['fe80::a', 'fe80::b'], 3]);
  assert.equal(e.listeners('lan0', parseAddr('ff0e::7'), '*'), 3);
  e.advance(260_000);
  assert.deepEqual(e.dump(260_000)[0].hosts, ['fe80::b']);
  assert.deepEqual(events(e.advance(359_999)), []);
  assert.deepEqual(events(e.advance(360_000)), ['idle ff0e::7 *']);
  assert.deepEqual(e.dump(360_000), []);
  assert.equal(e.listeners('lan0', parseAddr('ff0e::7')), 0);
});

test('a report from :: / 0.0.0.0 counts as the untracked listener, not a host', () => {
  const e = engine();
  v3(e, 0, '0.0.0.0', 'IS_EX', '239.2.2.2');
  const row = e.dump(0)[0];
  assert.deepEqual([row.hosts, row.subscribers], [[], 1]);
});

test('link-scope groups (224.0.0.0/24, ff02::/16) keep no state; non-multicast groups are rejected', () => {
  const e = engine();
  assert.deepEqual(v3(e, 0, 'fe80::a', 'IS_EX', 'ff02::fb'), []);
  assert.deepEqual(v3(e, 0, '192.0.2.10', 'IS_EX', '224.0.0.251'), []);
  assert.match(rejected(v3(e, 0, 'fe80::a', 'IS_EX', '2001:db8::77'))[0], /^bad group: group 2001:db8::77 is not a multicast address/);
  assert.deepEqual(e.dump(0), []);
  assert.equal(e.stats().ignored, 2);
});

// ---- packets: decode errors, strict framing ----

const ALL_NODES = parseAddr('ff02::1');
const MLDV2 = parseAddr('ff02::16');

function mldPacket(msg: MembershipMessage, from = H1, to = MLDV2, extra: { ttl?: number; routerAlert?: boolean } = {}) {
  return { iface: 'lan0', from, to, payload: encodeMld(msg, from, to), ...extra };
}

test('receive decodes and applies a real MLDv2 report', () => {
  const e = engine();
  const out = e.receive(0, mldPacket(sourceReport(record('ALLOW', 'ff3e::1', [S1]))));
  assert.deepEqual(events(out), [`active ff3e::1 ${S1}`]);
  assert.deepEqual(e.stats().received, { 'mldv2 report': 1 });
});

test('malformed input is rejected, counted, and changes nothing', () => {
  const e = engine();
  e.receive(0, mldPacket(sourceReport(record('ALLOW', 'ff3e::1', [S1]))));
  const before = JSON.stringify(e.dump(1000));
  const good = mldPacket(sourceReport(record('BLOCK', 'ff3e::1', [S1])));
  const truncated = { ...good, payload: good.payload.subarray(0, good.payload.length - 3) };
  const badSum = { ...good, payload: Buffer.from(good.payload) };
  badSum.payload[2] ^= 0xff;
  const v4in6 = { ...good, to: parseAddr('224.0.0.22') };
  for (const pkt of [truncated, badSum, v4in6, { ...good, payload: Buffer.alloc(0) }]) {
    const out = e.receive(1000, pkt);
    assert.equal(out.length, 1);
    assert.equal(out[0].type, 'rejected');
  }
  assert.equal(JSON.stringify(e.dump(1000)), before);
  assert.deepEqual(e.stats().rejected, { malformed: 3, 'bad address': 1 });
  assert.match(rejected(e.receive(1000, truncated))[0], /^malformed: truncated at offset/);
  assert.match(rejected(e.receive(1000, { ...good, iface: 'eth9' }))[0], /^unknown interface: eth9/);
});

test('strict mode wants hop limit 1, Router Alert and ff02::16; lax mode takes what the kernel selftests send', () => {
  const msg = sourceReport(record('ALLOW', 'ff3e::1', [S1]));
  const lax = engine();
  assert.deepEqual(events(lax.receive(0, mldPacket(msg, H1, ALL_NODES))), [`active ff3e::1 ${S1}`]);
  const strict = engine({ strict: true });
  assert.match(rejected(strict.receive(0, mldPacket(msg, H1, MLDV2)))[0], /^strict: hop limit unknown, must be 1/);
  assert.match(rejected(strict.receive(0, mldPacket(msg, H1, MLDV2, { ttl: 1 })))[0], /^strict: no Router Alert/);
  assert.match(rejected(strict.receive(0, mldPacket(msg, H1, ALL_NODES, { ttl: 1, routerAlert: true })))[0], /^strict: destination ff02::1, must be ff02::16/);
  const global = parseAddr('2001:db8::99');
  assert.match(rejected(strict.receive(0, mldPacket(msg, global, MLDV2, { ttl: 1, routerAlert: true })))[0], /not link-local/);
  assert.deepEqual(strict.dump(0), []);
  assert.deepEqual(events(strict.receive(0, mldPacket(msg, H1, MLDV2, { ttl: 1, routerAlert: true }))), [`active ff3e::1 ${S1}`]);
  const v4 = { iface: 'lan0', from: V4H1, to: parseAddr('224.0.0.22'), ttl: 1, routerAlert: true, payload: encodeIgmp(legacyLeave('239.1.1.1')) };
  assert.match(rejected(strict.receive(0, v4))[0], /^strict: destination 224.0.0.22, must be 224.0.0.2/);
});

// ---- the live loop's interface ----

test('nextDeadline names the next due time; advance fires in time order', () => {
  const e = engine({ immediateLeave: false, querier: false });
  assert.equal(e.nextDeadline(), undefined);
  v3(e, 0, 'fe80::a', 'IS_IN', 'ff0e::1', [S1]);
  v3(e, 10, 'fe80::a', 'IS_IN', 'ff0e::2', [S1]);
  assert.equal(e.nextDeadline(), 260_000);
  assert.deepEqual(events(e.advance(300_000)), [`idle ff0e::1 ${S1}`, `idle ff0e::2 ${S1}`]);
  assert.equal(e.nextDeadline(), undefined);
});

test('removeInterface idles what was active', () => {
  const e = engine();
  v3(e, 0, 'fe80::a', 'IS_EX', 'ff0e::1');
  assert.deepEqual(events(e.removeInterface('lan0')), ['idle ff0e::1 *']);
  assert.equal(e.nextDeadline(), undefined);
});
