/**
 * The querier (RFC 9776 §6.6.2, §6.7; RFC 9777 §7.6.2): startup and periodic
 * general queries, election by lowest address, Other Querier Present,
 * QRV/QQIC adoption, and `querier: false`.
 * Defaults: QI 125 s, startup interval 31.25 s x 2, OQPI 255 s.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildConfig } from '../../src/config.js';
import { parseAddr } from '../../src/membership/addr.js';
import { MembershipEngine } from '../../src/membership/engine.js';
import { outputToJson, query, record, sourceReport } from '../../src/membership/messages.js';
import type { EngineOutput } from '../../src/membership/types.js';

const OWN4 = parseAddr('192.0.2.100');

function engine(membership: Record<string, unknown> = {}, own: { ipv4?: string; ipv6?: string } = { ipv6: 'fe80::100' }) {
  const e = new MembershipEngine(buildConfig({ membership }).membership);
  const start = e.addInterface('lan0', { ipv4: own.ipv4 ? parseAddr(own.ipv4) : undefined, ipv6: own.ipv6 ? parseAddr(own.ipv6) : undefined }, 0);
  return { e, start };
}

const generals = (out: EngineOutput[]) =>
  out.filter((o) => o.type === 'query').map((o) => {
    const j = outputToJson(o);
    return `${j.group} v${j.version}`;
  });

test('startup: Startup Query Count general queries Startup Query Interval apart, then every QI', () => {
  const { e, start } = engine({}, { ipv4: '192.0.2.100', ipv6: 'fe80::100' });
  assert.deepEqual(generals(start), ['0.0.0.0 v3', ':: v2']);
  const q = start.find((o) => o.type === 'query');
  assert.deepEqual(q && q.type === 'query' && [q.maxRespMs, q.qrv, q.qqicS], [10_000, 2, 125]);
  assert.equal(e.nextDeadline(), 31_250);
  assert.deepEqual(generals(e.advance(31_249)), []);
  assert.deepEqual(generals(e.advance(31_250)), ['0.0.0.0 v3', ':: v2']);
  assert.deepEqual(generals(e.advance(156_249)), []);
  assert.deepEqual(generals(e.advance(156_250)), ['0.0.0.0 v3', ':: v2']);
  assert.deepEqual(generals(e.advance(281_250)), ['0.0.0.0 v3', ':: v2']);
  assert.equal(e.stats().queriesSent, 8);
});

test('a family without an own address never queries', () => {
  const { start } = engine({}, { ipv6: 'fe80::100' });
  assert.deepEqual(generals(start), [':: v2']);
});

test('election: a lower querier silences us; Other Querier Present later we resume', () => {
  const { e } = engine();
  e.apply(1000, 'lan0', parseAddr('fe80::1'), query({ proto: 'mld' }));
  assert.equal(e.isQuerier('lan0', 'mld'), false);
  // No startup query at 31.25 s, nothing periodic, until OQPI (255 s) after the last query heard.
  assert.deepEqual(generals(e.advance(255_999)), []);
  assert.deepEqual(generals(e.advance(256_000)), [':: v2']);
  assert.equal(e.isQuerier('lan0', 'mld'), true);
  assert.deepEqual(generals(e.advance(380_999)), []);
  assert.deepEqual(generals(e.advance(381_000)), [':: v2']);
});

test('election: the other querier keeps us quiet while it keeps querying', () => {
  const { e } = engine();
  const other = parseAddr('fe80::1');
  e.apply(1000, 'lan0', other, query({ proto: 'mld' }));
  e.apply(126_000, 'lan0', other, query({ proto: 'mld' }));
  assert.deepEqual(generals(e.advance(256_000)), []);
  assert.deepEqual(generals(e.advance(380_999)), []);
  assert.deepEqual(generals(e.advance(381_000)), [':: v2']);
});

test('election: higher addresses and the unspecified address (a snooping bridge) do not win', () => {
  const { e } = engine();
  e.apply(1000, 'lan0', parseAddr('fe80::200'), query({ proto: 'mld' }));
  e.apply(1000, 'lan0', parseAddr('::'), query({ proto: 'mld' }));
  assert.equal(e.isQuerier('lan0', 'mld'), true);
  assert.deepEqual(generals(e.advance(31_250)), [':: v2']);
});

test('IPv4 and IPv6 elect separately', () => {
  const { e } = engine({}, { ipv4: '192.0.2.100', ipv6: 'fe80::100' });
  e.apply(1000, 'lan0', parseAddr('192.0.2.1'), query({ proto: 'igmp' }));
  assert.equal(e.isQuerier('lan0', 'igmp'), false);
  assert.equal(e.isQuerier('lan0', 'mld'), true);
  assert.deepEqual(generals(e.advance(31_250)), [':: v2']);
});

test('QRV and QQIC adopted from the elected querier change GMI and Other Querier Present', () => {
  const { e } = engine({ immediateLeave: false });
  e.apply(0, 'lan0', parseAddr('fe80::1'), query({ proto: 'mld', qrv: 3, qqicS: 60 }));
  // GMI = 3 * 60 s + 10 s.
  e.apply(0, 'lan0', parseAddr('fe80::a'), sourceReport(record('IS_IN', 'ff3e::1', ['2001:db8::1'])));
  assert.equal(e.dump(0)[0].sources[0].timerMs, 190_000);
  // OQPI = 3 * 60 s + 5 s.
  assert.deepEqual(generals(e.advance(184_999)), []);
  const back = e.advance(185_000);
  assert.deepEqual(generals(back), [':: v2']);
  // Back as querier we speak with our own configured values again.
  const q = back.find((o) => o.type === 'query');
  assert.deepEqual(q && q.type === 'query' && [q.qrv, q.qqicS], [2, 125]);
});

test('a higher querier\'s QRV/QQIC are not adopted', () => {
  const { e } = engine({ immediateLeave: false });
  e.apply(0, 'lan0', parseAddr('fe80::200'), query({ proto: 'mld', qrv: 5, qqicS: 10 }));
  e.apply(0, 'lan0', parseAddr('fe80::a'), sourceReport(record('IS_IN', 'ff3e::1', ['2001:db8::1'])));
  assert.equal(e.dump(0)[0].sources[0].timerMs, 260_000);
});

test('querier: false never sends, leaves wait for the querier\'s query, which lowers our timers', () => {
  const { e, start } = engine({ querier: false, immediateLeave: false });
  assert.deepEqual(start, []);
  const G = 'ff3e::1';
  const S = '2001:db8::1';
  e.apply(0, 'lan0', parseAddr('fe80::a'), sourceReport(record('ALLOW', G, [S])));
  assert.deepEqual(e.apply(1000, 'lan0', parseAddr('fe80::a'), sourceReport(record('BLOCK', G, [S]))), []);
  assert.equal(e.dump(1000)[0].sources[0].timerMs, 259_000, 'a non-querier does not lower timers itself');
  // The querier's Q(G,S) with S clear lowers S to LMQT (RFC 9776 §6.6.1); with S set it does not.
  e.apply(1500, 'lan0', parseAddr('fe80::1'), query({ proto: 'mld', group: G, sources: [S], suppress: true }));
  assert.equal(e.dump(1500)[0].sources[0].timerMs, 258_500);
  e.apply(1500, 'lan0', parseAddr('fe80::1'), query({ proto: 'mld', group: G, sources: [S] }));
  assert.equal(e.dump(1500)[0].sources[0].timerMs, 2000);
  assert.deepEqual(e.advance(3500).map((o) => o.type), ['idle']);
  assert.equal(e.stats().queriesSent, 0);
  assert.equal(e.isQuerier('lan0', 'mld'), false);
});

test('our own query heard back is ignored', () => {
  const { e } = engine({}, { ipv4: '192.0.2.100' });
  e.apply(0, 'lan0', OWN4, query({ proto: 'igmp' }));
  assert.equal(e.isQuerier('lan0', 'igmp'), true);
  assert.equal(e.stats().ignored, 1);
});
