// ChildSupervisor with real child processes: startup failure vs later death,
// backoff, giving up, watchdog, process-group stop, stdin re-attachment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import {
  ChildSupervisor, ChildStartError, backoffDelay, procStat, type ChildSpec, type SupervisorEvents,
} from '../../src/ingest/supervisor.js';
import { silentLogger } from '../../src/log.js';
import { groupMembers, isAlive as alive, waitFor } from '../helpers/procs.js';

function sup(over: Partial<ChildSpec> & Pick<ChildSpec, 'command' | 'args'>): ChildSupervisor {
  return new ChildSupervisor({ name: 'test', logger: silentLogger, startupCheck: { kind: 'delay', ms: 50 }, ...over });
}

function record<K extends keyof SupervisorEvents>(s: ChildSupervisor, event: K): Array<SupervisorEvents[K][0]> {
  const out: Array<SupervisorEvents[K][0]> = [];
  s.on(event, ((arg: SupervisorEvents[K][0]) => out.push(arg)) as never);
  return out;
}

test('backoffDelay grows by factor and is capped', () => {
  const b = { initialMs: 500, maxMs: 30_000, factor: 2 };
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffDelay(n, b)), [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
});

test('start resolves once up; stop ends it with SIGTERM, is not a restart, and is safe twice', async () => {
  const s = sup({ command: 'sleep', args: ['1000'] });
  const exits = record(s, 'exit');
  const restarts = record(s, 'restart');
  await s.start();
  assert.equal(s.state, 'up');
  const pid = s.pid!;
  assert.ok(alive(pid));
  assert.equal(procStat(pid)!.pgrp, pid, 'child leads its own process group');
  await Promise.all([s.stop(), s.stop()]);
  await s.stop();
  assert.equal(s.state, 'stopped');
  assert.ok(!alive(pid));
  assert.deepEqual(exits, [{ pid, code: null, signal: 'SIGTERM', ours: true }]);
  assert.deepEqual(restarts, []);
});

test('a first start that exits early rejects with an error naming pid and name', async () => {
  const s = sup({ name: 'boom', command: 'sh', args: ['-c', 'echo broken >&2; exit 3'] });
  const lines = record(s, 'stderr');
  const failed = record(s, 'failed');
  const err = await s.start().then(() => null, (e: unknown) => e);
  assert.ok(err instanceof ChildStartError, String(err));
  assert.match(err.message, /^\[pid:\d+, name:boom\] did not start: exited with code 3$/);
  assert.equal(s.state, 'failed');
  assert.equal(failed.length, 1);
  assert.deepEqual(lines.map((l) => l.line), ['broken']);
  await s.stop();
});

test('a missing program is a startup failure, not a restart loop', async () => {
  const s = sup({ name: 'nope', command: 'no-such-program-here', args: [] });
  const restarts = record(s, 'restart');
  await assert.rejects(s.start(), (e: unknown) => e instanceof ChildStartError && /ENOENT/.test(e.message));
  assert.deepEqual(restarts, []);
});

test('a later death restarts with growing backoff, then fails after maxRestarts', async () => {
  const s = sup({
    command: 'sh', args: ['-c', 'sleep 0.1; exit 7'],
    backoff: { initialMs: 20, factor: 2, maxMs: 60, maxRestarts: 3 },
  });
  const restarts = record(s, 'restart');
  const spawns = record(s, 'spawn');
  const exits = record(s, 'exit');
  const failed = once(s, 'failed');
  await s.start(); // the first start is fine: it comes up, and only dies later
  const [{ reason }] = (await failed) as [{ reason: string }];
  assert.deepEqual(restarts, [
    { attempt: 1, delayMs: 20, reason: 'exited with code 7' },
    { attempt: 2, delayMs: 40, reason: 'exited with code 7' },
    { attempt: 3, delayMs: 60, reason: 'exited with code 7' },
  ]);
  assert.equal(spawns.length, 4);
  assert.ok(exits.every((e) => e.ours === false && e.code === 7));
  assert.match(reason, /gave up after 3 restarts/);
  assert.equal(s.state, 'failed');
  await s.stop();
});

test('the watchdog restarts a child whose stdout stalls', async () => {
  const s = sup({
    command: 'sh', args: ['-c', 'echo tick; sleep 1000'],
    stdout: 'pipe',
    startupCheck: { kind: 'stdout' },
    watchdog: { stallMs: 150, progress: 'stdout' },
    backoff: { initialMs: 10, maxRestarts: 5 },
  });
  const restarts = record(s, 'restart');
  const exits = record(s, 'exit');
  await s.start();
  const first = s.pid!;
  await waitFor('a restart', () => restarts.length >= 1);
  assert.match(restarts[0]!.reason, /^stalled: no stdout progress/);
  assert.equal(exits[0]!.pid, first);
  assert.equal(exits[0]!.ours, true);
  await waitFor('the second child up', () => s.state === 'up' && s.pid !== first);
  await s.stop();
});

test('a startup check that never passes kills the child and rejects', async () => {
  const s = sup({ command: 'sleep', args: ['1000'], startupCheck: { kind: 'stderr', match: (l) => l.includes('ready'), timeoutMs: 100 } });
  const err = await s.start().then(() => null, (e: unknown) => e);
  assert.ok(err instanceof ChildStartError);
  assert.match(err.message, /not up after 100 ms/);
});

test('a stderr line can mark the child up', async () => {
  const s = sup({ command: 'sh', args: ['-c', 'echo warming >&2; echo ready >&2; sleep 1000'], startupCheck: { kind: 'stderr', match: (l) => l === 'ready' } });
  await s.start();
  assert.equal(s.state, 'up');
  await s.stop();
});

