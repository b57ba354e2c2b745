/**
 * The DVB tuner pool: satellite services on demand.
 *
 * A join for a DVB service needs its carrier tuned. The pool reuses the
 * tuner already on that carrier, or takes a free tuner allowed to tune it,
 * or refuses (`no free tuner for 11362000H`). One dvblast process serves one
 * tuned carrier; its config file has one output line per service wanted, and
 * a change is applied with `dvblastctl reload`, which leaves the outputs of
 * the other services running (no lost packet). When the last service of a
 * carrier is released dvblast is shut down (SIGTERM through its supervisor,
 * dvblast's clean shutdown), the pool makes sure the process is gone, and the
 * tuner goes back to the pool.
 *
 * Failures, each with a status entry and a log line naming carrier and tuner:
 * - no free tuner: acquire() rejects with NoFreeTunerError;
 * - no lock within dvb.lockTimeoutMs at start: acquire() rejects with
 *   LockTimeoutError and the tuner is free again;
 * - lock lost, or dvblast dying: the supervisor restarts dvblast (it reads
 *   the same config file, so every output returns); a carrier that stays
 *   silent for lockTimeoutMs is restarted too; after the restart cap the
 *   carrier is given up, its tuner freed, and 'failed' names the groups lost.
 * Other carriers are never touched: each has its own process and queue.
 */
import { EventEmitter } from 'node:events';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DvbAdapterConfig, DvbConfig, HeadendConfig } from '../../config.js';
import type { Logger } from '../../log.js';
import { backoffFromConfig, type Backoff, type ChildRegistry } from '../supervisor.js';
import { carrierKey, describeTuning, dvblastArgs, mayTune, type DvblastFiles, type DvbTuning } from './carrier.js';
import { outputTarget, renderConf, type ServiceOutput } from './conf.js';
import { DvblastctlRunner, type DvblastControl, type SdtService } from './ctl.js';
import { launchDvblast, type CarrierLauncher, type CarrierProcess } from './process.js';

export interface DvbOutput {
  /** Interface name (status and logs); ifindex is what dvblast uses. */
  iface: string;
  ifindex: number;
  ttl: number;
  port: number;
  /** Plain UDP instead of RTP. */
  udp?: boolean;
}

export interface AcquireRequest {
  group: string;
  serviceId: number;
  tuning: DvbTuning;
  output: DvbOutput;
}

/** A service being output; give it back with release(). */
export interface DvbServiceHandle {
  readonly id: number;
  readonly group: string;
  readonly serviceId: number;
  /** Carrier key, `11362000H`. */
  readonly carrier: string;
  /** The tuner (dvb.adapters[].name) serving it. */
  readonly adapter: string;
}

export type DvbErrorCode = 'no-free-tuner' | 'lock-timeout' | 'start-failed' | 'group-busy' | 'bad-request' | 'reload-failed' | 'closed';

export class DvbError extends Error {
  constructor(readonly code: DvbErrorCode, message: string) {
    super(message);
    this.name = 'DvbError';
  }
}

export class NoFreeTunerError extends DvbError {
  constructor(readonly carrier: string, tuning: string, why = 'every tuner allowed to tune it is busy') {
    super('no-free-tuner', `no free tuner for ${carrier} (${tuning}): ${why}`);
    this.name = 'NoFreeTunerError';
  }
}

export class LockTimeoutError extends DvbError {
  constructor(readonly carrier: string, readonly adapter: string, timeoutMs: number) {
    super('lock-timeout', `carrier ${carrier} on tuner ${adapter}: no lock within ${timeoutMs} ms`);
    this.name = 'LockTimeoutError';
  }
}

export type LockState = 'waiting' | 'locked' | 'lost';

export interface DvbStatus {
  tuners: Array<{ name: string; kind: DvbAdapterConfig['kind']; state: 'free' | 'tuned' | 'releasing'; carrier?: string }>;
  carriers: Array<{
    carrier: string;
    tuning: string;
    adapter: string;
    pid?: number;
    state: CarrierStateName;
    lock: LockState;
    bitsPerSecond?: number;
    restarts: number;
    since: string;
    services: Array<{ group: string; serviceId: number; iface: string; name?: string; provider?: string }>;
  }>;
  /** Most recent first, at most 50. */
  errors: Array<{ at: string; carrier?: string; adapter?: string; message: string }>;
}

