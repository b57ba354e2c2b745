/**
 * The supervisor every child process of the headend runs under (ffmpeg per
 * HTTP channel, dvblast per tuner). One supervisor owns ONE logical child and
 * restarts it; the child has one owner, one supervisor, one way to die.
 * Modelled on mediasoup's Worker: a startup failure is told apart from a later
 * death, exits we caused are not restarts, stderr goes line by line into the
 * logger, stop() is safe to call twice, and pending work is rejected with an
 * error that names the child.
 *
 * PUBLIC INTERFACE (stable; others build on it)
 *
 *   const sup = new ChildSupervisor({
 *     name: 'ffmpeg', command: 'ffmpeg', args: [...],
 *     logger: log.child({ group, channel }),
 *     stdin: 'pipe',                       // 'ignore' (default) | 'pipe'
 *     stdout: 'pipe',                      // 'ignore' (default) | 'pipe'
 *     startupCheck: { kind: 'stdout' },    // see StartupCheck
 *     watchdog: { stallMs: 10_000, progress: 'stdout' },
 *     backoff: { initialMs: 500, maxMs: 30_000, factor: 2, maxRestarts: 10 },
 *     registry,                            // optional ChildRegistry (pid files)
 *     onSpawn: (child, attempt) => body.pipe(child.stdin!),  // fresh input each time
 *   });
 *   sup.on('up', ({ pid }) => ...);
 *   await sup.start();    // resolves when the FIRST child is up; rejects (ChildStartError) if it is not
 *   sup.progress();       // watchdog: 'custom' progress signal from the owner
 *   sup.markUp();         // startupCheck 'custom': the owner says the child is up
 *   await sup.stop();     // SIGTERM to the process group, SIGKILL after stopGraceMs
 *
 *   Events (typed, see SupervisorEvents): spawn {pid, attempt}, up {pid, attempt},
 *   exit {pid, code, signal, ours}, restart {attempt, delayMs, reason},
 *   failed {reason}, stderr {pid, line}, stopped {}.
 *
 *   ChildRegistry(dir): pid files of running children; `reapLeftovers()` at
 *   daemon start kills the process groups a previous run (killed -9) left
 *   behind, after checking /proc/PID/stat start time (never a reused PID).
 *
 * No orphans: each child gets its own process group (detached: setsid), so
 * stop() signals the child and everything it forked; and it is spawned
 * through `setpriv --pdeathsig KILL --` (util-linux) so the kernel kills it
 * when the headend dies, even by SIGKILL. Grandchildren that outlive their
 * leader are caught by the registry at next start.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { accessSync, constants, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import type { HeadendConfig } from '../config.js';
import type { Logger } from '../log.js';

// ---------------------------------------------------------------- types

/**
 * How to decide the child is up. The waiting kinds fail after `timeoutMs`
 * (default 10 s). Default: `{ kind: 'delay', ms: 200 }`, because through
 * setpriv a bad command only shows as an early exit, not as a spawn error.
 */
export type StartupCheck =
  /** Up as soon as the process exists. */
  | { kind: 'spawn' }
  /** Up if still alive after `ms` (default, 200 ms). */
  | { kind: 'delay'; ms: number }
  /** Up at the first stdout byte (needs stdout: 'pipe'). */
  | { kind: 'stdout'; timeoutMs?: number }
  /** Up at the first stderr line for which `match` is true. */
  | { kind: 'stderr'; match: (line: string) => boolean; timeoutMs?: number }
  /** Up when the owner calls `markUp()`. */
  | { kind: 'custom'; timeoutMs?: number };

export interface Watchdog {
  /** Restart the child when no progress was seen for this long. */
  stallMs: number;
  /** What counts as progress: output on a stream, or `progress()` calls from the owner. */
  progress: 'stdout' | 'stderr' | 'custom';
}

export interface Backoff {
  initialMs: number;
  maxMs: number;
  factor: number;
  /** Consecutive restarts allowed before giving up ('failed'). */
  maxRestarts: number;
  /** A child that stayed up this long resets the restart count (default 30 s). */
  resetAfterMs: number;
}