test('stop kills the whole process group, SIGKILL after the grace period when SIGTERM is ignored', async () => {
  const s = sup({ command: 'sh', args: ['-c', 'trap "" TERM; sleep 1000 & sleep 1000 & wait'], stopGraceMs: 100 });
  const exits = record(s, 'exit');
  await s.start();
  const pgid = s.pid!;
  const members = (): number[] => groupMembers(pgid);
  await waitFor('two sleeps in the group', () => members().length === 3);
  const before = members();
  await s.stop();
  assert.equal(exits[0]!.signal, 'SIGKILL');
  await waitFor('the group to be empty', () => before.every((p) => !alive(p)));
});

test('stop while starting rejects the pending start with an error that names it', async () => {
  const s = sup({ name: 'slow', command: 'sleep', args: ['1000'], startupCheck: { kind: 'custom' } });
  const started = s.start().then(() => null, (e: unknown) => e);
  await waitFor('spawn', () => s.pid !== undefined);
  const pid = s.pid!;
  await s.stop();
  const err = await started;
  assert.ok(err instanceof ChildStartError);
  assert.equal(err.message, `[pid:${pid}, name:slow] did not start: stopped before it was up`);
  assert.ok(!alive(pid));
});

test('onSpawn attaches a fresh input to every restarted child', async () => {
  const got: string[] = [];
  const s = sup({
    command: 'sh', args: ['-c', 'read line; echo "got $line"; sleep 0.1; exit 1'],
    stdin: 'pipe', stdout: 'pipe',
    startupCheck: { kind: 'stdout' },
    backoff: { initialMs: 10, maxRestarts: 1 },
    onSpawn: (child, attempt) => {
      child.stdout!.on('data', (d: Buffer) => got.push(d.toString().trim()));
      child.stdin!.end(`a${attempt}\n`);
    },
  });
  const failed = once(s, 'failed');
  await s.start();
  await failed;
  assert.deepEqual(got, ['got a1', 'got a2']);
});

test('a throwing listener does not break the supervisor', async () => {
  const s = sup({ command: 'sleep', args: ['1000'] });
  s.on('up', () => { throw new Error('listener bug'); });
  await s.start();
  assert.equal(s.state, 'up');
  await s.stop();
});

/** Timers that fire only when the test moves the clock. */
class FakeClock {
  t = 0;
  private timers: Array<{ at: number; fn: () => void; id: number }> = [];
  private next = 1;
  now = (): number => this.t;
  setTimeout = (fn: () => void, ms: number): unknown => { const id = this.next++; this.timers.push({ at: this.t + ms, fn, id }); return id; };
  clearTimeout = (h: unknown): void => { this.timers = this.timers.filter((x) => x.id !== h); };
  advance(to: number): void {
    this.t = to;
    for (;;) {
      const due = this.timers.filter((x) => x.at <= this.t).sort((a, b) => a.at - b.at)[0];
      if (!due) return;
      this.clearTimeout(due.id);
      due.fn();
    }
  }
}

test('watchdog edge on an injected clock: 1999 ms of silence is fine, 2000 ms restarts', async () => {
  const clock = new FakeClock();
  const s = sup({
    command: 'sleep', args: ['1000'], clock,
    startupCheck: { kind: 'spawn' },
    watchdog: { stallMs: 2000, progress: 'custom' },
    backoff: { initialMs: 100, maxRestarts: 3 },
  });
  const restarts = record(s, 'restart');
  await s.start();
  const first = s.pid!;
  clock.advance(1000);
  s.progress(); // progress at 1000: the stall clock starts over
  clock.advance(2999);
  assert.deepEqual(restarts, []);
  assert.equal(s.state, 'up');
  clock.advance(3000);
  await waitFor('the stalled child to exit', () => restarts.length === 1);
  assert.deepEqual(restarts[0], { attempt: 1, delayMs: 100, reason: 'stalled: no custom progress for 2000 ms' });
  assert.equal(s.state, 'backoff');
  clock.advance(3099);
  assert.equal(s.state, 'backoff', 'no respawn before the backoff delay');
  clock.advance(3100);
  assert.equal(s.state, 'up');
  assert.notEqual(s.pid, first);
  await s.stop();
});

test('backoffFromConfig and ChildRegistry.fromConfig read the ingest section', async () => {
  const { buildConfig } = await import('../../src/config.js');
  const { backoffFromConfig, ChildRegistry } = await import('../../src/ingest/supervisor.js');
  const cfg = buildConfig({ database: '/var/lib/headend/h.db', ingest: { restartBackoffMs: 250, restartBackoffFactor: 1.5, maxRestarts: 4 } });
  assert.deepEqual(backoffFromConfig(cfg.ingest), { initialMs: 250, maxMs: 30_000, factor: 1.5, maxRestarts: 4, resetAfterMs: 30_000 });
  assert.equal(ChildRegistry.fromConfig(cfg).dir, '/var/lib/headend/children');
  assert.equal(ChildRegistry.fromConfig(buildConfig({ ingest: { stateDir: '/run/headend' } })).dir, '/run/headend');
  assert.throws(() => buildConfig({ ingest: { restartBackoffFactor: 0.5 } }), /ingest\.restartBackoffFactor/);
});

test('stop right after start of a missing program: the start is rejected as stopped, nothing restarts', async () => {
  const s = sup({ name: 'gone', command: 'no-such-program-here', args: [] });
  const failed = record(s, 'failed');
  const started = s.start().then(() => null, (e: unknown) => e);
  await s.stop();
  const err = await started;
  assert.ok(err instanceof ChildStartError);
  assert.match(err.message, /stopped before it was up/);
  await new Promise((r) => setImmediate(r));
  assert.equal(s.state, 'stopped');
  assert.deepEqual(failed, []);
});
