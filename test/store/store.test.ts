import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_PLAN_OPTIONS, Plan, macV4 } from '../../src/plan/plan.js';
import { openStore, StoreError, type Store } from '../../src/store/index.js';
import type { DirectoryEntry } from '../../src/directories/index.js';

const plan = (extra: Partial<typeof DEFAULT_PLAN_OPTIONS> & { prefix?: string } = {}) =>
  new Plan({ ...DEFAULT_PLAN_OPTIONS, prefix: '2001:db8:1::/64', ...extra });

const station = (id: string, name = `Station ${id}`): DirectoryEntry => ({
  externalId: id, name, kind: 'radio', url: `http://radio.example/${id}.mp3`, tags: ['test'],
});

function memStore(extra = {}): Store {
  return openStore(':memory:', { plan: plan(extra) });
}

const groupsByKey = (s: Store, dirId: number) =>
  new Map(s.channels.list({ directoryId: dirId }).map((c) => [c.externalId, c.group]));

test('re-syncs that reorder, drop and regain stations never move a group', () => {
  const s = memStore();
  const first = s.directories.sync('rb', 'radio-browser', 'a.json', ['a', 'b', 'c', 'd'].map((k) => station(k)));
  assert.equal(first.added, 4);
  const before = groupsByKey(s, first.directory.id);

  // reordered, b dropped, e new
  const second = s.directories.sync('rb', 'radio-browser', 'b.json', ['d', 'e', 'c', 'a'].map((k) => station(k)));
  assert.deepEqual([second.added, second.unchanged, second.missing], [1, 3, 1]);
  const missingB = s.channels.list({ directoryId: first.directory.id }).find((c) => c.externalId === 'b')!;
  assert.ok(missingB.missingSince, 'b is marked missing, not deleted');

  // b comes back, renamed, at the front
  const third = s.directories.sync('rb', 'radio-browser', 'c.json', [station('b', 'B renamed'), ...['e', 'a', 'd', 'c'].map((k) => station(k))]);
  assert.deepEqual([third.added, third.updated, third.missing], [0, 1, 0]);
  const after = groupsByKey(s, first.directory.id);
  for (const [key, group] of before) assert.equal(after.get(key), group, `station ${key} kept its group`);
  const b = s.channels.byGroup(before.get('b')!)!;
  assert.equal(b.name, 'B renamed');
  assert.equal(b.missingSince, undefined);
  // e took a fresh number, not one of the others'
  assert.equal(new Set(after.values()).size, 5);
  s.close();
});

test('a removed channel\'s number is never handed out again', () => {
  const s = memStore();
  const r = s.directories.sync('m', 'm3u', 'x', [station('a'), station('b')]);
  const b = s.channels.list({ directoryId: r.directory.id })[1];
  s.channels.remove(b.id);
  s.directories.sync('m', 'm3u', 'x', [station('a'), station('c')]);
  const c = s.channels.list({ directoryId: r.directory.id }).find((x) => x.externalId === 'c')!;
  assert.notEqual(c.group, b.group);
  assert.equal(s.plan.describe(c.serviceNumber).kind, 'radio');
  s.close();
});

test('byGroup finds a channel under any spelling, and resolve takes ids and numbers', () => {
  const s = memStore();
  const c = s.channels.add({ name: 'Tone', url: 'http://127.0.0.1:8000/tone.mp3' });
  assert.equal(c.group, 'ff3e:40:2001:db8:1:0:8000:1');
  assert.equal(s.channels.byGroup('ff3e:40:2001:db8:1:0:8000:1')?.id, c.id);
  assert.equal(s.channels.byGroup('FF3E:0040:2001:0db8:0001:0000:8000:0001')?.id, c.id);
  assert.equal(s.channels.byGroup('ff3e:40:2001:db8:1:0:8000:2'), undefined);
  assert.equal(s.channels.byGroup('garbage'), undefined);
  assert.equal(s.channels.resolve(String(c.id))?.id, c.id);
  assert.equal(s.channels.resolve('0x80000001')?.id, c.id);
  assert.equal(s.channels.resolve(String(0x8000_0001))?.id, c.id);
  assert.equal(s.channels.search('ton')[0]?.id, c.id);
  s.close();
});