export const DEFAULT_STARTUP_CHECK: StartupCheck = { kind: 'delay', ms: 200 };

export const DEFAULT_BACKOFF: Backoff = { initialMs: 500, maxMs: 30_000, factor: 2, maxRestarts: 10, resetAfterMs: 30_000 };

/** The restart policy from config (ingest.restartBackoff*, ingest.maxRestarts). */
export function backoffFromConfig(ingest: HeadendConfig['ingest']): Backoff {
  return {
    ...DEFAULT_BACKOFF,
    initialMs: ingest.restartBackoffMs,
    maxMs: ingest.restartBackoffMaxMs,
    factor: ingest.restartBackoffFactor,
    maxRestarts: ingest.maxRestarts,
  };
}

/** Timers, injectable for tests. */
export interface SupervisorClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: SupervisorClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface ChildSpec {
  /** Short name used in logs and errors ('ffmpeg', 'dvblast'). */
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** stdin: 'pipe' to feed the child (owner writes in onSpawn); default 'ignore'. */
  stdin?: 'pipe' | 'ignore';
  /** stdout: 'pipe' to read it (progress, startup check); default 'ignore'. */
  stdout?: 'pipe' | 'ignore';
  /** Child logger carrying group/channel; lines get `pid` added. */
  logger: Logger;
  /** pino level for the child's stderr lines (default 'info'). */
  stderrLevel?: 'trace' | 'debug' | 'info' | 'warn' | 'error';
  startupCheck?: StartupCheck;
  watchdog?: Watchdog;
  backoff?: Partial<Backoff>;
  /** Between SIGTERM and SIGKILL on stop (default 2000 ms). */
  stopGraceMs?: number;
  /** Pid files, so a later run can kill what a crashed run left. */
  registry?: ChildRegistry;
  /** Called after every spawn (first and restarts): attach a fresh input to child.stdin here. */
  onSpawn?: (child: ChildProcess, attempt: number) => void;
  /** Spawn through `setpriv --pdeathsig KILL` (default: when setpriv is installed). */
  pdeathsig?: boolean;
  clock?: SupervisorClock;
}

export type SupervisorState = 'idle' | 'starting' | 'up' | 'backoff' | 'stopping' | 'stopped' | 'failed';

export interface SupervisorEvents {
  spawn: [{ pid: number; attempt: number }];
  up: [{ pid: number; attempt: number }];
  /** `ours`: we sent the signal (stop, watchdog, startup timeout). */
  exit: [{ pid: number; code: number | null; signal: NodeJS.Signals | null; ours: boolean }];
  restart: [{ attempt: number; delayMs: number; reason: string }];
  failed: [{ reason: string }];
  stderr: [{ pid: number; line: string }];
  stopped: [];
}

/** The first start failed (did not come up); told apart from a later death. */
export class ChildStartError extends Error {
  constructor(readonly childName: string, readonly pid: number | undefined, readonly reason: string) {
    super(`[pid:${pid ?? 'none'}, name:${childName}] did not start: ${reason}`);
    this.name = 'ChildStartError';
  }
}

// ---------------------------------------------------------------- helpers

/** Delay before restart number `attempt` (1-based): initial * factor^(attempt-1), capped. */
export function backoffDelay(attempt: number, b: Pick<Backoff, 'initialMs' | 'maxMs' | 'factor'>): number {
  const raw = b.initialMs * Math.pow(b.factor, Math.max(0, attempt - 1));
  return Math.min(b.maxMs, Math.round(raw));
}

let warnedNoSetpriv = false;
let setprivPath: string | null | undefined;
/** Absolute path of util-linux setpriv, or null when it is not installed. */
export function findSetpriv(): string | null {
  if (setprivPath !== undefined) return setprivPath;
  setprivPath = null;
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(['/usr/bin', '/bin', '/usr/sbin', '/sbin']);
  for (const d of dirs) {
    if (!d) continue;
    try {
      accessSync(join(d, 'setpriv'), constants.X_OK);
      setprivPath = join(d, 'setpriv');
      break;
    } catch { /* next */ }
  }
  return setprivPath;
}

