// No orphans: a headend killed with -9 takes its children with it
// (setpriv --pdeathsig), and what still survives (grandchildren, or children
// started without pdeathsig) is killed by the pid-file registry at next start,
// never a process whose PID was reused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChildRegistry, findSetpriv, procStat } from '../../src/ingest/supervisor.js';
import { groupMembers, isAlive as alive, waitFor } from '../helpers/procs.js';

const SUPERVISOR = fileURLToPath(new URL('../../src/ingest/supervisor.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));


/** A node "headend" that supervises one child, prints its pid, then idles. */
function startParent(dir: string, pdeathsig: boolean, command: string, args: string[]): { parent: ChildProcess; childPid: Promise<number> } {
  const script = join(dir, 'parent.mts');
  writeFileSync(script, `
    import { ChildSupervisor, ChildRegistry } from ${JSON.stringify(SUPERVISOR)};
    import { silentLogger } from ${JSON.stringify(join(ROOT, 'src/log.ts'))};
    const registry = new ChildRegistry(${JSON.stringify(join(dir, 'children'))});
    const s = new ChildSupervisor({ name: 'victim', command: ${JSON.stringify(command)}, args: ${JSON.stringify(args)},
      logger: silentLogger, registry, pdeathsig: ${pdeathsig}, startupCheck: { kind: 'delay', ms: 100 } });
    await s.start();
    process.stdout.write(JSON.stringify({ pid: s.pid }) + '\\n');
    setInterval(() => {}, 1000);
  `);
  const parent = spawn(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const childPid = new Promise<number>((resolve, reject) => {
    let buf = '';
    parent.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve((JSON.parse(buf.slice(0, nl)) as { pid: number }).pid);
    });
    parent.once('exit', (code) => reject(new Error(`parent exited early with ${code}`)));
  });
  return { parent, childPid };
}

async function killParent(parent: ChildProcess): Promise<void> {
  const gone = new Promise((r) => parent.once('exit', r));
  parent.kill('SIGKILL');
  await gone;
}

test('kill -9 of the parent leaves no orphan (pdeathsig)', { skip: !findSetpriv() && 'setpriv not installed' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sup-orphan-'));
  const { parent, childPid } = startParent(dir, true, 'sleep', ['1000']);
  let pid = 0;
  try {
    pid = await childPid;
    assert.ok(alive(pid));
    await killParent(parent);
    await waitFor(`sleep ${pid} to die with its parent`, () => !alive(pid));
  } finally {
    if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
    if (parent.exitCode === null && parent.signalCode === null) parent.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('registry at next start kills leftover groups: a child without pdeathsig, and a grandchild whose leader died', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sup-reap-'));
  const leftovers: number[] = [];
  try {
    // 1. pdeathsig off: the supervised sleep survives its parent.
    const a = startParent(dir, false, 'sleep', ['1000']);
    const pidA = await a.childPid;
    // 2. pdeathsig on, but the leader (sh) forks a sleep that outlives it.
    const b = startParent(dir, true, 'sh', ['-c', 'sleep 1000 & wait']);
    const pidB = await b.childPid;
    await waitFor('the grandchild sleep', () => groupMembers(pidB).length === 2);
    const grandchild = groupMembers(pidB).find((p) => p !== pidB)!;
    await killParent(a.parent);
    await killParent(b.parent);
    await waitFor('sh to die with its parent', () => !alive(pidB));
    leftovers.push(pidA, grandchild);
    assert.ok(alive(pidA), 'without pdeathsig the child outlives a killed parent');
    assert.ok(alive(grandchild), 'the grandchild outlives its leader');

    const registry = new ChildRegistry(join(dir, 'children'));
    assert.equal(registry.list().length, 2);
    const killed = registry.reapLeftovers();
    assert.deepEqual(killed.sort(), [pidA, pidB].sort());
    await waitFor('leftovers to die', () => !alive(pidA) && !alive(grandchild));
    assert.deepEqual(registry.list(), []);
  } finally {
    for (const p of leftovers) if (alive(p)) process.kill(p, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('registry never kills a process whose PID was reused (start time differs)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sup-reuse-'));
  const bystander = spawn('sleep', ['1000'], { detached: true, stdio: 'ignore' });
  try {
    const pid = bystander.pid!;
    const st = procStat(pid)!;
    writeFileSync(join(dir, `${pid}.json`), JSON.stringify({ pid, pgid: st.pgrp, startTime: String(Number(st.startTime) - 1), name: 'old', command: 'sleep' }));
    writeFileSync(join(dir, 'garbage.json'), '{not json');
    const registry = new ChildRegistry(dir);
    assert.deepEqual(registry.reapLeftovers(), []);
    assert.ok(alive(pid), 'a reused PID is left alone');
    assert.deepEqual(readdirSync(dir), [], 'stale records are removed');
  } finally {
    bystander.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
