// `headend dvb status` against a stand-in headend API on loopback, and with
// none running.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DvbStatus } from '../../../src/ingest/dvb/pool.js';

const MAIN = new URL('../../../src/cli/main.ts', import.meta.url).pathname;

function headend(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', MAIN, ...args], { encoding: 'utf8', timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

const live: DvbStatus = {
  tuners: [{ name: 'sat0', kind: 'card', state: 'tuned', carrier: '11362000H' }, { name: 'sat1', kind: 'card', state: 'free' }],
  carriers: [{
    carrier: '11362000H', tuning: '11362000H DVBS2 22000000 2/3 PSK_8', adapter: 'sat0', pid: 4242, state: 'running', lock: 'locked',
    bitsPerSecond: 41_000_000, restarts: 1, since: '2026-11-22T16:00:00.000Z',
    services: [{ group: 'ff3e:40:2001:db8:1:0:8001:3e9', serviceId: 1001, iface: 'lan0', name: 'Das Erste HD', provider: 'ARD' }],
  }],
  errors: [{ at: '2026-11-22T16:01:00.000Z', carrier: '11362000H', adapter: 'sat0', message: 'lost lock: no TS packets for 1 s' }],
};

test('dvb status: the daemon\'s pool as text and JSON; not running: configured tuners and exit 1', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dvb-cli-'));
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(req.url === '/status' ? { channels: 3, live: { sessions: [], dvb: live } } : {}));
  });
  try {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const cfg = join(dir, 'headend.yaml');
    const adapters = '  adapters:\n    - { name: sat0 }\n    - { name: sat1, adapter: 1 }\n';
    writeFileSync(cfg, `api: { listen: "127.0.0.1:${port}" }\ndvb:\n${adapters}`);

    const json = await headend(['dvb', 'status', '--config', cfg, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const report = JSON.parse(json.stdout) as DvbStatus & { reachable: boolean };
    assert.equal(report.reachable, true);
    assert.deepEqual(report.carriers, live.carriers);

    const text = await headend(['dvb', 'status', '--config', cfg]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /sat0 +card tuned {2}11362000H/);
    assert.match(text.stdout, /11362000H DVBS2 22000000 2\/3 PSK_8 {2}tuner sat0 {2}pid 4242 {2}running, lock locked {2}41\.00 Mbit\/s/);
    assert.match(text.stdout, /sid 1001 +-> \[ff3e:40:2001:db8:1:0:8001:3e9\] {2}lan0 {2}"Das Erste HD" \(ARD\)/);
    assert.match(text.stdout, /lost lock: no TS packets/);

    await new Promise<void>((r) => server.close(() => r()));
    const down = await headend(['dvb', 'status', '--config', cfg, '--json', '--timeout', '500']);
    assert.equal(down.code, 1);
    const offline = JSON.parse(down.stdout) as DvbStatus & { reachable: boolean; note: string };
    assert.equal(offline.reachable, false);
    assert.match(offline.note, /headend not reachable at http:\/\/127\.0\.0\.1:\d+\/status/);
    assert.deepEqual(offline.tuners.map((t) => t.name), ['sat0', 'sat1']);

  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