/** True when `command` names an executable file (directly, or through PATH). */
export function resolveCommand(command: string, env: NodeJS.ProcessEnv, cwd?: string): string | null {
  const candidates = command.includes('/')
    ? [cwd && !command.startsWith('/') ? join(cwd, command) : command]
    : (env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, command));
  for (const c of candidates) {
    try { accessSync(c, constants.X_OK); return c; } catch { /* next */ }
  }
  return null;
}

/** Splits a byte stream into lines (bounded, so a child cannot grow our memory). */
function lineSplitter(onLine: (line: string) => void, maxLine = 8192): (chunk: Buffer) => void {
  let rest = '';
  return (chunk) => {
    rest += chunk.toString('utf8');
    // ffmpeg ends progress lines with \r; treat it as a line end too.
    const parts = rest.split(/\r\n|\n|\r/);
    rest = parts.pop() ?? '';
    if (rest.length > maxLine) { parts.push(rest.slice(0, maxLine)); rest = ''; }
    for (const p of parts) if (p.length > 0) onLine(p.length > maxLine ? p.slice(0, maxLine) : p);
  };
}

// ---------------------------------------------------------------- registry

interface PidRecord { pid: number; pgid: number; startTime: string; name: string; command: string; startedAt: string }

/** Field 22 (starttime, clock ticks since boot) and field 5 (pgrp) of /proc/PID/stat. */
export function procStat(pid: number): { startTime: string; pgrp: number; sid: number; state: string } | null {
  let text: string;
  try { text = readFileSync(`/proc/${pid}/stat`, 'latin1'); } catch { return null; }
  // The command name (field 2) is in parentheses and may itself contain spaces or ')'.
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const f = text.slice(close + 2).split(' '); // f[0] is field 3 (state)
  if (f.length < 20) return null;
  return { state: f[0]!, pgrp: Number(f[2]), sid: Number(f[3]), startTime: f[19]! };
}

/**
 * Pid files of running children, one JSON file per child in `dir`. A run that
 * ends normally removes its files; a run killed with -9 leaves them, and the
 * next run's `reapLeftovers()` kills those process groups. A recorded PID is
 * only acted on when /proc/PID/stat still shows the recorded start time, so a
 * reused PID is never killed.
 */
export class ChildRegistry {
  constructor(readonly dir: string, private readonly logger?: Logger) {}

  /** Default place: a `children/` folder next to the database file. */
  static besideDatabase(databasePath: string, logger?: Logger): ChildRegistry {
    return new ChildRegistry(join(dirname(databasePath), 'children'), logger);
  }

  /** ingest.stateDir, or `children/` next to the database when that is empty. */
  static fromConfig(cfg: Pick<HeadendConfig, 'database' | 'ingest'>, logger?: Logger): ChildRegistry {
    return cfg.ingest.stateDir ? new ChildRegistry(cfg.ingest.stateDir, logger) : ChildRegistry.besideDatabase(cfg.database, logger);
  }

  record(pid: number, name: string, command: string): void {
    const st = procStat(pid);
    if (!st) return; // already gone
    const rec: PidRecord = { pid, pgid: st.pgrp, startTime: st.startTime, name, command, startedAt: new Date().toISOString() };
    try {
      mkdirSync(this.dir, { recursive: true });
      writeFileSync(join(this.dir, `${pid}.json`), JSON.stringify(rec) + '\n');
    } catch (err) {
      this.logger?.warn({ err, dir: this.dir }, 'cannot write child pid file');
    }
  }

  remove(pid: number): void {
    try { rmSync(join(this.dir, `${pid}.json`), { force: true }); } catch { /* nothing to do */ }
  }

  /** PIDs currently recorded (for tests and `status`). */
  list(): PidRecord[] {
    let files: string[];
    try { files = readdirSync(this.dir).filter((f) => /^\d+\.json$/.test(f)); } catch { return []; }
    const out: PidRecord[] = [];
    for (const f of files) {
      try { out.push(JSON.parse(readFileSync(join(this.dir, f), 'utf8')) as PidRecord); } catch { /* unreadable: dropped by reap */ }
    }
    return out;
  }

