/**
 * The tuner pool's two edges faked, for unit tests: the dvblast process (lock
 * and death are events the test fires) and dvblastctl (calls recorded, with
 * the config file as dvblast would read it at that moment).
 */
import { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConfig } from '../../../src/config.js';
import { silentLogger } from '../../../src/log.js';
import type { DvblastControl, SdtService } from '../../../src/ingest/dvb/ctl.js';
import { TunerPool } from '../../../src/ingest/dvb/pool.js';
import type { CarrierProcess, CarrierProcessEvents, CarrierProcessSpec } from '../../../src/ingest/dvb/process.js';

let nextPid = 100;
export class FakeProcess extends EventEmitter<CarrierProcessEvents> implements CarrierProcess {
  pid: number | undefined;
  restarts = 0;
  stopped = false;
  private pending: { resolve: () => void; reject: (e: Error) => void } | null = null;
  constructor(readonly spec: CarrierProcessSpec, private readonly autoLock: boolean) { super(); }
  start(): Promise<void> {
    this.pid = nextPid++;
    if (this.autoLock) return Promise.resolve().then(() => { this.emit('lock', { locked: true, pid: this.pid! }); });
    return new Promise((resolve, reject) => { this.pending = { resolve, reject }; });
  }
  lock(): void { this.emit('lock', { locked: true, pid: this.pid! }); this.pending?.resolve(); this.pending = null; }
  neverLocks(): void { this.pending?.reject(new Error(`[pid:${this.pid}, name:dvblast] did not start: not up after 4000 ms (startup check 'custom')`)); this.pending = null; }
  async stop(): Promise<void> { this.stopped = true; this.pid = undefined; }
}

export function setup(opts: { adapters?: unknown[]; autoLock?: boolean; failReload?: () => boolean } = {}) {
  const runDir = mkdtempSync(join(tmpdir(), 'dvb-pool-'));
  const config = buildConfig({ dvb: { runDir, adapters: opts.adapters ?? [{ name: 't0' }] } }).dvb;
  const procs: FakeProcess[] = [];
  const calls: Array<{ cmd: string; socket: string; conf?: string }> = [];
  const sdt: SdtService[] = [{ serviceId: 1001, name: 'Alpha', provider: 'Lab' }];
  const ctl: DvblastControl = {
    async reload(socket) {
      calls.push({ cmd: 'reload', socket, conf: readFileSync(socket.replace(/\.sock$/, '.conf'), 'utf8') });
      if (opts.failReload?.()) throw new Error('No answer');
    },
    async sdt(socket) { calls.push({ cmd: 'sdt', socket }); return sdt; },
  };
  const pool = new TunerPool({
    config, logger: silentLogger, ctl,
    launch: (spec) => { const p = new FakeProcess(spec, opts.autoLock ?? true); procs.push(p); return p; },
  });
  return { pool, procs, calls, runDir, done: () => rmSync(runDir, { recursive: true, force: true }) };
}

