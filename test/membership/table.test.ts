/**
 * Every row of the RFC 9776 §6.4 / RFC 9777 §7.4 router state table
 * (PROTOCOLS.md §1), through the engine: each test sets up the old state,
 * applies one record, and checks the new state, its timers, and the queries
 * sent. Default timers: GMI 260 s, LMQI 1 s, LMQC 2, LMQT 2 s.
 * Immediate leave is off here so events follow router state alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildConfig } from '../../src/config.js';
import { parseAddr } from '../../src/membership/addr.js';
import { MembershipEngine } from '../../src/membership/engine.js';
import { outputToJson, record, sourceReport, type RecordName } from '../../src/membership/messages.js';
import type { EngineOutput } from '../../src/membership/types.js';

const G = 'ff0e::1234'; // any-source (not in ff30::/12)
const [S1, S2, S3] = ['2001:db8::1', '2001:db8::2', '2001:db8::3'];
const HOST = parseAddr('fe80::a');

function engine(): MembershipEngine {
  const cfg = buildConfig({ membership: { immediateLeave: false } }).membership;
  const e = new MembershipEngine(cfg);
  e.addInterface('lan0', { ipv6: parseAddr('fe80::100') }, 0);
  return e;
}

const send = (e: MembershipEngine, at: number, type: RecordName, sources: string[]) =>
  e.apply(at, 'lan0', HOST, sourceReport(record(type, G, sources)));

const queries = (out: EngineOutput[]) =>
  out.filter((o) => o.type === 'query').map((o) => {
    const j = outputToJson(o);
    return { group: j.group, sources: j.sources, suppress: j.suppress };
  });
const events = (out: EngineOutput[]) =>
  out.filter((o) => o.type === 'active' || o.type === 'idle').map((o) => `${o.type} ${outputToJson(o).source}`);

/** The group's row at `now`, without the host columns. */
function state(e: MembershipEngine, now: number) {
  const rows = e.dump(now);
  if (rows.length === 0) return undefined;
  const { mode, groupTimerMs, sources, blocked } = rows[0];
  return { mode, groupTimerMs, sources: Object.fromEntries(sources.map((s) => [s.address, s.timerMs])), blocked };
}

/** EXCLUDE(X = {S1}, Y = {S2}) at t = 1000, S1's timer and GT ending at 261000. */
function excludeX1Y2(): MembershipEngine {
  const e = engine();
  send(e, 1000, 'IS_IN', [S1]);
  send(e, 1000, 'IS_EX', [S1, S2]);
  assert.deepEqual(state(e, 1000), { mode: 'exclude', groupTimerMs: 260_000, sources: { [S1]: 260_000 }, blocked: [S2] });
  return e;
}

test('INC(A) + IS_IN(B) -> INC(A+B), (B)=GMI, no query', () => {
  const e = engine();
  assert.deepEqual(events(send(e, 0, 'IS_IN', [S1, S2])), [`active ${S1}`, `active ${S2}`]);
  const out = send(e, 1000, 'IS_IN', [S2, S3]);
  assert.deepEqual(events(out), [`active ${S3}`]);
  assert.deepEqual(queries(out), []);
  assert.deepEqual(state(e, 1000), { mode: 'include', groupTimerMs: 0, sources: { [S1]: 259_000, [S2]: 260_000, [S3]: 260_000 }, blocked: [] });
});

test('INC(A) + ALLOW(B) -> INC(A+B), (B)=GMI, no query', () => {
  const e = engine();
  send(e, 0, 'ALLOW', [S1]);
  const out = send(e, 500, 'ALLOW', [S1, S2]);
  assert.deepEqual(events(out), [`active ${S2}`]);
  assert.deepEqual(queries(out), []);
  assert.deepEqual(state(e, 500), { mode: 'include', groupTimerMs: 0, sources: { [S1]: 260_000, [S2]: 260_000 }, blocked: [] });
});