  /**
   * Kills what a previous run left behind and empties the registry. Returns
   * the process groups it signalled. Call once at start, before spawning.
   */
  reapLeftovers(): number[] {
    let files: string[];
    try { files = readdirSync(this.dir).filter((f) => f.endsWith('.json')); } catch { return []; }
    const killed: number[] = [];
    for (const f of files) {
      const file = join(this.dir, f);
      let rec: PidRecord | undefined;
      try { rec = JSON.parse(readFileSync(file, 'utf8')) as PidRecord; } catch { /* corrupt */ }
      rmSync(file, { force: true });
      if (!rec || !Number.isInteger(rec.pid) || rec.pid <= 1 || !Number.isInteger(rec.pgid) || rec.pgid <= 1) continue;
      const st = procStat(rec.pid);
      if (st && st.startTime === rec.startTime && st.pgrp === rec.pgid) {
        // The very process we started: kill its whole group.
        if (signalGroup(rec.pgid, 'SIGKILL')) killed.push(rec.pgid);
        this.logger?.warn({ pid: rec.pid, name: rec.name }, 'killed child left over by a previous run');
      } else if (!st) {
        // Leader gone. Members of its group may remain (a PGID is not reused
        // while any member lives); kill members of that group and session only.
        const members = groupMembers(rec.pgid);
        for (const pid of members) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
        if (members.length) {
          killed.push(rec.pgid);
          this.logger?.warn({ pgid: rec.pgid, name: rec.name, members }, 'killed leftover members of a dead child group');
        }
      }
      // else: PID reused by an unrelated process; leave it alone.
    }
    return killed;
  }
}

/** PIDs whose process group and session are both `pgid` (a setsid'ed group). */
function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = procStat(Number(name));
    if (st && st.pgrp === pgid && st.sid === pgid) out.push(Number(name));
  }
  return out;
}

function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try { process.kill(-pgid, signal); return true; } catch { return false; }
}

// ---------------------------------------------------------------- supervisor

/** Typed EventEmitter whose listeners cannot break the emitter by throwing. */
class SafeEmitter<E extends Record<keyof E, unknown[]>> extends EventEmitter {
  constructor(private readonly onListenerError: (event: string, err: unknown) => void) {
    super();
  }
  override on<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    return super.on(event, listener as (...a: unknown[]) => void);
  }
  override once<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    return super.once(event, listener as (...a: unknown[]) => void);
  }
  override off<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    return super.off(event, listener as (...a: unknown[]) => void);
  }
  protected fire<K extends keyof E & string>(event: K, ...args: E[K]): void {
    for (const l of this.rawListeners(event)) {
      try { (l as (...a: unknown[]) => void).apply(this, args); } catch (err) { this.onListenerError(event, err); }
    }
  }
}

export class ChildSupervisor extends SafeEmitter<SupervisorEvents> {
  private readonly spec: ChildSpec;
  private readonly backoff: Backoff;
  private readonly clock: SupervisorClock;
  private readonly log: Logger;
  private readonly usePdeathsig: boolean;
  private _state: SupervisorState = 'idle';
  private child: ChildProcess | null = null;
  private attempt = 0;
  /** Consecutive restarts since the child was last up for backoff.resetAfterMs. */
  private restarts = 0;
  private upAt = 0;
  private everUp = false;
  private ourKill = false;
  private startupTimer: unknown = null;
  private watchdogTimer: unknown = null;
  private backoffTimer: unknown = null;
  private killTimer: unknown = null;
  private lastProgress = 0;
  private pendingStart: { resolve: () => void; reject: (e: Error) => void } | null = null;
  private stopPromise: Promise<void> | null = null;
  private exited: Promise<void> = Promise.resolve();

