// DVB failures for real (dvblast -D input as the carrier): a carrier that
// never locks, and one that loses lock for good. Each leaves a status entry,
// frees its tuner, and tells which groups lost their source.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, canUseNetns } from '../helpers/netns.js';
import { buildConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { LockTimeoutError, TunerPool, type TunerPoolEvents } from '../../src/ingest/dvb/pool.js';
import type { DvbTuning } from '../../src/ingest/dvb/carrier.js';
import { SERVICES, ifindex, pidAlive, startTsSource, waitFor } from '../ingest/dvb/lab.js';

const tuning: DvbTuning = { frequencyKhz: 11362000, polarisation: 'H', symbolRate: 22000000, system: 'DVBS2', fec: '2/3', modulation: 'PSK_8' };
const GROUP = 'ff3e:40:2001:db8:1:0:8001:3e9';

test('no lock, lost lock: refused or given up with a reason, tuner free again', { skip: !canUseNetns() && 'needs root and iproute2' }, async () => {
  const lab = new Lab();
  const runDir = mkdtempSync(join(tmpdir(), 'dvb-fail-'));
  let pool: TunerPool | undefined;
  try {
    const hd = await lab.netns('hd');
    const cl = await lab.netns('cl');
    await lab.veth(hd, 'lan0', cl, 'eth0');
    const cfg = buildConfig({ dvb: { runDir, lockTimeoutMs: 1000, adapters: [
      { name: 'silent', kind: 'udp', input: '127.0.0.1:41300/udp', carriers: ['11362000H'] },
      { name: 'lab0', kind: 'udp', input: '127.0.0.1:41301/udp', carriers: ['11494000H'] },
    ] } }).dvb;
    pool = new TunerPool({ config: cfg, logger: silentLogger, commandPrefix: ['ip', 'netns', 'exec', hd.name], backoff: { initialMs: 100, maxRestarts: 1 } });
    const output = { iface: 'lan0', ifindex: await ifindex(hd, 'lan0'), ttl: 1, port: 5004 };

    // Nothing arrives on the silent tuner's input: no lock within lockTimeoutMs.
    await assert.rejects(pool.acquire({ group: GROUP, serviceId: SERVICES.alpha.serviceId, tuning, output }), (e: unknown) =>
      e instanceof LockTimeoutError && /carrier 11362000H on tuner silent: no lock within 1000 ms/.test(e.message));
    assert.deepEqual(pool.status().tuners.map((t) => t.state), ['free', 'free']);
    assert.match(pool.status().errors[0]!.message, /no lock within 1000 ms/);

    // A carrier that locks, then goes silent for good: lost, restarted, given up.
    const source = startTsSource(hd, 41301);
    const events: Array<[keyof TunerPoolEvents, unknown]> = [];
    pool.on('lock', (e) => events.push(['lock', e.locked]));
    pool.on('restart', (e) => events.push(['restart', e.reason]));
    pool.on('failed', (e) => events.push(['failed', e.groups]));
    const h = await pool.acquire({ group: GROUP, serviceId: SERVICES.alpha.serviceId, tuning: { ...tuning, frequencyKhz: 11494000 }, output });
    const pid = pool.pidOf(h.carrier)!;
    source.kill('SIGKILL');
    await waitFor(() => pool!.status().carriers[0]?.lock === 'lost', 4000, 'lock lost in status');
    await waitFor(() => events.some(([e]) => e === 'failed'), 10_000, 'carrier given up');
    // Reported lost first, then restarted (retuned) for the silence, then given up at the cap.
    assert.deepEqual(events.map(([e]) => e), ['lock', 'lock', 'restart', 'failed']);
    assert.deepEqual(events.slice(0, 2).map(([, v]) => v), [true, false]);
    assert.match(String(events[2]![1]), /stalled/);
    assert.deepEqual(events[3], ['failed', [GROUP]]);
    assert.equal(pidAlive(pid), false);
    assert.deepEqual(pool.status().tuners.map((t) => t.state), ['free', 'free']);
    assert.ok(pool.status().errors.some((e) => e.carrier === '11494000H' && /given up/.test(e.message)));
    await pool.release(h); // stale handle: nothing to do, no throw
  } finally {
    await pool?.close();
    await lab.close();
    rmSync(runDir, { recursive: true, force: true });
  }
});
