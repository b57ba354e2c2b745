/** `headend decode`, spawned as an admin would run it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';

interface Run { code: number; stdout: string; stderr: string }

function headend(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const fixture = (name: string) =>
  JSON.parse(readFileSync(`fixtures/membership/${name}.json`, 'utf8')) as { hex: string; from: string; to: string };

test('a captured MLDv2 report decodes to one JSON object, checksum verified with --from/--to', async () => {
  const f = fixture('mldv2-report-allow-ssm-join');
  // Spaced and colon-separated hex, as copied from tcpdump or Wireshark.
  const spaced = f.hex.match(/.{4}/g)!.join(' ');
  const r = await headend('decode', '--from', f.from, '--to', f.to, spaced);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.proto, 'mld');
  assert.equal(out.kind, 'report');
  assert.equal(out.checksum, 'ok');
  assert.deepEqual(out.records, [
    { type: 'ALLOW_NEW_SOURCES', typeNumber: 5, group: 'ff3e:40:2001:db8:1:0:8000:1', sources: ['2001:db8:1::1'], auxWords: 0 },
  ]);
});

test('without --from/--to the type byte picks the protocol and the MLD checksum is reported unverified', async () => {
  const mld = await headend('decode', fixture('mldv2-query-general').hex.match(/../g)!.join(':'));
  assert.equal(mld.code, 0, mld.stderr);
  const q = JSON.parse(mld.stdout);
  assert.equal(q.kind, 'query');
  assert.equal(q.version, 2);
  assert.match(q.checksum, /^not verified/);
  const igmp = await headend('decode', fixture('igmpv3-query-general').hex);
  assert.equal(JSON.parse(igmp.stdout).checksum, 'ok');
});

test('a truncated message exits 2 with one line naming offset and field', async () => {
  const r = await headend('decode', fixture('igmpv3-report-allow-ssm-join').hex.slice(0, 34));
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, 'headend decode: truncated at offset 16: record 1 source 1 needs 4 bytes, 1 left\n');
});

test('a wrong pseudo-header address exits 2 with a bad checksum line', async () => {
  const f = fixture('mldv1-done');
  const r = await headend('decode', '--from', f.from, '--to', 'ff02::1', f.hex);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^headend decode: bad checksum: 0x[0-9a-f]{4}, expected 0x[0-9a-f]{4}\n$/);
});
