/**
 * Helpers for the membership end-to-end tests (test/e2e/membership*.test.ts):
 * `headend watch --json` running inside a namespace (a process's network
 * namespace is fixed, so the live edge cannot run in the test process), and
 * a tshark capture to check what went over the wire.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ChildProcess } from 'node:child_process';
import type { Netns } from '../helpers/netns.js';

/** The repository root (scripts run inside namespaces import from it). */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const execFileP = promisify(execFile);

/**
 * Membership timers shortened so that queries, answers and expiry run in
 * seconds: QI 2 s, QRI 0.5 s, RV 2, so GMI = 2 * 2 + 0.5 = 4.5 s; LMQT 0.4 s.
 */
export const SHORT_TIMERS = {
  queryIntervalMs: 2000,
  queryResponseIntervalMs: 500,
  robustness: 2,
  lastMemberQueryIntervalMs: 200,
};

/** One JSON line of `headend watch --json`. */
export interface WatchLine {
  at: number;
  event?: string;
  iface?: string;
  group?: string;
  source?: string;
  listeners?: number;
  proto?: string;
  version?: number;
  sources?: string[];
  from?: string;
  reason?: string;
  table?: Array<Record<string, unknown>>;
  [k: string]: unknown;
}

export interface Watch {
  readonly child: ChildProcess;
  readonly lines: WatchLine[];
  /** Index of the next line: pass to waitFor to ignore what came before. */
  mark(): number;
  /** The first line from `since` on matching `pred`, waiting up to timeoutMs. */
  waitFor(pred: (l: WatchLine) => boolean, what: string, opts?: { since?: number; timeoutMs?: number }): Promise<WatchLine>;
  stderr(): string;
}

/** Starts `headend watch --json` in `ns` with `membership` overrides and waits for "ready". */
export async function startWatch(ns: Netns, ifaces: string[], membership: Record<string, unknown>, dir: string): Promise<Watch> {
  const cfgFile = join(dir, `watch-${ns.name}.yaml`);
  // JSON is YAML too.
  writeFileSync(cfgFile, JSON.stringify({ log: { level: 'debug' }, membership }));
  const args = ['--import', 'tsx', 'src/cli/main.ts', 'watch', '--json', '--config', cfgFile, ...ifaces.flatMap((i) => ['--interface', i])];
  const child = ns.spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HEADEND_LOG_JSON: '1' } });
  const lines: WatchLine[] = [];
  const wakers = new Set<() => void>();
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  createInterface({ input: child.stdout! }).on('line', (l) => {
    try { lines.push(JSON.parse(l) as WatchLine); } catch { err += `(stdout not JSON) ${l}\n`; }
    for (const w of wakers) w();
  });
  let exited = false;
  child.once('exit', () => { exited = true; for (const w of wakers) w(); });

  const waitFor: Watch['waitFor'] = (pred, what, opts = {}) => {
    const timeoutMs = opts.timeoutMs ?? 5000;
    let from = opts.since ?? 0;
    return new Promise((resolveP, reject) => {
      const check = () => {
        for (; from < lines.length; from++) {
          if (pred(lines[from])) { done(); return resolveP(lines[from]); }
        }
        if (exited) { done(); reject(new Error(`watch exited while waiting for ${what}: ${err.slice(-2000)}`)); }
      };
      const timer = setTimeout(() => { done(); reject(new Error(`no ${what} within ${timeoutMs} ms; stderr: ${err.slice(-1500)}`)); }, timeoutMs);
      const done = () => { clearTimeout(timer); wakers.delete(check); };
      wakers.add(check);
      check();
    });
  };
  await waitFor((l) => l.event === 'ready', 'ready line', { timeoutMs: 15_000 });
  return { child, lines, mark: () => lines.length, waitFor, stderr: () => err };
}

/**
 * A tshark capture on one interface, written to a file. The default filter
 * takes all of IPv6: BPF `icmp6` does not follow the hop-by-hop header that
 * every MLD message carries.
 */
export interface Capture {
  readonly file: string;
  /** Stops the capture (SIGINT, by PID) and waits until the file is complete. */
  stop(): Promise<void>;
  /** `tshark -r FILE` with extra arguments (-Y filter, -T fields, -V ...). */
  read(args: string[]): Promise<string>;
}

export async function startCapture(ns: Netns, iface: string, dir: string, filter = 'igmp or ip6'): Promise<Capture> {
  const file = join(dir, `cap-${ns.name}-${iface}.pcapng`);
  const child = ns.spawn('tshark', ['-i', iface, '-f', filter, '-w', file, '-q'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`tshark did not start: ${err}`)), 15_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('Capturing on')) { clearTimeout(timer); res(); }
    });
    child.once('exit', (code) => { clearTimeout(timer); rej(new Error(`tshark exited ${code}: ${err}`)); });
  });
  let stopping: Promise<void> | undefined;
  return {
    file,
    stop: () => {
      stopping ??= new Promise<void>((res) => {
        if (child.exitCode !== null || child.signalCode !== null) return res();
        child.once('exit', () => res());
        child.kill('SIGINT');
      });
      return stopping;
    },
    read: async (args) => (await execFileP('tshark', ['-r', file, ...args], { maxBuffer: 64 << 20 })).stdout,
  };
}

/** A scratch directory removed by the returned function. */
export function scratchDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'headend-e2e-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
