// TunerPool logic with its two edges faked: the dvblast process (lock and
// death are events the test fires) and dvblastctl (calls recorded, with the
// config file as dvblast would read it at that moment).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DvbTuning } from '../../../src/ingest/dvb/carrier.js';
import { DvbError, LockTimeoutError, NoFreeTunerError, type AcquireRequest } from '../../../src/ingest/dvb/pool.js';
import { setup } from './fakes.js';

const X: DvbTuning = { frequencyKhz: 11362000, polarisation: 'H', symbolRate: 22000000, system: 'DVBS2', fec: '2/3', modulation: 'PSK_8' };
const Y: DvbTuning = { ...X, frequencyKhz: 11494000 };
const Z: DvbTuning = { ...X, frequencyKhz: 12604000, polarisation: 'V' };
const output = { iface: 'lan0', ifindex: 6, ttl: 1, port: 5004 };
const req = (n: number, tuning = X, serviceId = 1000 + n): AcquireRequest => ({ group: `ff3e::${n}`, serviceId, tuning, output });

test('a second service on the same carrier reuses its dvblast: config rewritten, reload, no new process', async () => {
  const { pool, procs, calls, done } = setup();
  const a = await pool.acquire(req(1));
  assert.equal(procs.length, 1);
  assert.ok(procs[0]!.spec.args.includes('11362000'));
  const b = await pool.acquire(req(2));
  assert.equal(procs.length, 1, 'no second dvblast');
  assert.equal(a.adapter, 't0');
  assert.equal(b.carrier, '11362000H');
  assert.deepEqual(calls.map((c) => c.cmd), ['reload']);
  assert.equal(calls[0]!.conf, '[ff3e::1]:5004/ifindex=6/ttl=1\t1\t1001\n[ff3e::2]:5004/ifindex=6/ttl=1\t1\t1002\n');
  await pool.release(a);
  assert.equal(calls[1]!.cmd, 'reload');
  assert.equal(calls[1]!.conf, '[ff3e::2]:5004/ifindex=6/ttl=1\t1\t1002\n');
  assert.equal(procs[0]!.stopped, false);
  await pool.release(b);
  assert.equal(procs[0]!.stopped, true, 'last service: dvblast stopped through its supervisor');
  assert.deepEqual(pool.status().tuners, [{ name: 't0', kind: 'card', state: 'free' }]);
  await pool.release(b); // twice: nothing happens
  assert.equal(calls.length, 2);
  await pool.close();
  done();
});

test('no free tuner: refused with the carrier named, and recorded; free again after release', async () => {
  const { pool, done } = setup();
  const a = await pool.acquire(req(1));
  await assert.rejects(pool.acquire(req(2, Y)), (e: unknown) => e instanceof NoFreeTunerError && e.code === 'no-free-tuner' && /no free tuner for 11494000H/.test(e.message));
  assert.match(pool.status().errors[0]!.message, /no free tuner for 11494000H/);
  await pool.release(a);
  const b = await pool.acquire(req(2, Y));
  assert.equal(b.carrier, '11494000H');
  await pool.close();
  done();
});

test('tuners take only the carriers they are allowed; two tuners, two carriers', async () => {
  const { pool, procs, done } = setup({ adapters: [{ name: 'low', carriers: ['10700000-11700000H'] }, { name: 'any' }] });
  const z = await pool.acquire(req(1, Z));
  assert.equal(z.adapter, 'any', '12604000V is outside the range of "low"');
  const x = await pool.acquire(req(2, X));
  assert.equal(x.adapter, 'low');
  await assert.rejects(pool.acquire(req(3, Y)), /no free tuner for 11494000H \(11494000H DVBS2 22000000 2\/3 PSK_8\): every tuner allowed to tune it is busy/);
  assert.equal(procs.length, 2);
  assert.deepEqual(pool.status().tuners.map((t) => `${t.name}:${t.carrier}`), ['low:11362000H', 'any:12604000V']);
  await pool.close();
  done();
});

test('a carrier no tuner may take is refused as such', async () => {
  const { pool, done } = setup({ adapters: [{ name: 'low', carriers: ['10700000-11700000H'] }] });
  await assert.rejects(pool.acquire(req(1, Z)), (e: unknown) => e instanceof NoFreeTunerError && /12604000V .*: no tuner may tune it \(dvb\.adapters\[\]\.carriers\)/.test(e.message));
  await pool.close();
  done();
});

test('concurrent joins for one carrier start one dvblast; joins during the start wait for lock', async () => {
  const { pool, procs, calls, done } = setup({ autoLock: false });
  const p1 = pool.acquire(req(1));
  const p2 = pool.acquire(req(2));
  await new Promise((r) => setImmediate(r));
  assert.equal(procs.length, 1);
  assert.equal(pool.status().carriers[0]!.lock, 'waiting');
  procs[0]!.lock();
  const [a, b] = await Promise.all([p1, p2]);
  assert.equal(a.carrier, b.carrier);
  assert.equal(calls.filter((c) => c.cmd === 'reload').length, 1);
  await pool.close();
  done();
});

test('a carrier that never locks: LockTimeoutError, the tuner is free, waiting joins fail too', async () => {
  const { pool, procs, done } = setup({ autoLock: false });
  const p1 = pool.acquire(req(1));
  const p2 = pool.acquire(req(2));
  await new Promise((r) => setImmediate(r));
  procs[0]!.neverLocks();
  await assert.rejects(p1, (e: unknown) => e instanceof LockTimeoutError && /11362000H on tuner t0: no lock within 10000 ms/.test(e.message));
  await assert.rejects(p2, (e: unknown) => e instanceof DvbError);
  assert.equal(procs[0]!.stopped, true);
  assert.deepEqual(pool.status().tuners.map((t) => t.state), ['free']);
  assert.equal(pool.status().carriers.length, 0);
  await pool.close();
  done();
});

