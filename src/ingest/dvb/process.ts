/**
 * One dvblast process for one tuned carrier, run under the shared
 * ChildSupervisor (src/ingest/supervisor.ts): restarts with backoff and a
 * cap, stderr into the logger, process group, no orphans.
 *
 * dvblast runs with `-x xml -6 1000`, so stdout carries its events:
 *   <STATUS type="lock" status="1"/>                      frontend locked
 *   <STATUS type="bitrate" status="1" value="785088" />  every second
 * "Lock" is what the frontend reports for a card; for the UDP input (`-D`)
 * dvblast declares lock at the first TS packet and loses it after 5 s
 * without one, so for both kinds lock means "TS packets arriving". The
 * supervisor's startup check waits for the first lock (lockTimeoutMs: a
 * card that never locks fails the start), and its watchdog is fed by lock
 * and non-zero bitrate lines, so a carrier that stays silent for
 * lockTimeoutMs is restarted (retuned), and given up after the cap.
 */
import { EventEmitter } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import type { Logger } from '../../log.js';
import { ChildSupervisor, type Backoff, type ChildRegistry } from '../supervisor.js';
import { PRINT_PERIOD_MS } from './carrier.js';

export interface CarrierProcessEvents {
  /** dvblast is running (first start or a restart); lock may still be pending. */
  spawn: [{ pid: number; attempt: number }];
  lock: [{ locked: boolean; pid: number }];
  bitrate: [{ bitsPerSecond: number; pid: number }];
  exit: [{ pid: number; code: number | null; signal: NodeJS.Signals | null; ours: boolean }];
  /** A line dvblast wrote to stderr (already in the log). */
  stderr: [{ pid: number; line: string }];
  restart: [{ attempt: number; delayMs: number; reason: string }];
  /** The supervisor gave up (restart cap reached): the carrier is gone for good. */
  failed: [{ reason: string }];
}

/** What the pool needs from the process that serves one carrier. */
export interface CarrierProcess {
  readonly pid: number | undefined;
  /** Restarts after the first start (for status). */
  readonly restarts: number;
  /** Resolves at the first lock; rejects when dvblast does not start or does not lock in time. */
  start(): Promise<void>;
  stop(): Promise<void>;
  on<K extends keyof CarrierProcessEvents>(event: K, listener: (...args: CarrierProcessEvents[K]) => void): unknown;
}

export interface CarrierProcessSpec {
  /** dvblast, or what runs it (`ip netns exec NS dvblast` in tests): argv[0] and the args before dvblast's own. */
  command: string;
  args: string[];
  logger: Logger;
  lockTimeoutMs: number;
  backoff?: Partial<Backoff>;
  registry?: ChildRegistry;
}

export type CarrierLauncher = (spec: CarrierProcessSpec) => CarrierProcess;

/** One `<STATUS .../>` event line of `dvblast -x xml`, or null for anything else. */
export function parseStatusLine(line: string): { type: string; status: string; value?: number } | null {
  const m = /^<STATUS type="([a-z_]+)" status="(\d+)"(?: value="(\d+)")?\s*\/>$/.exec(line.trim());
  if (!m) return null;
  return m[3] === undefined ? { type: m[1]!, status: m[2]! } : { type: m[1]!, status: m[2]!, value: Number(m[3]) };
}

export class DvblastProcess extends EventEmitter<CarrierProcessEvents> implements CarrierProcess {
  private readonly sup: ChildSupervisor;
  private readonly log: Logger;

  constructor(spec: CarrierProcessSpec) {
    super();
    this.log = spec.logger;
    this.sup = new ChildSupervisor({
      name: 'dvblast',
      command: spec.command,
      args: spec.args,
      logger: spec.logger,
      stdout: 'pipe',
      // dvblast's stderr (with -q) is warnings and errors only.
      stderrLevel: 'warn',
      startupCheck: { kind: 'custom', timeoutMs: spec.lockTimeoutMs },
      // One print period more than the lock timeout, so that the pool has
      // seen a zero-bitrate line (and reported the loss) before the restart.
      watchdog: { stallMs: spec.lockTimeoutMs + PRINT_PERIOD_MS, progress: 'custom' },
      backoff: spec.backoff,
      registry: spec.registry,
      onSpawn: (child) => this.watchStdout(child),
    });
    this.sup.on('spawn', (e) => this.safeEmit('spawn', e));
    this.sup.on('exit', (e) => this.safeEmit('exit', e));
    this.sup.on('stderr', (e) => this.safeEmit('stderr', e));
    this.sup.on('restart', (e) => this.safeEmit('restart', e));
    this.sup.on('failed', (e) => this.safeEmit('failed', e));
  }

  get pid(): number | undefined { return this.sup.pid; }
  get restarts(): number { return Math.max(0, this.sup.spawns - 1); }

  start(): Promise<void> { return this.sup.start(); }
  stop(): Promise<void> { return this.sup.stop(); }

  private watchStdout(child: ChildProcess): void {
    const pid = child.pid ?? 0;
    let rest = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      rest += chunk.toString('utf8');
      const lines = rest.split('\n');
      rest = lines.pop() ?? '';
      // A table dump without newlines must not grow without bound.
      if (rest.length > 65536) rest = '';
      for (const line of lines) this.onLine(line, pid);
    });
  }

  private onLine(line: string, pid: number): void {
    const st = parseStatusLine(line);
    if (!st) return;
    if (st.type === 'lock') {
      const locked = st.status === '1';
      if (locked) {
        this.sup.progress();
        this.sup.markUp();
      }
      this.safeEmit('lock', { locked, pid });
    } else if (st.type === 'bitrate') {
      const bitsPerSecond = st.value ?? 0;
      if (st.status === '1' && bitsPerSecond > 0) this.sup.progress();
      this.safeEmit('bitrate', { bitsPerSecond, pid });
    }
  }

  /** A listener that throws must not break dvblast's supervision. */
  private safeEmit<K extends keyof CarrierProcessEvents>(event: K, ...args: CarrierProcessEvents[K]): void {
    for (const l of this.listeners(event)) {
      try { (l as (...a: unknown[]) => void)(...args); } catch (err) { this.log.error({ err, event }, 'dvb carrier listener threw'); }
    }
  }
}

export const launchDvblast: CarrierLauncher = (spec) => new DvblastProcess(spec);