export interface TunerPoolEvents {
  lock: [{ carrier: string; adapter: string; locked: boolean }];
  restart: [{ carrier: string; adapter: string; attempt: number; reason: string }];
  /** A carrier was given up after the restart cap; these groups have no source any more. */
  failed: [{ carrier: string; adapter: string; groups: string[]; reason: string }];
}

export interface TunerPoolOptions {
  config: DvbConfig;
  logger: Logger;
  /** Restart policy for dvblast (from ingest.restartBackoff*). */
  backoff?: Partial<Backoff>;
  registry?: ChildRegistry;
  /** Words run before dvblast, e.g. `['ip', 'netns', 'exec', NS]` to tune inside a namespace. */
  commandPrefix?: string[];
  /** Edges, replaceable in tests. */
  ctl?: DvblastControl;
  launch?: CarrierLauncher;
  now?: () => number;
}

type CarrierStateName = 'starting' | 'running' | 'restarting' | 'stopping';

interface ServiceEntry {
  handle: DvbServiceHandle;
  output: ServiceOutput;
  iface: string;
}

interface Carrier {
  key: string;
  tuning: DvbTuning;
  tuner: Tuner;
  files: DvblastFiles;
  log: Logger;
  services: Map<string, ServiceEntry>;
  proc: CarrierProcess;
  state: CarrierStateName;
  lock: LockState;
  bitsPerSecond?: number;
  since: number;
  /** Settles when the first lock came (or the start failed). */
  ready: Promise<void>;
  /** Config changes one after another: each rewrite+reload sees the previous one done. */
  queue: Promise<unknown>;
  sdt: Map<number, SdtService>;
  lastStderr?: { message: string; at: number };
  /** The config file as last written, and as the running dvblast read it at its start. */
  conf: string;
  spawnedConf: string;
}

interface Tuner {
  config: DvbAdapterConfig;
  carrier: Carrier | null;
  /** Set while the last carrier's dvblast is being shut down. */
  releasing: Promise<void> | null;
}

const MAX_ERRORS = 50;

export class TunerPool extends EventEmitter<TunerPoolEvents> {
  private readonly cfg: DvbConfig;
  private readonly log: Logger;
  private readonly ctl: DvblastControl;
  private readonly launch: CarrierLauncher;
  private readonly now: () => number;
  private readonly runDir: string;
  private readonly tuners: Tuner[];
  private readonly carriers = new Map<string, Carrier>();
  private readonly errors: DvbStatus['errors'] = [];
  private nextHandle = 1;
  private closed = false;

  constructor(private readonly opts: TunerPoolOptions) {
    super();
    this.cfg = opts.config;
    this.log = opts.logger.child({ room: 'dvb' });
    this.now = opts.now ?? Date.now;
    this.ctl = opts.ctl ?? new DvblastctlRunner({ command: this.cfg.dvblastctl, timeoutMs: this.cfg.ctlTimeoutMs });
    this.launch = opts.launch ?? launchDvblast;
    if (this.cfg.runDir) {
      mkdirSync(this.cfg.runDir, { recursive: true });
      this.runDir = this.cfg.runDir;
    } else {
      // Unix socket paths are limited to 108 bytes: keep them short.
      this.runDir = mkdtempSync(join(tmpdir(), 'headend-dvb-'));
    }
    this.tuners = this.cfg.adapters.map((config) => ({ config, carrier: null, releasing: null }));
  }

  /** The daemon's pool: `dvb` section, dvblast restarts as `ingest.restart*` say. */
  static fromConfig(config: HeadendConfig, opts: { logger: Logger; registry?: ChildRegistry }): TunerPool {
    return new TunerPool({ config: config.dvb, logger: opts.logger, backoff: backoffFromConfig(config.ingest), registry: opts.registry });
  }