test('DVB channels take their number from (carrier, service id); a clash is refused', () => {
  const s = memStore();
  const tuning = { frequencyKhz: 10_773_000, polarisation: 'H' as const, symbolRate: 22_000_000, system: 'DVBS2' as const, fec: '3/4', modulation: 'PSK_8' as const };
  const c = s.channels.add({ name: 'HD One', tuning, serviceId: 6940 });
  assert.equal(c.serviceNumber, s.plan.dvbNumber(10_773_000, 'H', 6940));
  assert.equal(c.kind, 'dvb');
  assert.throws(() => s.channels.add({ name: 'again', tuning, serviceId: 6940 }), (e: unknown) => e instanceof StoreError && e.code === 'conflict');
  assert.throws(() => s.channels.add({ name: 'off grid', tuning: { ...tuning, frequencyKhz: 10_773_100 }, serviceId: 1 }),
    (e: unknown) => e instanceof StoreError && e.field === 'tuning' && /grid/.test(e.message));
  assert.throws(() => s.channels.add({ name: 'bad fec', tuning: { ...tuning, fec: '3/9' }, serviceId: 1 }),
    (e: unknown) => e instanceof StoreError && e.field === 'tuning.fec');
  // the carrier is part of the group: an edit may not move it
  assert.throws(() => s.channels.update(c.id, { tuning: { ...tuning, frequencyKhz: 10_788_000 } }), (e: unknown) => e instanceof StoreError && e.field === 'tuning');
  assert.equal(s.channels.update(c.id, { tuning: { ...tuning, symbolRate: 23_000_000 } }).tuning?.symbolRate, 23_000_000);
  s.close();
});

test('admin input errors name the field', () => {
  const s = memStore();
  const field = (f: string) => (e: unknown) => e instanceof StoreError && e.field === f;
  assert.throws(() => s.channels.add({ name: '', url: 'http://x/' }), field('name'));
  assert.throws(() => s.channels.add({ name: 'x' }), field('url'));
  assert.throws(() => s.channels.add({ name: 'x', url: 'not a url' }), field('url'));
  assert.throws(() => s.channels.add({ name: 'x', url: 'http://x/', group: '10.0.0.1' }), field('group'));
  assert.throws(() => s.channels.update(999, { name: 'y' }), (e: unknown) => e instanceof StoreError && e.code === 'not-found');
  s.close();
});

test('IPv4 groups: assigned from the range, MAC twins skipped, collisions refused', () => {
  const s = memStore({ ipv4Ssm: '232.64.0.0/24' });
  const a = s.channels.add({ name: 'A', url: 'http://x/a' });
  assert.equal(a.groupV4, '232.64.0.1');
  // 239.64.0.2 shares its MAC (01:00:5e:40:00:02) with 232.64.0.2
  const b = s.channels.add({ name: 'B', url: 'http://x/b', groupV4: '239.64.0.2' });
  assert.equal(macV4(b.groupV4!), macV4('232.64.0.2'));
  const c = s.channels.add({ name: 'C', url: 'http://x/c' });
  assert.equal(c.groupV4, '232.64.0.3', 'the allocator skipped the MAC twin of B');
  assert.throws(() => s.channels.update(c.id, { groupV4: '233.192.0.1' }),
    (e: unknown) => e instanceof StoreError && e.code === 'conflict' && e.field === 'groupV4' && /MAC/.test(e.message));
  assert.throws(() => s.channels.add({ name: 'D', url: 'http://x/d', groupV4: '224.0.0.5' }), (e: unknown) => e instanceof StoreError && e.field === 'groupV4');
  assert.equal(s.channels.update(c.id, { groupV4: null }).groupV4, undefined);
  assert.equal(s.channels.byGroup('232.64.0.1')?.id, a.id);
  s.close();
});

