/**
 * Per-host tracking in isolation: the host's own filter state as its
 * records change it, host ids and their reuse, the compact id table, and
 * expiry. (The engine tests cover how tracking drives active/idle.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildConfig } from '../../src/config.js';
import { parseAddr, type AddrKey } from '../../src/membership/addr.js';
import { HostRegistry, applyHostRecord, countListeners, expireHosts, forgetAllHosts, hostAddrs } from '../../src/membership/hosts.js';
import { IdTable } from '../../src/membership/idtable.js';
import { QuerierState } from '../../src/membership/querier.js';
import { GroupState } from '../../src/membership/table.js';
import { RecordType } from '../../src/membership/types.js';

const cfg = buildConfig({}).membership;
const [S1, S2, S3] = ['2001:db8::1', '2001:db8::2', '2001:db8::3'].map(parseAddr);
const [A, B] = [parseAddr('fe80::a'), parseAddr('fe80::b')];

function group(): GroupState {
  return new GroupState('lan0', parseAddr('ff0e::1'), false, new QuerierState('lan0', 'mld', undefined, cfg));
}
const apply = (g: GroupState, r: HostRegistry, host: AddrKey, type: RecordType, list: AddrKey[], expires = 1000) =>
  applyHostRecord(g, r, host, type, list, expires, 4);

test('a host\'s records change its own filter state as the host would', () => {
  const g = group();
  const r = new HostRegistry();
  apply(g, r, A, RecordType.ALLOW_NEW_SOURCES, [S1, S2]);
  assert.deepEqual([countListeners(g, S1, 0), countListeners(g, S2, 0), countListeners(g, '*', 0)], [1, 1, 0]);
  apply(g, r, A, RecordType.BLOCK_OLD_SOURCES, [S1]);
  assert.deepEqual([countListeners(g, S1, 0), countListeners(g, S2, 0)], [0, 1]);
  apply(g, r, A, RecordType.CHANGE_TO_EXCLUDE_MODE, [S3]);
  assert.deepEqual([countListeners(g, S2, 0), countListeners(g, S3, 0), countListeners(g, S1, 0), countListeners(g, '*', 0)], [1, 0, 1, 1]);
  apply(g, r, A, RecordType.ALLOW_NEW_SOURCES, [S3]); // EXCLUDE({S3}) - {S3}
  assert.equal(countListeners(g, S3, 0), 1);
  apply(g, r, A, RecordType.MODE_IS_INCLUDE, [S2]);
  assert.deepEqual([countListeners(g, '*', 0), countListeners(g, S2, 0), countListeners(g, S3, 0)], [0, 1, 0]);
  assert.equal(g.hostCount, 1);
  apply(g, r, A, RecordType.CHANGE_TO_INCLUDE_MODE, []);
  assert.equal(g.hostCount, 0);
  assert.equal(r.size, 0, 'a host in no group is forgotten by the interface');
});

test('counting: hosts, the untracked listener, ids reused after a host leaves', () => {
  const g = group();
  const r = new HostRegistry();
  apply(g, r, A, RecordType.MODE_IS_EXCLUDE, []);
  apply(g, r, B, RecordType.ALLOW_NEW_SOURCES, [S1]);
  g.untrackedUntil = 500;
  assert.deepEqual([countListeners(g, undefined, 0), countListeners(g, S1, 0)], [3, 3]);
  assert.deepEqual(hostAddrs(g, r).sort(), [A, B]);
  apply(g, r, A, RecordType.CHANGE_TO_INCLUDE_MODE, []);
  const idB = r.idOf(B);
  apply(g, r, parseAddr('fe80::c'), RecordType.MODE_IS_EXCLUDE, []);
  assert.notEqual(r.idOf(parseAddr('fe80::c')), idB);
  assert.equal(r.idOf(parseAddr('fe80::c')), 0, 'A\'s id went back to the pool');
  forgetAllHosts(g, r);
  assert.equal(r.size, 0);
});

test('a host excluding more than the limit is refused and unchanged', () => {
  const g = group();
  const r = new HostRegistry();
  apply(g, r, A, RecordType.CHANGE_TO_EXCLUDE_MODE, [S1, S2, S3]);
  const more = ['2001:db8::4', '2001:db8::5'].map(parseAddr);
  assert.equal(apply(g, r, A, RecordType.BLOCK_OLD_SOURCES, more), false);
  assert.equal(countListeners(g, more[0], 0), 1);
});

test('expiry forgets a membership exactly at its deadline, and only then walks the hosts', () => {
  const g = group();
  const r = new HostRegistry();
  apply(g, r, A, RecordType.ALLOW_NEW_SOURCES, [S1], 1000);
  apply(g, r, B, RecordType.MODE_IS_EXCLUDE, [], 2000);
  apply(g, r, A, RecordType.ALLOW_NEW_SOURCES, [S2], 3000);
  assert.equal(g.hostsDue, 1000);
  expireHosts(g, r, 999);
  assert.deepEqual([g.hostCount, countListeners(g, S1, 999)], [2, 2]);
  // A's interest in S1 lapses; A stays for S2; B (EXCLUDE({})) wants every source.
  expireHosts(g, r, 1000);
  assert.deepEqual([g.hostCount, countListeners(g, S1, 1000), countListeners(g, S2, 1000)], [2, 1, 2]);
  assert.equal(g.hostsDue, 2000);
  expireHosts(g, r, 3000);
  assert.deepEqual([g.hostCount, r.size, g.hostsDue], [0, 0, 0]);
});

test('IdTable keeps ids sorted through inserts, updates and deletes', () => {
  const t = new IdTable(2);
  const ref = new Map<number, number>();
  let seed = 7;
  for (let i = 0; i < 5000; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const id = seed % 300;
    if (seed % 3 === 0) assert.equal(t.delete(id), ref.delete(id));
    else {
      t.set(id, i);
      ref.set(id, i);
    }
  }
  assert.equal(t.size, ref.size);
  assert.deepEqual(t.keys(), [...ref.keys()].sort((a, b) => a - b));
  for (const [id, d] of ref) assert.equal(t.get(id), d);
  assert.equal(t.minDeadline(), Math.min(...ref.values()));
  const gone: number[] = [];
  t.removeDue(2500, (id) => gone.push(id));
  assert.deepEqual(gone.sort((a, b) => a - b), [...ref].filter(([, d]) => d <= 2500).map(([id]) => id).sort((a, b) => a - b));
  assert.equal(t.size, [...ref.values()].filter((d) => d > 2500).length);
});