  /**
   * Outputs one service to its group: on the carrier's running dvblast
   * (reload), or by tuning a free tuner. Rejects with NoFreeTunerError,
   * LockTimeoutError or DvbError; nothing is left half-done on rejection.
   */
  async acquire(req: AcquireRequest): Promise<DvbServiceHandle> {
    if (this.closed) throw new DvbError('closed', 'tuner pool is closed');
    let output: ServiceOutput;
    try {
      output = { group: req.group, serviceId: req.serviceId, port: req.output.port, ifindex: req.output.ifindex, ttl: req.output.ttl, udp: req.output.udp };
      outputTarget(output);
      if (!Number.isInteger(req.serviceId) || req.serviceId < 1 || req.serviceId > 65535) throw new Error(`serviceId must be 1..65535, got ${req.serviceId}`);
    } catch (err) {
      throw new DvbError('bad-request', `group ${req.group}: ${(err as Error).message}`);
    }
    for (const c of this.carriers.values()) {
      if (c.services.has(req.group)) throw new DvbError('group-busy', `group ${req.group} already carries service ${c.services.get(req.group)!.output.serviceId} of ${c.key}`);
    }
    const key = carrierKey(req.tuning);
    for (let attempt = 0; ; attempt++) {
      const existing = this.carriers.get(key);
      if (existing && existing.state !== 'stopping') {
        if (describeTuning(existing.tuning) !== describeTuning(req.tuning)) {
          // One transponder per frequency and polarisation: the lists disagree, the tuned one wins.
          existing.log.warn({ group: req.group, asked: describeTuning(req.tuning), tuned: describeTuning(existing.tuning) }, 'channel tuning differs from the tuned carrier; using the tuned one');
        }
        return this.addService(existing, req, output);
      }
      const tuner = this.tuners.find((t) => t.carrier === null && t.releasing === null && mayTune(t.config, req.tuning));
      if (tuner) return this.tune(tuner, key, req, output);
      // A tuner still shutting down its last carrier (or this very carrier) is free in a moment.
      const soon = this.tuners.find((t) => (t.releasing !== null || t.carrier?.state === 'stopping') && mayTune(t.config, req.tuning));
      if (soon && attempt < 3) {
        await (soon.releasing ?? soon.carrier?.queue);
        continue;
      }
      const allowed = this.tuners.some((t) => mayTune(t.config, req.tuning));
      const err = new NoFreeTunerError(key, describeTuning(req.tuning), allowed ? undefined : 'no tuner may tune it (dvb.adapters[].carriers)');
      this.log.warn({ carrier: key, group: req.group, serviceId: req.serviceId }, err.message);
      this.recordError(err.message, key);
      throw err;
    }
  }

  /** Stops one service's output; the last one of a carrier frees its tuner. Safe to call twice. */
  async release(handle: DvbServiceHandle): Promise<void> {
    const c = this.carriers.get(handle.carrier);
    const entry = c?.services.get(handle.group);
    if (!c || !entry || entry.handle.id !== handle.id) return;
    await this.enqueue(c, async () => {
      if (!c.services.delete(handle.group)) return;
      c.log.info({ group: handle.group, serviceId: handle.serviceId }, 'service released');
      if (c.services.size === 0) {
        await this.shutdownCarrier(c, 'last service released');
        return;
      }
      this.writeConf(c);
      await this.reload(c).catch((err: Error) => {
        // The output may still run; say so loudly rather than pretend.
        c.log.error({ err, group: handle.group }, 'reload after release failed; the output may continue until dvblast restarts');
        this.recordError(`release ${handle.group}: ${err.message}`, c.key, c.tuner.config.name);
      });
    });
  }