test('static channels from the config are merged, updated and removed', () => {
  const s = memStore();
  assert.deepEqual(s.channels.upsertStatic([
    { group: 'ff3e:40:2001:db8:1:0:8000:1', name: 'Tone', url: 'http://127.0.0.1:8000/tone.mp3' },
    { group: 'ff3e::1234', name: 'Elsewhere', url: 'http://127.0.0.1:8000/b.mp3', codec: 'MP3' },
    { group: '239.5.5.5', name: 'IPv4 only', url: 'http://127.0.0.1:8000/c.mp3' },
  ]), { added: 3, updated: 0, removed: 0 });
  assert.equal(s.channels.byGroup('ff3e::1234')?.codec, 'MP3');
  const v4 = s.channels.byGroup('239.5.5.5')!;
  assert.match(v4.group, /^ff3e:40:2001:db8:1:0:/);
  assert.deepEqual(s.channels.upsertStatic([{ group: 'ff3e:40:2001:db8:1:0:8000:1', name: 'Tone 2', url: 'http://127.0.0.1:8000/tone.mp3' }]),
    { added: 0, updated: 1, removed: 2 });
  assert.equal(s.channels.byGroup('ff3e:40:2001:db8:1:0:8000:1')?.name, 'Tone 2');
  assert.throws(() => s.channels.upsertStatic([{ group: 'nope', name: 'x' }]), (e: unknown) => e instanceof StoreError && e.field === 'channels[0].group');
  s.close();
});

test('history: writes, reads newest first, filters by group, tolerates unknown channels', () => {
  const s = memStore();
  const c = s.channels.add({ name: 'Tone', url: 'http://x/t' });
  s.history.add({ group: c.group, event: 'start', listeners: 1, at: 1000 });
  s.history.add({ group: c.group, event: 'live', at: 2000 });
  s.history.add({ group: 'ff3e::99', channelId: 424242, event: 'refused', reason: 'no channel', at: 3000 });
  const all = s.history.recent(10);
  assert.deepEqual(all.map((h) => h.event), ['refused', 'live', 'start']);
  assert.equal(all[2].channelId, c.id, 'channel found from the group');
  assert.equal(all[0].channelId, undefined, 'unknown channel id stored as none');
  assert.deepEqual(s.history.recent(10, c.group).map((h) => h.at), [2000, 1000]);
  s.close();
});

test('a sync that fails half way changes nothing (one transaction)', () => {
  const s = memStore();
  s.directories.sync('d', 'm3u', 'x', [station('a')]);
  const poisoned = { ...station('z'), tags: [1n] as unknown as string[] }; // JSON.stringify throws on BigInt
  assert.throws(() => s.directories.sync('d', 'm3u', 'y', [station('b'), station('c'), poisoned]));
  assert.deepEqual(s.channels.list().map((c) => c.externalId), ['a']);
  assert.equal(s.directories.syncs(10).length, 1);
  s.close();
});

test('pinned channels are left alone by syncs', () => {
  const s = memStore();
  const r = s.directories.sync('d', 'm3u', 'x', [station('a')]);
  const a = s.channels.list({ directoryId: r.directory.id })[0];
  s.channels.update(a.id, { name: 'My name', pinned: true });
  s.directories.sync('d', 'm3u', 'x', [station('a', 'Directory name')]);
  assert.equal(s.channels.get(a.id)?.name, 'My name');
  s.close();
});