  constructor(spec: ChildSpec) {
    super((event, err) => spec.logger.error({ err, event }, 'supervisor listener threw'));
    this.spec = spec;
    this.backoff = { ...DEFAULT_BACKOFF, ...spec.backoff };
    this.clock = spec.clock ?? realClock;
    this.log = spec.logger;
    this.usePdeathsig = spec.pdeathsig ?? findSetpriv() !== null;
    if (!this.usePdeathsig && spec.pdeathsig === undefined && !warnedNoSetpriv) {
      warnedNoSetpriv = true;
      spec.logger.warn('setpriv (util-linux) not found: children will outlive a headend killed with -9 until the next start reaps them');
    }
    if (spec.pdeathsig && !findSetpriv()) throw new Error('setpriv (util-linux) not found: cannot set the parent-death signal');
    if (spec.startupCheck?.kind === 'stdout' && spec.stdout !== 'pipe') throw new Error(`${spec.name}: startupCheck 'stdout' needs stdout: 'pipe'`);
    if (spec.watchdog?.progress === 'stdout' && spec.stdout !== 'pipe') throw new Error(`${spec.name}: watchdog on stdout needs stdout: 'pipe'`);
  }

  get state(): SupervisorState { return this._state; }
  /** PID of the running child, if any. */
  get pid(): number | undefined { return this.child?.pid; }
  /** The running child's stdin (when stdin: 'pipe'); a new stream after each restart. */
  get stdin(): NodeJS.WritableStream | null { return this.child?.stdin ?? null; }
  get stdout(): NodeJS.ReadableStream | null { return this.child?.stdout ?? null; }
  /** Total spawns so far (1 after the first start). */
  get spawns(): number { return this.attempt; }

  /** Starts the child; resolves when it is up, rejects with ChildStartError if the first start fails. */
  start(): Promise<void> {
    if (this._state !== 'idle') return Promise.reject(new Error(`[name:${this.spec.name}] start() called in state ${this._state}`));
    return new Promise<void>((resolve, reject) => {
      this.pendingStart = { resolve, reject };
      this.spawnChild();
    });
  }

  /** Watchdog 'custom': the owner saw progress. */
  progress(): void { this.lastProgress = this.clock.now(); }

  /** startupCheck 'custom': the owner decided the child is up. */
  markUp(): void { if (this._state === 'starting' && this.child?.pid) this.becomeUp(this.child.pid); }