  /**
   * Service name and provider from the carrier's SDT (EN 300 468 §5.2.3),
   * for the SDP/SAP. The SDT repeats at least every 2 s, so right after lock
   * it may not be there yet: retried until `timeoutMs`. Null when the SDT
   * does not list the service.
   */
  async sdt(handle: DvbServiceHandle, timeoutMs = 3000): Promise<{ name: string; provider: string } | null> {
    const c = this.carriers.get(handle.carrier);
    if (!c) return null;
    const cached = c.sdt.get(handle.serviceId);
    if (cached) return { name: cached.name, provider: cached.provider };
    const deadline = this.now() + timeoutMs;
    let lastError: Error | null = null;
    for (;;) {
      try {
        const services = await this.ctl.sdt(c.files.socket);
        for (const s of services) c.sdt.set(s.serviceId, s);
        const s = c.sdt.get(handle.serviceId);
        if (s) return { name: s.name, provider: s.provider };
        lastError = null;
      } catch (err) {
        lastError = err as Error;
      }
      if (this.now() >= deadline || !this.carriers.has(handle.carrier)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    if (lastError) c.log.warn({ err: lastError, serviceId: handle.serviceId }, 'no SDT from dvblast');
    return null;
  }

  status(): DvbStatus {
    return {
      tuners: this.tuners.map((t) => ({
        name: t.config.name,
        kind: t.config.kind,
        state: t.releasing ? 'releasing' : t.carrier ? 'tuned' : 'free',
        ...(t.carrier ? { carrier: t.carrier.key } : {}),
      })),
      carriers: [...this.carriers.values()].map((c) => ({
        carrier: c.key,
        tuning: describeTuning(c.tuning),
        adapter: c.tuner.config.name,
        ...(c.proc.pid !== undefined ? { pid: c.proc.pid } : {}),
        state: c.state,
        lock: c.lock,
        ...(c.bitsPerSecond !== undefined ? { bitsPerSecond: c.bitsPerSecond } : {}),
        restarts: c.proc.restarts,
        since: new Date(c.since).toISOString(),
        services: [...c.services.values()].map((e) => {
          const s = c.sdt.get(e.output.serviceId);
          return { group: e.output.group, serviceId: e.output.serviceId, iface: e.iface, ...(s ? { name: s.name, provider: s.provider } : {}) };
        }),
      })),
      errors: [...this.errors],
    };
  }

  /** The pid of the dvblast serving a carrier (tests, status). */
  pidOf(carrier: string): number | undefined {
    return this.carriers.get(carrier)?.proc.pid;
  }

  /** Shuts every carrier down and frees every tuner. Safe to call twice. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.carriers.values()].map((c) => this.enqueue(c, () => this.shutdownCarrier(c, 'pool closed'))));
    await Promise.all(this.tuners.map((t) => t.releasing));
    if (!this.cfg.runDir) rmSync(this.runDir, { recursive: true, force: true });
  }

  // ---------------------------------------------------------------- internals

  private newHandle(c: Carrier, req: AcquireRequest): DvbServiceHandle {
    return Object.freeze({ id: this.nextHandle++, group: req.group, serviceId: req.serviceId, carrier: c.key, adapter: c.tuner.config.name });
  }

  private addService(c: Carrier, req: AcquireRequest, output: ServiceOutput): Promise<DvbServiceHandle> {
    return this.enqueue(c, async () => {
      // A start still waiting for lock: the service joins once it is there (or fails with it).
      await c.ready;
      if (c.state === 'stopping' || this.carriers.get(c.key) !== c) {
        throw new DvbError('start-failed', `carrier ${c.key} went away while adding ${req.group}`);
      }
      if (c.services.has(req.group)) throw new DvbError('group-busy', `group ${req.group} already on ${c.key}`);
      const handle = this.newHandle(c, req);
      c.services.set(req.group, { handle, output, iface: req.output.iface });
      this.writeConf(c);
      try {
        await this.reload(c);
      } catch (err) {
        c.services.delete(req.group);
        this.writeConf(c);
        const msg = `cannot add ${req.group} (service ${req.serviceId}) to ${c.key}: ${(err as Error).message}`;
        this.recordError(msg, c.key, c.tuner.config.name);
        throw new DvbError('reload-failed', msg);
      }
      c.log.info({ group: req.group, serviceId: req.serviceId, pid: c.proc.pid, services: c.services.size }, 'service added to running carrier');
      return handle;
    });
  }

  private async tune(tuner: Tuner, key: string, req: AcquireRequest, output: ServiceOutput): Promise<DvbServiceHandle> {
    const name = tuner.config.name;
    const files: DvblastFiles = { configFile: join(this.runDir, `${name}.conf`), socket: join(this.runDir, `${name}.sock`) };
    const log = this.log.child({ carrier: key, adapter: name });
    const dvblast = dvblastArgs(tuner.config, req.tuning, files, this.cfg.outputLatencyMs);
    const prefix = this.opts.commandPrefix ?? [];
    const proc = this.launch({
      command: prefix[0] ?? this.cfg.dvblast,
      args: prefix.length ? [...prefix.slice(1), this.cfg.dvblast, ...dvblast] : dvblast,
      logger: log,
      lockTimeoutMs: this.cfg.lockTimeoutMs,
      backoff: this.opts.backoff,
      registry: this.opts.registry,
    });
    let settle!: () => void;
    const c: Carrier = {
      key, tuning: req.tuning, tuner, files, log, proc,
      services: new Map(), state: 'starting', lock: 'waiting', since: this.now(),
      ready: new Promise<void>((r) => { settle = r; }), queue: Promise.resolve(), sdt: new Map(), conf: '', spawnedConf: '',
    };
    const handle = this.newHandle(c, req);
    c.services.set(req.group, { handle, output, iface: req.output.iface });
    // Reserved before the first await, so a concurrent acquire sees the tuner taken.
    tuner.carrier = c;
    this.carriers.set(key, c);
    this.watch(c);
    c.queue = c.ready;
    this.writeConf(c);
    log.info({ tuning: describeTuning(req.tuning), group: req.group, serviceId: req.serviceId }, 'tuning carrier');
    try {
      await proc.start();
    } catch (err) {
      const reason = (err as Error).message;
      const error = /not up after/.test(reason)
        ? new LockTimeoutError(key, name, this.cfg.lockTimeoutMs)
        : new DvbError('start-failed', `carrier ${key} on tuner ${name}: dvblast did not start: ${reason}`);
      log.error({ reason }, error.message);
      this.recordError(error.message, key, name);
      c.state = 'stopping';
      if (this.carriers.get(key) === c) this.carriers.delete(key);
      settle();
      await proc.stop().catch(() => undefined);
      this.freeTuner(c);
      throw error;
    }
    c.state = 'running';
    settle();
    log.info({ pid: proc.pid, group: req.group, serviceId: req.serviceId }, 'carrier locked, service output');
    return handle;
  }

  private watch(c: Carrier): void {
    const adapter = c.tuner.config.name;
    c.proc.on('spawn', ({ pid }) => {
      if (c.state === 'restarting') c.log.info({ pid }, 'dvblast restarted; outputs return with lock');
      c.lock = 'waiting';
      // What this dvblast reads at start; a change made while it starts needs a reload once it runs.
      c.spawnedConf = c.conf;
    });
    c.proc.on('lock', ({ locked }) => this.setLock(c, locked, 'dvblast reports the frontend unlocked'));
    c.proc.on('bitrate', ({ bitsPerSecond }) => {
      c.bitsPerSecond = bitsPerSecond;
      // A locked frontend always delivers TS packets (null packets at least):
      // a second without any is a lost carrier, long before dvblast's own
      // 5 s UDP timeout says so.
      if (bitsPerSecond === 0 && c.lock === 'locked') this.setLock(c, false, 'no TS packets for 1 s');
      else if (bitsPerSecond > 0 && c.lock === 'lost') this.setLock(c, true, 'TS packets again');
    });
    c.proc.on('stderr', ({ line }) => {
      // dvblast's errors name what an output lacks ("couldn't connect socket
      // (Network is unreachable)": an IPv4 group with no multicast route).
      // Some repeat per packet: one status entry per distinct message per 10 s.
      const m = /^error: (.*)$/.exec(line);
      if (!m) return;
      const now = this.now();
      if (m[1] === c.lastStderr?.message && now - c.lastStderr.at < 10_000) return;
      c.lastStderr = { message: m[1]!, at: now };
      this.recordError(`dvblast: ${m[1]}`, c.key, adapter);
    });
    c.proc.on('exit', ({ pid, code, signal, ours }) => {
      if (ours || c.state === 'stopping' || c.state === 'starting') return;
      const msg = `dvblast [pid:${pid}] died (${signal ? `signal ${signal}` : `code ${code}`})`;
      c.log.warn(msg);
      this.recordError(msg, c.key, adapter);
    });
    c.proc.on('restart', ({ attempt, delayMs, reason }) => {
      if (c.state === 'stopping') return;
      c.state = 'restarting';
      c.lock = 'waiting';
      c.log.warn({ attempt, delayMs, reason }, 'restarting dvblast for carrier');
      this.safeEmit('restart', { carrier: c.key, adapter, attempt, reason });
    });
    c.proc.on('failed', ({ reason }) => {
      if (c.state === 'stopping' || c.state === 'starting') return;
      const groups = [...c.services.keys()];
      const msg = `carrier ${c.key} on tuner ${adapter} given up: ${reason}`;
      c.log.error({ groups }, msg);
      this.recordError(msg, c.key, adapter);
      c.state = 'stopping';
      c.services.clear();
      if (this.carriers.get(c.key) === c) this.carriers.delete(c.key);
      this.freeTuner(c);
      this.safeEmit('failed', { carrier: c.key, adapter, groups, reason });
    });
  }

  private setLock(c: Carrier, locked: boolean, why: string): void {
    const was = c.lock;
    if ((locked && was === 'locked') || (!locked && was === 'lost')) return;
    c.lock = locked ? 'locked' : 'lost';
    const adapter = c.tuner.config.name;
    if (locked && c.state === 'restarting') {
      c.state = 'running';
      if (c.spawnedConf !== c.conf) {
        void this.enqueue(c, () => this.reload(c)).catch((err: Error) => {
          c.log.error({ err }, 'reload after restart failed');
          this.recordError(`reload after restart: ${err.message}`, c.key, adapter);
        });
      }
    }
    if (locked && was === 'lost') c.log.info('carrier regained lock');
    if (!locked) {
      c.log.warn({ services: c.services.size, why }, `carrier lost lock; dvblast is restarted if it is not back within ${this.cfg.lockTimeoutMs} ms`);
      this.recordError(`lost lock: ${why}`, c.key, adapter);
    }
    this.safeEmit('lock', { carrier: c.key, adapter, locked });
  }

  /**
   * Ends the carrier's dvblast through its supervisor: SIGTERM, which dvblast
   * handles exactly as `dvblastctl shutdown` (its event loop ends, outputs
   * close, the socket is removed), then SIGKILL after the grace period. Not
   * dvblastctl: an exit the supervisor did not cause reads to it as a crash
   * (measured: 8 of 8 shutdowns logged a restart before stop() could run).
   * The tuner is free once the process is gone.
   */
  private async shutdownCarrier(c: Carrier, why: string): Promise<void> {
    if (c.state === 'stopping' && this.carriers.get(c.key) !== c) return;
    c.state = 'stopping';
    if (this.carriers.get(c.key) === c) this.carriers.delete(c.key);
    const pid = c.proc.pid;
    const tuner = c.tuner;
    tuner.releasing = (async () => {
      await c.proc.stop();
      this.freeTuner(c);
      c.log.info({ pid, why }, 'carrier shut down, tuner free');
    })();
    await tuner.releasing;
  }

  private freeTuner(c: Carrier): void {
    if (c.tuner.carrier === c) c.tuner.carrier = null;
    c.tuner.releasing = null;
    rmSync(c.files.configFile, { force: true });
  }

  private async reload(c: Carrier): Promise<void> {
    // Not running (restart backoff): the next dvblast reads the file we just wrote.
    if (c.state !== 'running') return;
    await this.ctl.reload(c.files.socket);
  }

  /** Written whole to a temporary name and renamed, so dvblast never reads half a file. */
  private writeConf(c: Carrier): void {
    const tmp = `${c.files.configFile}.new`;
    c.conf = renderConf([...c.services.values()].map((e) => e.output));
    writeFileSync(tmp, c.conf);
    renameSync(tmp, c.files.configFile);
  }

  private enqueue<T>(c: Carrier, job: () => Promise<T>): Promise<T> {
    const run = c.queue.then(job, job);
    c.queue = run.catch(() => undefined);
    return run;
  }

  private recordError(message: string, carrier?: string, adapter?: string): void {
    this.errors.unshift({ at: new Date(this.now()).toISOString(), ...(carrier ? { carrier } : {}), ...(adapter ? { adapter } : {}), message });
    this.errors.length = Math.min(this.errors.length, MAX_ERRORS);
  }

  /** A listener that throws must not break the pool. */
  private safeEmit<K extends keyof TunerPoolEvents>(event: K, ...args: TunerPoolEvents[K]): void {
    for (const l of this.listeners(event)) {
      try { (l as (...a: unknown[]) => void)(...args); } catch (err) { this.log.error({ err, event }, 'dvb pool listener threw'); }
    }
  }
}
