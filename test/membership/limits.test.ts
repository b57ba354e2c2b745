/**
 * Limits against a hostile host: groups per interface, sources per group,
 * hosts per interface. Over a limit the record is refused, counted, and
 * nothing changes; memory stays bounded however much is sent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildConfig } from '../../src/config.js';
import { parseAddr } from '../../src/membership/addr.js';
import { MembershipEngine } from '../../src/membership/engine.js';
import { outputToJson, record, sourceReport } from '../../src/membership/messages.js';
import type { EngineOutput } from '../../src/membership/types.js';

function engine(membership: Record<string, unknown>) {
  const e = new MembershipEngine(buildConfig({ membership: { querier: false, ...membership } }).membership);
  e.addInterface('lan0', { ipv6: parseAddr('fe80::100') }, 0);
  return e;
}
const reasons = (out: EngineOutput[]) => out.filter((o) => o.type === 'rejected').map((o) => outputToJson(o).reason as string);
const join = (e: MembershipEngine, at: number, host: string, group: string, sources: string[]) =>
  e.apply(at, 'lan0', parseAddr(host), sourceReport(record('ALLOW', group, sources)));

test('maxGroupsPerInterface: a new group over the limit is refused; known groups still update', () => {
  const e = engine({ maxGroupsPerInterface: 2 });
  join(e, 0, 'fe80::a', 'ff3e::1', ['2001:db8::1']);
  join(e, 0, 'fe80::a', 'ff3e::2', ['2001:db8::1']);
  const out = join(e, 0, 'fe80::a', 'ff3e::3', ['2001:db8::1']);
  assert.match(reasons(out)[0], /^limit groups: lan0 already has 2 groups/);
  assert.deepEqual(reasons(join(e, 0, 'fe80::a', 'ff3e::2', ['2001:db8::2'])), []);
  assert.equal(e.dump(0).length, 2);
  assert.equal(e.stats().limitRefusals, 1);
});

test('maxSourcesPerGroup: a record that would grow a group past the limit changes nothing', () => {
  const e = engine({ maxSourcesPerGroup: 3 });
  join(e, 0, 'fe80::a', 'ff3e::1', ['2001:db8::1', '2001:db8::2']);
  const out = join(e, 0, 'fe80::b', 'ff3e::1', ['2001:db8::3', '2001:db8::4']);
  assert.match(reasons(out)[0], /^limit sources: group ff3e::1 would keep 4 sources/);
  assert.deepEqual(e.dump(0)[0].hosts, ['fe80::a']);
  assert.equal(e.dump(0)[0].sources.length, 2);
  assert.match(reasons(join(e, 0, 'fe80::b', 'ff3e::9', ['1::1', '1::2', '1::3', '1::4']))[0], /^limit sources: record lists 4 sources/);
  assert.equal(e.dump(0).length, 1, 'the refused record created no group');
});

test('maxHostsPerInterface: a new host over the limit is refused; tracked hosts carry on', () => {
  const e = engine({ maxHostsPerInterface: 2 });
  join(e, 0, 'fe80::a', 'ff3e::1', ['2001:db8::1']);
  join(e, 0, 'fe80::b', 'ff3e::2', ['2001:db8::1']);
  assert.match(reasons(join(e, 0, 'fe80::c', 'ff3e::1', ['2001:db8::1']))[0], /^limit hosts: lan0 already tracks 2 hosts/);
  assert.deepEqual(reasons(join(e, 0, 'fe80::b', 'ff3e::1', ['2001:db8::1'])), []);
  assert.deepEqual(e.dump(0)[0].hosts, ['fe80::a', 'fe80::b']);
  assert.equal(e.stats().limitRefusals, 1);
});

test('a flood of distinct groups, sources and hosts stays within the limits', () => {
  const e = engine({ maxGroupsPerInterface: 16, maxSourcesPerGroup: 4, maxHostsPerInterface: 8 });
  let refused = 0;
  for (let i = 0; i < 2000; i++) {
    const host = `fe80::${(i % 50) + 1}`;
    const group = `ff3e::${(i % 40) + 1}`;
    refused += reasons(join(e, i, host, group, [`2001:db8::${i % 7}`])).length;
  }
  const rows = e.dump(2000);
  assert.ok(rows.length <= 16);
  const hosts = new Set(rows.flatMap((r) => r.hosts));
  assert.ok(hosts.size <= 8, `hosts ${hosts.size}`);
  for (const r of rows) assert.ok(r.sources.length <= 4);
  assert.equal(e.stats().limitRefusals, refused);
  assert.ok(refused > 0);
});