  /** SIGTERM to the child's process group, SIGKILL after the grace period. Safe to call twice. */
  stop(): Promise<void> {
    if (this.stopPromise) return this.stopPromise;
    this.stopPromise = (async () => {
      this._state = 'stopping';
      this.clearTimer('backoffTimer');
      this.clearTimer('startupTimer');
      this.clearTimer('watchdogTimer');
      this.rejectPending(`stopped before it was up`);
      if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
        this.killChild('SIGTERM');
      }
      await this.exited;
      this.clearTimer('killTimer');
      this._state = 'stopped';
      this.fire('stopped');
    })();
    return this.stopPromise;
  }

  // ---------------------------------------------------------------- internals

  private spawnChild(): void {
    const { spec } = this;
    this.attempt += 1;
    const attempt = this.attempt;
    this._state = 'starting';
    this.ourKill = false;
    // Every stdio slot: 0 the owner's input (or nothing), 1 progress/startup
    // signal (or nothing), 2 always piped into the logger.
    const stdio: StdioOptions = [spec.stdin ?? 'ignore', spec.stdout ?? 'ignore', 'pipe'];
    const setpriv = this.usePdeathsig ? findSetpriv() : null;
    if (setpriv && !resolveCommand(spec.command, spec.env ?? process.env, spec.cwd)) {
      // Through setpriv a missing program would look like an early exit; say what it is.
      queueMicrotask(() => this.onChildGone(undefined, null, null, `spawn ${spec.command} ENOENT: not found or not executable`));
      this.child = null;
      return;
    }
    const [cmd, args] = setpriv
      ? [setpriv, ['--pdeathsig', 'KILL', '--', spec.command, ...spec.args]]
      : [spec.command, spec.args];
    let child: ChildProcess;
    try {
      // detached: setsid(), so the child leads its own process group and stop()
      // reaches everything it forks with one kill(-pgid).
      child = spawn(cmd, args, { stdio, env: spec.env ?? process.env, cwd: spec.cwd, detached: true });
    } catch (err) {
      this.onStartFailure(undefined, `spawn failed: ${(err as Error).message}`);
      return;
    }
    this.child = child;
    let resolveExited!: () => void;
    this.exited = new Promise<void>((r) => { resolveExited = r; });
    const pid = child.pid;
    let spawnError: Error | null = null;

    child.on('error', (err) => {
      // ENOENT/EACCES arrive here with no pid and no 'exit'.
      spawnError = err;
      if (pid === undefined) {
        this.child = null;
        resolveExited();
        this.onChildGone(undefined, null, null, `spawn failed: ${err.message}`);
      } else {
        this.log.warn({ err, pid }, `${spec.name} process error`);
      }
    });
    if (pid === undefined) return; // 'error' follows

    const log = this.log.child({ pid });
    const level = spec.stderrLevel ?? 'info';
    child.stderr?.on('data', lineSplitter((line) => {
      log[level]({ child: spec.name }, line);
      this.fire('stderr', { pid, line });
      if (spec.watchdog?.progress === 'stderr') this.lastProgress = this.clock.now();
      if (this._state === 'starting' && spec.startupCheck?.kind === 'stderr' && safeMatch(spec.startupCheck.match, line)) this.becomeUp(pid);
    }));
    child.stdout?.on('data', () => {
      if (spec.watchdog?.progress === 'stdout') this.lastProgress = this.clock.now();
      if (this._state === 'starting' && spec.startupCheck?.kind === 'stdout') this.becomeUp(pid);
    });
    // A child dying while we write its stdin gives EPIPE: expected, not fatal.
    child.stdin?.on('error', (err) => log.debug({ err }, 'child stdin closed'));
    child.stdout?.on('error', (err) => log.debug({ err }, 'child stdout error'));

    child.once('exit', (code, signal) => {
      const ours = this.ourKill;
      this.clearTimer('startupTimer');
      this.clearTimer('watchdogTimer');
      // Anything the child forked dies with it (no stray grandchildren).
      signalGroup(pid, 'SIGKILL');
      spec.registry?.remove(pid);
      if (this.child === child) this.child = null;
      log.info({ code, signal, ours }, `${spec.name} exited`);
      this.fire('exit', { pid, code, signal, ours });
      resolveExited();
      if (this._state === 'stopping' || this._state === 'stopped') return;
      this.onChildGone(pid, code, signal, ours && this.stallReason ? this.stallReason : `exited with ${signal ? `signal ${signal}` : `code ${code}`}`);
    });

    spec.registry?.record(pid, spec.name, spec.command);
    log.info({ attempt, command: spec.command }, `${spec.name} spawned`);
    this.fire('spawn', { pid, attempt });
    try {
      spec.onSpawn?.(child, attempt);
    } catch (err) {
      log.error({ err }, 'onSpawn threw');
    }
    if (spawnError) return;

    this.lastProgress = this.clock.now();
    this.stallReason = null;
    const check = spec.startupCheck ?? DEFAULT_STARTUP_CHECK;
    if (check.kind === 'spawn') {
      this.becomeUp(pid);
    } else if (check.kind === 'delay') {
      this.startupTimer = this.clock.setTimeout(() => { this.startupTimer = null; if (this.child === child) this.becomeUp(pid); }, check.ms);
    } else {
      const ms = check.timeoutMs ?? 10_000;
      this.startupTimer = this.clock.setTimeout(() => {
        this.startupTimer = null;
        if (this.child !== child || this._state !== 'starting') return;
        this.stallReason = `not up after ${ms} ms (startup check '${check.kind}')`;
        log.warn(this.stallReason);
        this.killChild('SIGKILL');
      }, ms);
    }
  }

  private stallReason: string | null = null;

  private becomeUp(pid: number): void {
    if (this._state !== 'starting') return;
    this.clearTimer('startupTimer');
    this._state = 'up';
    this.everUp = true;
    this.upAt = this.clock.now();
    this.lastProgress = this.upAt;
    this.log.info({ pid, attempt: this.attempt }, `${this.spec.name} up`);
    this.fire('up', { pid, attempt: this.attempt });
    if (this.pendingStart) {
      const p = this.pendingStart;
      this.pendingStart = null;
      p.resolve();
    }
    this.armWatchdog(pid);
  }

  private armWatchdog(pid: number): void {
    const wd = this.spec.watchdog;
    if (!wd) return;
    const check = (): void => {
      this.watchdogTimer = null;
      if (this._state !== 'up' || this.child?.pid !== pid) return;
      const idle = this.clock.now() - this.lastProgress;
      if (idle >= wd.stallMs) {
        this.stallReason = `stalled: no ${wd.progress} progress for ${idle} ms`;
        this.log.warn({ pid }, this.stallReason);
        this.killChild('SIGKILL');
        return;
      }
      this.watchdogTimer = this.clock.setTimeout(check, wd.stallMs - idle);
    };
    this.watchdogTimer = this.clock.setTimeout(check, wd.stallMs);
  }

  /** The child is gone without stop(): restart with backoff, or give up. */
  private onChildGone(pid: number | undefined, _code: number | null, _signal: NodeJS.Signals | null, reason: string): void {
    // stop() won the race (e.g. against a spawn error reported a tick later).
    if (this._state === 'stopping' || this._state === 'stopped') return;
    if (!this.everUp) {
      this.onStartFailure(pid, reason);
      return;
    }
    if (this._state === 'up' && this.clock.now() - this.upAt >= this.backoff.resetAfterMs) this.restarts = 0;
    if (this.restarts >= this.backoff.maxRestarts) {
      this._state = 'failed';
      const why = `gave up after ${this.restarts} restarts; last: ${reason}`;
      this.log.error({ pid, reason }, why);
      this.fire('failed', { reason: why });
      return;
    }
    this.restarts += 1;
    const delayMs = backoffDelay(this.restarts, this.backoff);
    this._state = 'backoff';
    // The pid is the child that just went: the next one logs its own on spawn.
    this.log.warn({ pid, attempt: this.restarts, delayMs, reason }, `${this.spec.name} restarting`);
    this.fire('restart', { attempt: this.restarts, delayMs, reason });
    this.backoffTimer = this.clock.setTimeout(() => {
      this.backoffTimer = null;
      if (this._state === 'backoff') this.spawnChild();
    }, delayMs);
  }

  private onStartFailure(pid: number | undefined, reason: string): void {
    this._state = 'failed';
    this.log.error({ pid, reason }, `${this.spec.name} did not start`);
    this.fire('failed', { reason: `did not start: ${reason}` });
    const p = this.pendingStart;
    this.pendingStart = null;
    p?.reject(new ChildStartError(this.spec.name, pid, reason));
  }

  private rejectPending(reason: string): void {
    const p = this.pendingStart;
    if (!p) return;
    this.pendingStart = null;
    p.reject(new ChildStartError(this.spec.name, this.child?.pid, reason));
  }

  private killChild(first: NodeJS.Signals): void {
    const child = this.child;
    if (!child?.pid) return;
    this.ourKill = true;
    const pid = child.pid;
    // Negative pid: the whole process group the child leads.
    if (!signalGroup(pid, first)) { try { child.kill(first); } catch { /* gone */ } }
    if (first !== 'SIGKILL') {
      this.clearTimer('killTimer');
      this.killTimer = this.clock.setTimeout(() => {
        this.killTimer = null;
        if (child.exitCode === null && child.signalCode === null) {
          this.log.warn({ pid }, `${this.spec.name} ignored SIGTERM; SIGKILL`);
          signalGroup(pid, 'SIGKILL');
        }
      }, this.spec.stopGraceMs ?? 2000);
    }
  }

  private clearTimer(name: 'startupTimer' | 'watchdogTimer' | 'backoffTimer' | 'killTimer'): void {
    if (this[name] !== null) {
      this.clock.clearTimeout(this[name]);
      this[name] = null;
    }
  }
}

function safeMatch(match: (line: string) => boolean, line: string): boolean {
  try { return match(line); } catch { return false; }
}