test('INC(A) + IS_EX(B) -> EXC(A*B, B-A), (B-A)=0, delete (A-B), GT=GMI, no query', () => {
  const e = engine();
  send(e, 0, 'IS_IN', [S1, S2]);
  const out = send(e, 1000, 'IS_EX', [S2, S3]);
  assert.deepEqual(queries(out), []);
  // '*' announced before the per-source entries go idle: the group never looks empty.
  assert.deepEqual(events(out), ['active *', `idle ${S1}`, `idle ${S2}`]);
  assert.deepEqual(state(e, 1000), { mode: 'exclude', groupTimerMs: 260_000, sources: { [S2]: 259_000 }, blocked: [S3] });
});

test('INC(A) + TO_EX(B) -> EXC(A*B, B-A), Q(G,A*B) lowers A*B to LMQT, LMQC times every LMQI', () => {
  const e = engine();
  send(e, 0, 'IS_IN', [S1, S2]);
  const out = send(e, 1000, 'TO_EX', [S2, S3]);
  assert.deepEqual(queries(out), [{ group: G, sources: [S2], suppress: false }]);
  assert.deepEqual(state(e, 1000), { mode: 'exclude', groupTimerMs: 260_000, sources: { [S2]: 2000 }, blocked: [S3] });
  assert.deepEqual(queries(e.advance(1999)), []);
  assert.deepEqual(queries(e.advance(2000)), [{ group: G, sources: [S2], suppress: false }]);
  // LMQC = 2: no third query; S2's timer runs out and it joins Y (EXCLUDE keeps it blocked).
  assert.deepEqual(e.advance(2999), []);
  assert.deepEqual(e.advance(3000), []);
  assert.deepEqual(state(e, 3000), { mode: 'exclude', groupTimerMs: 258_000, sources: {}, blocked: [S2, S3] });
});

test('INC(A) + TO_IN(B) -> INC(A+B), (B)=GMI, Q(G,A-B); A-B goes at LMQT (1999 ms nothing, 2000 ms idle)', () => {
  const e = engine();
  send(e, 0, 'IS_IN', [S1, S2]);
  const out = send(e, 10_000, 'TO_IN', [S2, S3]);
  assert.deepEqual(queries(out), [{ group: G, sources: [S1], suppress: false }]);
  assert.deepEqual(events(out), [`active ${S3}`]);
  assert.deepEqual(state(e, 10_000), { mode: 'include', groupTimerMs: 0, sources: { [S1]: 2000, [S2]: 260_000, [S3]: 260_000 }, blocked: [] });
  assert.deepEqual(queries(e.advance(10_999)), []);
  assert.deepEqual(queries(e.advance(11_000)), [{ group: G, sources: [S1], suppress: false }]);
  assert.deepEqual(e.advance(11_999), []);
  assert.deepEqual(events(e.advance(12_000)), [`idle ${S1}`]);
  assert.deepEqual(state(e, 12_000)?.sources, { [S2]: 258_000, [S3]: 258_000 });
});

test('INC(A) + BLOCK(B) -> INC(A), Q(G,A*B)', () => {
  const e = engine();
  send(e, 0, 'IS_IN', [S1, S2]);
  const out = send(e, 1000, 'BLOCK', [S2, S3]);
  assert.deepEqual(queries(out), [{ group: G, sources: [S2], suppress: false }]);
  assert.deepEqual(events(out), []);
  assert.deepEqual(state(e, 1000), { mode: 'include', groupTimerMs: 0, sources: { [S1]: 259_000, [S2]: 2000 }, blocked: [] });
});

test('EXC(X,Y) + IS_IN(A) -> EXC(X+A, Y-A), (A)=GMI', () => {
  const e = excludeX1Y2();
  const out = send(e, 2000, 'IS_IN', [S2, S3]);
  assert.deepEqual(queries(out), []);
  assert.deepEqual(events(out), []);
  assert.deepEqual(state(e, 2000), { mode: 'exclude', groupTimerMs: 259_000, sources: { [S1]: 259_000, [S2]: 260_000, [S3]: 260_000 }, blocked: [] });
});

