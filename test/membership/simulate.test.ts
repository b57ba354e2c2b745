/**
 * `headend simulate` as users run it: the real CLI, spawned, fed each trace
 * in fixtures/simulate/<name>.in.jsonl (with <name>.yaml as --config when
 * present), its stdout compared exactly with <name>.out.jsonl. The expected
 * outputs were checked by hand against RFC 9776/9777/4604; the comment line
 * at the top of each trace says what it shows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const DIR = join(ROOT, 'fixtures', 'simulate');

function simulate(input: string, args: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'simulate', ...args], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

const traces = readdirSync(DIR).filter((f) => f.endsWith('.in.jsonl')).map((f) => f.replace(/\.in\.jsonl$/, ''));

test('there are traces for SSM, ASM, a v2 host, an expiring host and the querier election', () => {
  assert.deepEqual(traces.sort(), ['asm-toex-toin', 'expiring-host', 'querier-election', 'ssm-join-leave', 'v2-host']);
});

for (const name of traces) {
  test(`simulate ${name} prints exactly the expected lines`, async () => {
    const config = join(DIR, `${name}.yaml`);
    const { code, stdout, stderr } = await simulate(readFileSync(join(DIR, `${name}.in.jsonl`), 'utf8'), existsSync(config) ? ['--config', config] : []);
    assert.equal(stderr, '');
    assert.equal(code, 0);
    assert.deepEqual(stdout.split('\n'), readFileSync(join(DIR, `${name}.out.jsonl`), 'utf8').split('\n'));
  });
}

test('simulate: dump rows have exactly the contract fields; bad lines do not stop the run', async () => {
  const { code, stdout } = await simulate([
    '{"at": 0, "iface": "lan0", "from": "fe80::a", "to": "ff02::16", "hex": "zz"}',
    '{"at": 10, "iface": "lan0", "from": "nowhere", "to": "ff02::16", "hex": "00"}',
    '[1, 2]',
    '{"at": -5}',
    '{"at": 20, "dump": "yes"}',
    '{"at": 30, "iface": "lan0"}',
    '{"at": 40, "dump": true}',
  ].join('\n'));
  assert.equal(code, 0);
  const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(lines.map((l) => l.reason ?? l.table), [
    'line 1: "hex" must be an even number of hex digits',
    'line 2: bad address "nowhere": not an IPv4 or IPv6 address',
    'line 3: not a JSON object',
    'line 4: "at" must be a number of ms >= 0, got -5',
    'line 5: "dump" must be true or false',
    'line 6: "iface", "from" and "to" need a "hex" message',
    [],
  ]);
  assert.deepEqual(lines.map((l) => Object.keys(l)), [...Array(6).fill(['at', 'event', 'reason']), ['at', 'table']]);
});

test('simulate: an unreadable config is one line on stderr and exit 2', async () => {
  const { code, stderr } = await simulate('', ['--config', join(DIR, 'no-such.yaml')]);
  assert.equal(code, 2);
  assert.match(stderr, /cannot read/);
});
