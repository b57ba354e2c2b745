/**
 * Runs one directory import on a worker thread with its own connection to
 * the store file, so the daemon's event loop (membership, sessions, API)
 * keeps running while a large directory is parsed and written. SQLite's WAL
 * lets the daemon keep reading; its history writes queue (store.ts).
 *
 *   const result = await importInWorker(store, request, limits);
 *
 * Errors come back as the classes the API maps to statuses
 * (DirectoryFormatError, SourceError, StoreError, PlanError).
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Plan, PlanError, type PlanOptions } from '../plan/plan.js';
import { openStore, StoreError, type Store, type SyncResult } from '../store/store.js';
import { SourceError, type SourceLimits } from './fetch.js';
import { importDirectory, type ImportRequest } from './index.js';
import { DirectoryFormatError } from './types.js';

interface Job { path: string; plan: PlanOptions; req: Omit<ImportRequest, 'onProgress'>; limits: SourceLimits }
interface SerializedError { name: string; message: string; code?: string; field?: string; kind?: string; source?: string }
type Reply = { ok: true; result: SyncResult } | { ok: false; error: SerializedError };

function revive(e: SerializedError): Error {
  switch (e.name) {
    case 'DirectoryFormatError': { const err = new DirectoryFormatError(e.kind ?? '', ''); err.message = e.message; return err; }
    case 'SourceError': { const err = new SourceError(e.source ?? '', ''); err.message = e.message; return err; }
    case 'StoreError': return new StoreError((e.code ?? 'invalid') as StoreError['code'], e.field ?? '', e.message);
    case 'PlanError': return new PlanError((e.code ?? 'bad-number') as PlanError['code'], e.message);
    default: return new Error(e.message);
  }
}

/** Imports on a worker thread; a store in memory (tests) imports in place. */
export async function importInWorker(store: Store, req: Omit<ImportRequest, 'onProgress'>, limits: SourceLimits): Promise<SyncResult> {
  if (store.path === ':memory:') return importDirectory(store, req, limits);
  const job: Job = { path: store.path, plan: store.plan.options, req, limits };
  const worker = spawnSelf(job);
  return new Promise<SyncResult>((resolve, reject) => {
    let settled = false;
    worker.once('message', (reply: Reply) => {
      settled = true;
      if (reply.ok) resolve(reply.result);
      else reject(revive(reply.error));
    });
    worker.once('error', (err) => { settled = true; reject(err); });
    worker.once('exit', (code) => { if (!settled) reject(new Error(`directory import worker exited with code ${code}`)); });
  });
}

/**
 * A worker running this file. From dist/ it is plain JS; under tsx (tests,
 * `npm run headend`) a worker does not inherit tsx's loader, so a small
 * bootstrap registers it before importing this file.
 */
function spawnSelf(job: Job): Worker {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return new Worker(new URL(self), { workerData: job });
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((m) => m.register()).then(() => import(${JSON.stringify(self)}))`;
  return new Worker(boot, { eval: true, workerData: job });
}

async function runJob(job: Job): Promise<Reply> {
  // The job carries the daemon's effective plan: same prefix, same numbers.
  const store = openStore(job.path, { plan: new Plan(job.plan) });
  try {
    return { ok: true, result: await importDirectory(store, job.req, job.limits) };
  } catch (err) {
    const e = err as Error & Partial<SerializedError>;
    return { ok: false, error: { name: e.name, message: e.message, code: e.code, field: e.field, kind: e.kind, source: e.source } };
  } finally {
    store.close();
  }
}

if (!isMainThread && parentPort && (workerData as Job | undefined)?.path) {
  const port = parentPort;
  runJob(workerData as Job).then((reply) => port.postMessage(reply));
}