test('a failed reload undoes the change and says why; the other services stay', async () => {
  let fail = false;
  const { pool, calls, done } = setup({ failReload: () => fail });
  const a = await pool.acquire(req(1));
  fail = true;
  await assert.rejects(pool.acquire(req(2)), (e: unknown) => e instanceof DvbError && e.code === 'reload-failed' && /ff3e::2/.test(e.message));
  assert.deepEqual(pool.status().carriers[0]!.services.map((s) => s.group), [a.group]);
  assert.ok(pool.status().errors.some((e) => /cannot add ff3e::2/.test(e.message)));
  assert.equal(calls.at(-1)!.cmd, 'reload');
  await pool.close();
  done();
});

test('lost lock and restarts show in status and events; given up after the cap: tuner freed, groups named', async () => {
  const { pool, procs, done } = setup();
  const events: string[] = [];
  pool.on('lock', (e) => events.push(`lock ${e.locked}`));
  pool.on('restart', (e) => events.push(`restart ${e.attempt}`));
  pool.on('failed', (e) => events.push(`failed ${e.groups.join(',')}`));
  pool.on('lock', () => { throw new Error('a listener that throws breaks nothing'); });
  await pool.acquire(req(1));
  await pool.acquire(req(2));
  const p = procs[0]!;
  p.emit('lock', { locked: false, pid: p.pid! });
  assert.equal(pool.status().carriers[0]!.lock, 'lost');
  p.emit('exit', { pid: p.pid!, code: null, signal: 'SIGKILL', ours: false });
  p.emit('restart', { attempt: 1, delayMs: 500, reason: 'exited with signal SIGKILL' });
  assert.equal(pool.status().carriers[0]!.state, 'restarting');
  p.emit('spawn', { pid: 999, attempt: 2 });
  p.emit('lock', { locked: true, pid: 999 });
  assert.equal(pool.status().carriers[0]!.state, 'running');
  p.emit('failed', { reason: 'gave up after 10 restarts' });
  assert.deepEqual(events, ['lock true', 'lock false', 'restart 1', 'lock true', 'failed ff3e::1,ff3e::2']);
  assert.deepEqual(pool.status().tuners.map((t) => t.state), ['free']);
  assert.ok(pool.status().errors.some((e) => /died \(signal SIGKILL\)/.test(e.message)));
  assert.ok(pool.status().errors.some((e) => /given up: gave up after 10 restarts/.test(e.message)));
  await pool.close();
  done();
});

test('bad requests are refused naming the field; one group carries one service', async () => {
  const { pool, done } = setup();
  await assert.rejects(pool.acquire({ ...req(1), group: '2001:db8::1' }), /bad-request|not a multicast group/);
  await assert.rejects(pool.acquire({ ...req(1), serviceId: 0 }), /serviceId/);
  await pool.acquire(req(1));
  await assert.rejects(pool.acquire(req(1)), (e: unknown) => e instanceof DvbError && e.code === 'group-busy');
  await pool.close();
  await assert.rejects(pool.acquire(req(3)), /closed/);
  done();
});

test('sdt(): names from the carrier\'s SDT, cached; null for a service it does not list', async () => {
  const { pool, calls, done } = setup();
  const a = await pool.acquire(req(1));
  assert.deepEqual(await pool.sdt(a), { name: 'Alpha', provider: 'Lab' });
  assert.deepEqual(await pool.sdt(a), { name: 'Alpha', provider: 'Lab' });
  assert.equal(calls.filter((c) => c.cmd === 'sdt').length, 1);
  const b = await pool.acquire(req(2));
  assert.equal(await pool.sdt(b, 0), null);
  assert.deepEqual(pool.status().carriers[0]!.services[0], { group: 'ff3e::1', serviceId: 1001, iface: 'lan0', name: 'Alpha', provider: 'Lab' });
  await pool.close();
  done();
});

test('a service added while dvblast restarts is applied once the new dvblast locks', async () => {
  const { pool, procs, calls, done } = setup();
  await pool.acquire(req(1));
  const p = procs[0]!;
  p.emit('restart', { attempt: 1, delayMs: 100, reason: 'exited with code 1' });
  p.emit('spawn', { pid: 777, attempt: 2 });
  await pool.acquire(req(2));
  assert.equal(calls.filter((c) => c.cmd === 'reload').length, 0, 'no control socket to reload while restarting');
  p.emit('lock', { locked: true, pid: 777 });
  await new Promise((r) => setImmediate(r));
  const reloads = calls.filter((c) => c.cmd === 'reload');
  assert.equal(reloads.length, 1, 'the file changed after this dvblast read it: reload');
  assert.equal(reloads[0]!.conf, '[ff3e::1]:5004/ifindex=6/ttl=1\t1\t1001\n[ff3e::2]:5004/ifindex=6/ttl=1\t1\t1002\n');
  // A restart with nothing changed meanwhile needs no reload.
  p.emit('restart', { attempt: 2, delayMs: 100, reason: 'exited with code 1' });
  p.emit('spawn', { pid: 778, attempt: 3 });
  p.emit('lock', { locked: true, pid: 778 });
  await new Promise((r) => setImmediate(r));
  assert.equal(calls.filter((c) => c.cmd === 'reload').length, 1);
  await pool.close();
  done();
});
