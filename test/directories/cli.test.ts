/**
 * The admin CLI end to end (real processes, a real database file), and the
 * crash guarantee: a headend killed -9 in the middle of an import loses
 * nothing that was committed before, and keeps no half of the import.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { syntheticRadioBrowser } from '../../src/directories/synthetic.js';
import { openStore } from '../../src/store/index.js';
import { DEFAULT_PLAN_OPTIONS, Plan } from '../../src/plan/plan.js';

const ROOT = join(import.meta.dirname, '../..');
const MAIN = join(ROOT, 'src/cli/main.ts');
const FIX = join(ROOT, 'fixtures/directories');

function headend(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, HEADEND_LOG_JSON: '1' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('dir import / channel / plan / export from the command line', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = join(dir, 'headend.yaml');
  writeFileSync(cfg, `database: ${join(dir, 'h.db')}\nplan: { prefix: "2001:db8:7::/64" }\napi: { listen: "127.0.0.1:8080" }\n`);
  const c = ['--config', cfg];

  let r = headend(['dir', 'import', 'm3u', join(FIX, 'channels.m3u'), '--name', 'demo', ...c]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /4 added/);
  assert.match(r.out, /skipped 1: #EXTINF without a URL/);

  r = headend(['dir', 'sync', 'demo', ...c]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /directory "demo": 0 added, 0 updated, 0 missing, 2 skipped/);

  r = headend(['dir', 'list', '--json', ...c]);
  assert.equal(JSON.parse(r.out).find((d: { name: string }) => d.name === 'demo').channels, 4);

  r = headend(['channel', 'list', '--json', ...c]);
  const channels = JSON.parse(r.out) as { id: number; group: string; name: string }[];
  assert.equal(channels.length, 4);
  assert.ok(channels.every((ch) => ch.group.startsWith('ff3e:40:2001:db8:7:0:')));

  r = headend(['channel', 'add', '--name', 'By hand', '--url', 'http://127.0.0.1:8000/x.mp3', '--tags', 'a,b', ...c]);
  assert.equal(r.code, 0, r.err);
  const added = JSON.parse(r.out);
  assert.equal(added.group, 'ff3e:40:2001:db8:7:0:8000:1');

  r = headend(['channel', 'add', '--name', 'DVB', '--tuning', '10773000 H 22000000 DVBS2 3/4 PSK_8', '--sid', '6940', ...c]);
  assert.equal(r.code, 0, r.err);
  r = headend(['channel', 'add', '--name', 'Bad', '--tuning', '10773000 H 22000000 DVBS2 3/9 PSK_8', '--sid', '1', ...c]);
  assert.equal(r.code, 2);
  assert.match(r.err, /^headend: --tuning: fec/);

  assert.equal(headend(['channel', 'disable', added.group, ...c]).code, 0);
  r = headend(['channel', 'search', 'hand', '--json', ...c]);
  assert.equal(JSON.parse(r.out)[0].enabled, false);
  r = headend(['channel', 'edit', String(added.id), '--name', 'Renamed', ...c]);
  assert.equal(JSON.parse(r.out).name, 'Renamed');
  assert.equal(headend(['channel', 'enable', String(added.id), ...c]).code, 0);

  r = headend(['plan', 'show', '0x80000001', ...c]);
  assert.deepEqual(JSON.parse(r.out).channel, { id: added.id, name: 'Renamed', enabled: true });
  r = headend(['plan', 'show', 'ff3e:40:2001:db8:7:0:c124:1b1c', ...c]);
  assert.deepEqual(JSON.parse(r.out).meaning, { kind: 'dvb', frequencyKhz: 10_773_000, polarisationBit: 0, polarisation: 'H/L', serviceId: 6940 });

  r = headend(['export', 'm3u', '--source', 'none', ...c]);
  assert.match(r.out, /^#EXTM3U\n/);
  assert.match(r.out, /#EXTINF:-1 tvg-id="sn80000001" tvg-name="Renamed"[^\n]*,Renamed\nrtp:\/\/@\[ff3e:40:2001:db8:7:0:8000:1\]:5004\n/);
  r = headend(['export', 'sdp', added.group, '--source', '2001:db8:7::1', ...c]);
  assert.match(r.out, /^v=0\r?\n/);
  assert.match(r.out, /a=source-filter: incl IN IP6 ff3e:40:2001:db8:7:0:8000:1 2001:db8:7::1/);
  assert.match(r.out, /m=audio 5004 RTP\/AVP 14/);

  r = headend(['channel', 'show', 'ff3e::dead', ...c]);
  assert.equal(r.code, 2);
  assert.match(r.err, /no channel ff3e::dead/);
  assert.equal(headend(['channel', 'remove', String(added.id), ...c]).code, 0);
  r = headend(['dir', 'import', 'm3u', join(FIX, 'html.m3u'), '--name', 'demo', ...c]);
  assert.equal(r.code, 2);
  assert.match(r.err, /not a M3U channel list/);
});

test('kill -9 mid-import: what was committed survives, the import leaves no half', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kill-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = join(dir, 'h.db');
  const small = join(dir, 'small.json');
  const big = join(dir, 'big.json');
  writeFileSync(small, syntheticRadioBrowser(500));
  const TOTAL = 100_000;
  writeFileSync(big, syntheticRadioBrowser(TOTAL, 1_000_000));
  const plan = new Plan({ ...DEFAULT_PLAN_OPTIONS, prefix: '2001:db8::/64' });

  assert.equal(headend(['dir', 'import', 'radio-browser', small, '--name', 'kept', '-d', db]).code, 0);
  let s = openStore(db, { plan });
  const before = s.channels.list().map((c) => `${c.externalId} ${c.group}`);
  s.close();
  assert.equal(before.length, 500);

  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'dir', 'import', 'radio-browser', big, '--name', 'big', '-d', db], {
    cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  // Kill once it is writing: a progress line past the start and before the end.
  const killedAt = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stderr.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /import: store (\d+)\/(\d+)/.exec(buf.split('\n').filter((l) => /import: store [1-9]/.test(l))[0] ?? '');
      if (m && Number(m[1]) < Number(m[2])) {
        child.kill('SIGKILL');
        resolve(m[0]);
      }
    });
    child.on('exit', () => reject(new Error(`import ended before it could be killed: ${buf}`)));
  });
  await exited;
  assert.match(killedAt, /import: store \d+\/100000/);

  s = openStore(db, { plan });
  try {
    assert.equal(s.db.pragma('integrity_check', { simple: true }), 'ok');
    assert.equal((s.db.pragma('foreign_key_check') as unknown[]).length, 0);
    assert.deepEqual(s.channels.list().map((c) => `${c.externalId} ${c.group}`), before, 'committed channels intact, none of the killed import');
    assert.equal(s.directories.get('big'), undefined);
    // and the store still works: the same import now completes
  } finally {
    s.close();
  }
  assert.equal(headend(['dir', 'import', 'radio-browser', small, '--name', 'kept', '-d', db]).code, 0);
});
