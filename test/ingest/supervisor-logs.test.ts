// Every log line the supervisor writes about a child names its pid (issue 6:
// "pino logs carry the group, channel and pid on every line about them"),
// including the restart and the give-up lines, which come after the child
// has gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import pino from 'pino';
import { ChildSupervisor, type SupervisorEvents } from '../../src/ingest/supervisor.js';

test('restart and give-up lines carry the pid of the child that went', async () => {
  const lines: Array<{ msg?: string; pid?: number; group?: string }> = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, done) { for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l)); done(); } });
  const logger = pino({ level: 'debug' }, sink).child({ group: 'ff3e::1' });
  const s = new ChildSupervisor({
    name: 'test', logger, command: 'sh', args: ['-c', 'sleep 0.1; exit 7'],
    startupCheck: { kind: 'delay', ms: 50 },
    backoff: { initialMs: 10, factor: 1, maxMs: 10, maxRestarts: 2 },
  });
  const exits: Array<SupervisorEvents['exit'][0]> = [];
  s.on('exit', (e) => exits.push(e));
  const failed = once(s, 'failed');
  await s.start();
  await failed;
  await s.stop();

  const restarting = lines.filter((l) => l.msg === 'test restarting');
  const gaveUp = lines.filter((l) => /^gave up after 2 restarts/.test(l.msg ?? ''));
  assert.equal(restarting.length, 2, JSON.stringify(lines));
  assert.equal(gaveUp.length, 1, JSON.stringify(lines));
  // Each restart line names the child that just exited; the give-up line the last one.
  assert.deepEqual(restarting.map((l) => l.pid), exits.slice(0, 2).map((e) => e.pid));
  assert.equal(gaveUp[0]!.pid, exits[2]!.pid);
  for (const l of lines) {
    assert.equal(l.group, 'ff3e::1');
    if (/^test |^gave up/.test(l.msg ?? '')) assert.equal(typeof l.pid, 'number', `no pid on ${JSON.stringify(l)}`);
  }
});