test('EXC(X,Y) + ALLOW(A) -> EXC(X+A, Y-A), (A)=GMI', () => {
  const e = excludeX1Y2();
  const out = send(e, 2000, 'ALLOW', [S2]);
  assert.deepEqual(queries(out), []);
  assert.deepEqual(state(e, 2000), { mode: 'exclude', groupTimerMs: 259_000, sources: { [S1]: 259_000, [S2]: 260_000 }, blocked: [] });
});

test('EXC(X,Y) + IS_EX(A) -> EXC(A-Y, Y*A), (A-X-Y)=GMI, delete (X-A),(Y-A), GT=GMI', () => {
  const e = excludeX1Y2();
  send(e, 2000, 'IS_IN', [S3]); // X = {S1, S3}
  const out = send(e, 3000, 'IS_EX', [S2, S3, '2001:db8::4']);
  assert.deepEqual(queries(out), []);
  assert.deepEqual(state(e, 3000), {
    mode: 'exclude',
    groupTimerMs: 260_000,
    sources: { [S3]: 259_000, '2001:db8::4': 260_000 },
    blocked: [S2],
  });
});

test('EXC(X,Y) + TO_EX(A) -> EXC(A-Y, Y*A), (A-X-Y)=GT, Q(G,A-Y), GT=GMI', () => {
  const e = excludeX1Y2();
  const out = send(e, 11_000, 'TO_EX', [S1, S2, S3]);
  // A-Y = {S1, S3}: S1 from X, S3 new with the old group timer (250 s left), both lowered to LMQT.
  assert.deepEqual(queries(out), [{ group: G, sources: [S1, S3], suppress: false }]);
  assert.deepEqual(state(e, 11_000), { mode: 'exclude', groupTimerMs: 260_000, sources: { [S1]: 2000, [S3]: 2000 }, blocked: [S2] });
});

test('EXC(X,Y) + TO_EX(A): a new source takes the group timer as it was', () => {
  const e = excludeX1Y2();
  send(e, 2000, 'IS_IN', [S3]);
  const out = send(e, 11_000, 'TO_EX', [S2, S3, '2001:db8::4']);
  // A-Y = {S3, ::4}; ::4 got GT (250 s) before the query lowered it; S1 deleted.
  assert.deepEqual(queries(out), [{ group: G, sources: [S3, '2001:db8::4'], suppress: false }]);
  assert.deepEqual(state(e, 11_000)?.sources, { [S3]: 2000, '2001:db8::4': 2000 });
});

test('EXC(X,Y) + TO_IN(A) -> EXC(X+A, Y-A), (A)=GMI, Q(G,X-A), Q(G); GT at LMQT turns to INCLUDE', () => {
  const e = excludeX1Y2();
  const out = send(e, 2000, 'TO_IN', [S2]);
  assert.deepEqual(queries(out), [
    { group: G, sources: [], suppress: false },
    { group: G, sources: [S1], suppress: false },
  ]);
  assert.deepEqual(state(e, 2000), { mode: 'exclude', groupTimerMs: 2000, sources: { [S1]: 2000, [S2]: 260_000 }, blocked: [] });
  assert.deepEqual(queries(e.advance(3000)), [
    { group: G, sources: [], suppress: false },
    { group: G, sources: [S1], suppress: false },
  ]);
  assert.deepEqual(e.advance(3999), []);
  // Group timer expiry: INCLUDE with the sources still running (S2); S1 ran out too.
  assert.deepEqual(events(e.advance(4000)), [`active ${S2}`, 'idle *']);
  assert.deepEqual(state(e, 4000), { mode: 'include', groupTimerMs: 0, sources: { [S2]: 258_000 }, blocked: [] });
});