test('a file store persists, migrates once, and a new prefix renumbers groups but keeps numbers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'store-'));
  try {
    const path = join(dir, 'sub', 'headend.db');
    let s = openStore(path, { plan: plan() });
    const c = s.channels.add({ name: 'Tone', url: 'http://x/t' });
    s.channels.upsertStatic([{ group: 'ff3e::1234', name: 'Fixed', url: 'http://x/f' }, { group: 'ff3e:40:2001:db8:1:0:8000:99', name: 'In plan', url: 'http://x/p' }]);
    assert.equal(s.db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(s.db.pragma('foreign_keys', { simple: true }), 1);
    s.close();
    s.close(); // twice is fine
    s = openStore(path, { plan: plan({ prefix: '2001:db8:2::/64' }) });
    const moved = s.channels.get(c.id)!;
    assert.equal(moved.serviceNumber, c.serviceNumber);
    assert.equal(moved.group, 'ff3e:40:2001:db8:2:0:8000:1');
    assert.equal(s.channels.byGroup('ff3e::1234')?.name, 'Fixed', 'hand-written groups stay');
    assert.equal(s.channels.byGroup('ff3e:40:2001:db8:1:0:8000:99')?.name, 'In plan', 'config groups stay as written');
    assert.equal(s.db.pragma('user_version', { simple: true }), 1);
    assert.equal(s.db.pragma('integrity_check', { simple: true }), 'ok');
    s.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('directories: a name keeps its kind; numbers fit the plan', () => {
  const s = memStore({ directoryBits: 2 });
  s.directories.ensure('one', 'm3u');
  assert.throws(() => s.directories.ensure('one', 'opml'), (e: unknown) => e instanceof StoreError && e.code === 'conflict');
  s.directories.ensure('two', 'm3u'); // id 2 ('manual' is 0, 'one' 1)
  s.directories.ensure('three', 'm3u'); // id 3 = max for 2 bits
  assert.throws(() => s.directories.ensure('four', 'm3u'), (e: unknown) => e instanceof StoreError && /directoryBits/.test(e.message));
  assert.throws(() => s.directories.remove(0), (e: unknown) => e instanceof StoreError && /added by hand/.test(e.message));
  assert.equal(s.directories.remove(3), true);
  assert.equal(s.directories.get('three'), undefined);
  s.close();
});

test('a command without the daemon\'s config neither renumbers nor drops the config\'s channels', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'store-'));
  try {
    const { buildConfig } = await import('../../src/config.js');
    const { openStoreFromConfig } = await import('../../src/store/index.js');
    const path = join(dir, 'h.db');
    const daemonCfg = buildConfig({ database: path, plan: { prefix: '2001:db8:42::/64' }, channels: [{ group: 'ff3e::77', name: 'Static', url: 'http://x/s' }] });
    let s = openStoreFromConfig(daemonCfg);
    const c = s.channels.add({ name: 'Tone', url: 'http://x/t' });
    s.close();
    // `headend channel list --database h.db`: no prefix known, no static channels given
    s = openStoreFromConfig(buildConfig({ database: path }), { mergeStatic: false });
    assert.equal(s.plan.prefix, '2001:db8:42::/64');
    assert.equal(s.channels.get(c.id)?.group, 'ff3e:40:2001:db8:42:0:8000:1');
    assert.equal(s.channels.byGroup('ff3e::77')?.name, 'Static');
    s.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('session history never waits for another process\'s import: queued while locked, written after', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'store-'));
  try {
    const path = join(dir, 'h.db');
    const daemon = openStore(path, { plan: plan() });
    const importer = openStore(path, { plan: plan() });
    importer.db.exec('BEGIN IMMEDIATE'); // another writer holds the lock (as a long import does)
    daemon.history.add({ group: 'ff3e::1', event: 'start', at: 1 }); // would throw SQLITE_BUSY after 5 s if it waited
    daemon.history.add({ group: 'ff3e::1', event: 'live', at: 2 });
    assert.equal((importer.db.prepare('SELECT COUNT(*) AS n FROM session_history').get() as { n: number }).n, 0);
    importer.db.exec('COMMIT');
    const deadline = Date.now() + 5000;
    let rows = 0;
    while (Date.now() < deadline && rows < 2) {
      await new Promise((r) => setTimeout(r, 50));
      rows = (importer.db.prepare('SELECT COUNT(*) AS n FROM session_history').get() as { n: number }).n;
    }
    assert.equal(rows, 2);
    assert.deepEqual(daemon.history.recent(5).map((h) => h.event), ['live', 'start']);
    importer.close();
    daemon.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
