// DVB failures for real (dvblast -D input as the carrier): a carrier that
// never locks, and one that loses lock for good. Each leaves a status entry,
// frees its tuner, and tells which groups lost their source.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canUseNetns } from '../helpers/netns.js';
import { LockTimeoutError, type TunerPoolEvents } from '../../src/ingest/dvb/pool.js';
import { CARRIER_X, CARRIER_Y, SERVICES, pidAlive, startTsSource, waitFor, withDvbLab } from '../ingest/dvb/lab.js';

const GROUP = 'ff3e:40:2001:db8:1:0:8001:3e9';

test('no lock, lost lock: refused or given up with a reason, tuner free again', { skip: !canUseNetns() && 'needs root and iproute2' }, () => withDvbLab(
  { lockTimeoutMs: 1000, adapters: [
    { name: 'silent', kind: 'udp', input: '127.0.0.1:41300/udp', carriers: ['11362000H'] },
    { name: 'lab0', kind: 'udp', input: '127.0.0.1:41301/udp', carriers: ['11494000H'] },
  ] },
  { backoff: { initialMs: 100, maxRestarts: 1 } },
  async ({ hd, pool, output }) => {
    // Nothing arrives on the silent tuner's input: no lock within lockTimeoutMs.
    await assert.rejects(pool.acquire({ group: GROUP, serviceId: SERVICES.alpha.serviceId, tuning: CARRIER_X, output }), (e: unknown) =>
      e instanceof LockTimeoutError && /carrier 11362000H on tuner silent: no lock within 1000 ms/.test(e.message));
    assert.deepEqual(pool.status().tuners.map((t) => t.state), ['free', 'free']);
    assert.match(pool.status().errors[0]!.message, /no lock within 1000 ms/);

    // A carrier that locks, then goes silent for good: lost, restarted, given up.
    const source = startTsSource(hd, 41301);
    const events: Array<[keyof TunerPoolEvents, unknown]> = [];
    pool.on('lock', (e) => events.push(['lock', e.locked]));
    pool.on('restart', (e) => events.push(['restart', e.reason]));
    pool.on('failed', (e) => events.push(['failed', e.groups]));
    const h = await pool.acquire({ group: GROUP, serviceId: SERVICES.alpha.serviceId, tuning: CARRIER_Y, output });
    const pid = pool.pidOf(h.carrier)!;
    source.kill('SIGKILL');
    await waitFor(() => pool.status().carriers[0]?.lock === 'lost', 4000, 'lock lost in status');
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
  }));