test('EXC(X,Y) + BLOCK(A) -> EXC(X+(A-Y), Y), (A-X-Y)=GT, Q(G,A-Y)', () => {
  const e = excludeX1Y2();
  const out = send(e, 2000, 'BLOCK', [S2, S3]);
  assert.deepEqual(queries(out), [{ group: G, sources: [S3], suppress: false }]);
  assert.deepEqual(events(out), []);
  assert.deepEqual(state(e, 2000), { mode: 'exclude', groupTimerMs: 259_000, sources: { [S1]: 259_000, [S3]: 2000 }, blocked: [S2] });
});

test('S flag: a retransmission is marked "suppress" for timers a report raised above LMQT', () => {
  const e = excludeX1Y2();
  send(e, 2000, 'TO_IN', [S2]); // Q(G) and Q(G,{S1}) owed twice
  // Another host still wants everything, and S1: group timer and S1 back to GMI.
  e.apply(2500, 'lan0', parseAddr('fe80::b'), sourceReport(record('IS_EX', G, [])));
  e.apply(2500, 'lan0', parseAddr('fe80::b'), sourceReport(record('ALLOW', G, [S1])));
  assert.deepEqual(queries(e.advance(3000)), [
    { group: G, sources: [], suppress: true },
    { group: G, sources: [S1], suppress: true },
  ]);
  assert.deepEqual(events(e.advance(4000)), []);
  assert.equal(state(e, 4000)?.mode, 'exclude');
});

test('S flag: sources above and below LMQT go in two queries', () => {
  const e = engine();
  send(e, 0, 'IS_IN', [S1, S2]);
  send(e, 1000, 'BLOCK', [S1, S2]);
  send(e, 1500, 'ALLOW', [S2]);
  assert.deepEqual(queries(e.advance(2000)), [
    { group: G, sources: [S2], suppress: true },
    { group: G, sources: [S1], suppress: false },
  ]);
  assert.deepEqual(events(e.advance(3000)), [`idle ${S1}`]);
});

test('group timer expiry in EXCLUDE with no running source deletes the group', () => {
  const e = engine();
  assert.deepEqual(events(send(e, 0, 'IS_EX', [S1])), ['active *']);
  assert.deepEqual(events(e.advance(259_999)), []);
  assert.deepEqual(events(e.advance(260_000)), ['idle *']);
  assert.deepEqual(e.dump(260_000), []);
});

test('source timer expiry: INCLUDE deletes the source, EXCLUDE blocks it', () => {
  const e = engine();
  send(e, 0, 'IS_IN', [S1]);
  send(e, 100_000, 'IS_IN', [S2]);
  assert.deepEqual(events(e.advance(260_000)), [`idle ${S1}`]);
  assert.deepEqual(state(e, 260_000)?.sources, { [S2]: 100_000 });
  const x = engine();
  send(x, 0, 'IS_IN', [S1]);
  send(x, 100_000, 'IS_EX', [S1]);
  x.advance(260_000);
  assert.deepEqual(state(x, 260_000), { mode: 'exclude', groupTimerMs: 100_000, sources: {}, blocked: [S1] });
});

test('a new Q(G,X) in the same ms as a retransmission does not repeat what just went out', () => {
  const e = engine();
  send(e, 0, 'IS_IN', [S1, S2]);
  send(e, 1000, 'BLOCK', [S1]);
  const out = send(e, 2000, 'BLOCK', [S1, S2]);
  // The retransmission for S1 fired first; the new action adds only S2 now.
  assert.deepEqual(queries(out), [
    { group: G, sources: [S1], suppress: false },
    { group: G, sources: [S2], suppress: false },
  ]);
  // S1 counted that send as one of its LMQC and ran out at 3000; S2 gets its second.
  assert.deepEqual(queries(e.advance(3000)), [{ group: G, sources: [S2], suppress: false }]);
  assert.deepEqual(queries(e.advance(10_000)), []);
});
