/**
 * Random traffic against invariants: the engine never throws on network
 * input, active/idle strictly alternate per (interface, group, source),
 * everything active at the end is what the table holds, the clock-driven
 * API never leaves work due, and limits hold. Seeded, so a failure repeats.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildConfig } from '../../src/config.js';
import { formatAddr, parseAddr } from '../../src/membership/addr.js';
import { encodeIgmp, encodeMld } from '../../src/membership/codec.js';
import { MembershipEngine } from '../../src/membership/engine.js';
import { legacyLeave, legacyReport, query, record, sourceReport, type RecordName } from '../../src/membership/messages.js';
import type { EngineOutput, MembershipMessage } from '../../src/membership/types.js';

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TYPES: RecordName[] = ['IS_IN', 'IS_EX', 'TO_IN', 'TO_EX', 'ALLOW', 'BLOCK'];

for (const immediateLeave of [true, false]) {
  test(`random traffic keeps the invariants (immediateLeave ${immediateLeave})`, () => {
    const rand = rng(immediateLeave ? 1 : 2);
    const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
    const cfg = buildConfig({
      membership: {
        immediateLeave,
        maxGroupsPerInterface: 6,
        maxSourcesPerGroup: 5,
        maxHostsPerInterface: 5,
        queryIntervalMs: 20_000,
        queryResponseIntervalMs: 2_000,
      },
    }).membership;
    const e = new MembershipEngine(cfg);
    const active = new Set<string>();
    let events = 0;
    const check = (outs: EngineOutput[]) => {
      for (const o of outs) {
        if (o.type !== 'active' && o.type !== 'idle') continue;
        events++;
        const key = `${o.iface} ${formatAddr(o.group)} ${o.source === '*' ? '*' : formatAddr(o.source)}`;
        if (o.type === 'active') {
          assert.ok(!active.has(key), `active twice: ${key}`);
          active.add(key);
        } else {
          assert.ok(active.delete(key), `idle without active: ${key}`);
        }
      }
    };
    check(e.addInterface('lan0', { ipv4: parseAddr('192.0.2.100'), ipv6: parseAddr('fe80::100') }, 0));
    const groups6 = ['ff0e::1', 'ff0e::2', 'ff3e::3', 'ff3e::4', 'ff02::fb', '2001:db8::9'];
    const groups4 = ['239.1.1.1', '239.1.1.2', '232.1.1.3', '224.0.0.251'];
    const sources6 = ['2001:db8::1', '2001:db8::2', '2001:db8::3', '2001:db8::4', '2001:db8::5', '2001:db8::6'];
    const sources4 = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6'];
    const hosts6 = ['fe80::1', 'fe80::a', 'fe80::b', 'fe80::c', 'fe80::d', 'fe80::e', 'fe80::f', '::'];
    const hosts4 = ['192.0.2.1', '192.0.2.10', '192.0.2.11', '192.0.2.12', '192.0.2.13', '192.0.2.14', '192.0.2.15', '0.0.0.0'];
    let now = 0;
    for (let i = 0; i < 20_000; i++) {
      now += Math.floor(rand() * rand() * 3000);
      const v6 = rand() < 0.5;
      const from = v6 ? pick(hosts6) : pick(hosts4);
      const groups = v6 ? groups6 : groups4;
      const sources = v6 ? sources6 : sources4;
      const r = rand();
      let msg: MembershipMessage;
      if (r < 0.75) {
        const recs = Array.from({ length: 1 + Math.floor(rand() * 3) }, () =>
          record(pick(TYPES), pick(groups), sources.filter(() => rand() < 0.3)));
        msg = sourceReport(...recs);
      } else if (r < 0.85) {
        msg = legacyReport(pick(groups), v6 ? 1 : pick([1, 2]));
      } else if (r < 0.93) {
        msg = legacyLeave(pick(groups));
      } else {
        const specific = rand() < 0.6;
        msg = query({
          proto: v6 ? 'mld' : 'igmp',
          group: specific ? pick(groups.filter((g) => !g.startsWith('2001'))) : undefined,
          sources: specific && rand() < 0.5 ? [pick(sources)] : [],
          suppress: rand() < 0.3,
          qrv: Math.floor(rand() * 4),
          qqicS: pick([0, 10, 30]),
        });
      }
      const to = parseAddr(v6 ? 'ff02::16' : '224.0.0.22');
      const fromKey = parseAddr(from);
      let payload: Buffer;
      try {
        payload = v6 ? encodeMld(msg, fromKey, to) : encodeIgmp(msg);
      } catch {
        continue; // e.g. a non-multicast group the encoder refuses
      }
      if (rand() < 0.05) payload = payload.subarray(0, Math.floor(rand() * payload.length)); // truncated
      check(e.receive(now, { iface: 'lan0', from: fromKey, to, payload }));
      if (rand() < 0.1) {
        check(e.advance(now));
        const next = e.nextDeadline();
        assert.ok(next === undefined || next > now, `work left due: ${next} <= ${now}`);
      }
    }
    check(e.advance(now));
    // The traffic did exercise the engine, not just its rejections.
    const stats = e.stats();
    assert.ok(events > 1000 && stats.records > 10_000 && stats.queriesSent > 1000 && stats.limitRefusals > 0, JSON.stringify({ events, ...stats }));
    const rows = e.dump(now);
    assert.ok(rows.length <= 6);
    for (const row of rows) {
      assert.ok(row.sources.length + row.blocked.length <= 5);
      assert.ok(row.subscribers >= row.hosts.length);
    }
    assert.ok(new Set(rows.flatMap((r) => r.hosts)).size <= 10, 'at most 5 hosts per family on the interface');
    // Everything still active belongs to a group the table holds.
    const groupsHeld = new Set(rows.map((r) => r.group));
    for (const key of active) assert.ok(groupsHeld.has(key.split(' ')[1]), `active without state: ${key}`);
    // Far in the future every timer has run out: all idle, table empty.
    check(e.advance(now + 10_000_000));
    assert.deepEqual(e.dump(now + 10_000_000), []);
    assert.deepEqual([...active], []);
  });
}

test('random bytes never throw and never create state', () => {
  const rand = rng(3);
  const e = new MembershipEngine(buildConfig({}).membership);
  e.addInterface('lan0', { ipv6: parseAddr('fe80::100') }, 0);
  for (let i = 0; i < 20_000; i++) {
    const payload = Buffer.from(Array.from({ length: Math.floor(rand() * 64) }, () => Math.floor(rand() * 256)));
    const v6 = rand() < 0.5;
    e.receive(i, { iface: 'lan0', from: parseAddr(v6 ? 'fe80::a' : '192.0.2.10'), to: parseAddr(v6 ? 'ff02::16' : '224.0.0.22'), payload });
  }
  assert.deepEqual(e.dump(20_000), []);
});
