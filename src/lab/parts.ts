/**
 * Building blocks of the lab (`headend lab`), shared with the end-to-end
 * tests and the zap benchmark: the headend daemon run inside a namespace,
 * a listening host (probe.ts) driven from here, and the namespaces' shape.
 *
 * Namespaces themselves come from the Lab harness (netns.ts), passed in as
 * the small LabLike interface below, so that a caller may hand in its own.
 */
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

/** What the lab needs of a namespace (netns.ts `Netns`). */
export interface NsLike {
  readonly name: string;
  exec(cmd: string, args?: string[], opts?: { timeoutMs?: number; input?: string }): Promise<string>;
  spawn(cmd: string, args?: string[], opts?: SpawnOptions): ChildProcess;
}

/** What the lab needs of the namespace harness (netns.ts `Lab`). */
export interface LabLike {
  netns(role: string): Promise<NsLike>;
  veth(a: NsLike, ifA: string, b: NsLike, ifB: string): Promise<void>;
  bridge(hub: NsLike, headend: NsLike, uplinkIf: string, hosts: NsLike[], hostIf?: string, snooping?: boolean): Promise<void>;
  close(): Promise<void>;
}

export const now = (): number => performance.timeOrigin + performance.now();

/** The lab's addresses: the headend's lan0 and the client's eth0 on one /64. */
export const HEAD_ADDR = '2001:db8:1::1';
export const CLIENT_ADDR = '2001:db8:1::10';

/**
 * The lab's shape: a headend namespace (lan0, HEAD_ADDR) and a client
 * namespace (eth0, CLIENT_ADDR) on a veth pair, addresses usable at once.
 */
export async function headAndClient(lab: LabLike, roles = { head: 'head', client: 'client' }): Promise<{ head: NsLike; client: NsLike }> {
  const head = await lab.netns(roles.head);
  const client = await lab.netns(roles.client);
  await lab.veth(head, 'lan0', client, 'eth0');
  await head.exec('ip', ['-6', 'addr', 'add', `${HEAD_ADDR}/64`, 'dev', 'lan0', 'nodad']);
  await client.exec('ip', ['-6', 'addr', 'add', `${CLIENT_ADDR}/64`, 'dev', 'eth0', 'nodad']);
  return { head, client };
}

const HERE = dirname(fileURLToPath(import.meta.url));
/** Running from src/ through tsx, or from the build in dist/. */
const FROM_SOURCE = import.meta.url.endsWith('.ts');

/** argv to run one of our entry points (path relative to src/, without extension) with this node. */
export function nodeEntry(relFromSrc: string): string[] {
  const base = join(HERE, '..', relFromSrc);
  return FROM_SOURCE ? [process.execPath, '--import', 'tsx', `${base}.ts`] : [process.execPath, `${base}.js`];
}

/** The repository root (where package.json is), for cwd of children. */
export const REPO_ROOT = join(HERE, '..', '..');

// ---------------------------------------------------------------- JSON-line children

type Line = Record<string, unknown> & { at?: number };

/** Collects the JSON lines a child writes to one stream; waits for one that matches. */
export class LineLog<T extends Line = Line> {
  readonly lines: T[] = [];
  private waiters: Array<() => void> = [];
  text = '';

  constructor(stream: NodeJS.ReadableStream | null | undefined, private readonly keepText = 200) {
    if (!stream) return;
    createInterface({ input: stream }).on('line', (line) => {
      this.text = (this.text + line + '\n').split('\n').slice(-this.keepText).join('\n');
      let obj: T;
      try {
        obj = JSON.parse(line) as T;
      } catch {
        return;
      }
      if (typeof obj !== 'object' || obj === null) return;
      this.lines.push(obj);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Marks the current end: `waitFor(..., { after })` only looks at lines after it. */
  mark(): number {
    return this.lines.length;
  }

  find(pred: (l: T) => boolean, after = 0): T | undefined {
    for (let i = after; i < this.lines.length; i++) if (pred(this.lines[i]!)) return this.lines[i];
    return undefined;
  }

  filter(pred: (l: T) => boolean, after = 0): T[] {
    return this.lines.slice(after).filter(pred);
  }

  async waitFor(what: string, pred: (l: T) => boolean, opts: { after?: number; timeoutMs?: number; child?: ChildProcess } = {}): Promise<T> {
    const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
    for (;;) {
      const hit = this.find(pred, opts.after ?? 0);
      if (hit) return hit;
      if (opts.child && (opts.child.exitCode !== null || opts.child.signalCode !== null)) {
        throw new Error(`waiting for ${what}: the process exited (${opts.child.exitCode ?? opts.child.signalCode})\n${this.text.slice(-2000)}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${opts.timeoutMs ?? 10_000} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 100));
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }
}

// ---------------------------------------------------------------- the daemon

export interface ServeProcess {
  readonly child: ChildProcess;
  /** The daemon's JSON log lines (pino). */
  readonly log: LineLog<Line & { msg?: string; time?: number; group?: string; level?: number }>;
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `headend serve --config FILE` in `ns`; resolves once it logged "headend ready". */
export async function startServe(ns: NsLike, configFile: string, opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<ServeProcess> {
  const [cmd, ...args] = nodeEntry('cli/main');
  const child = ns.spawn(cmd!, [...args, 'serve', '--config', configFile], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, HEADEND_LOG_JSON: '1', ...opts.env },
  });
  const log = new LineLog<Line & { msg?: string; time?: number; group?: string; level?: number }>(child.stderr, 400);
  const stop = async (): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    return new Promise((resolve) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.once('exit', (code) => { clearTimeout(kill); resolve(code); });
      child.kill('SIGTERM');
    });
  };
  try {
    await log.waitFor('"headend ready"', (l) => l.msg === 'headend ready', { timeoutMs: opts.timeoutMs ?? 20_000, child });
  } catch (err) {
    await stop();
    throw err;
  }
  return { child, log, stop };
}

// ---------------------------------------------------------------- the listening host

export type ProbeEvent =
  | { ev: 'ready' | 'joined' | 'left'; at: number }
  | { ev: 'rtp'; at: number; seq: number; ts: number; pt: number; ssrc: number; bytes: number }
  | { ev: 'sap'; at: number; deletion: boolean; hash: number; origin: string; sdp: string }
  | { ev: 'error'; at?: number; message: string };

export class Probe {
  readonly log: LineLog<ProbeEvent & Line>;

  private constructor(readonly child: ChildProcess) {
    this.log = new LineLog<ProbeEvent & Line>(child.stdout, 50);
  }

  /** Starts a probe for `group` on `iface` inside `ns` (not joined yet). */
  static async start(ns: NsLike, group: string, iface: string): Promise<Probe> {
    const [cmd, ...args] = nodeEntry('lab/probe');
    const child = ns.spawn(cmd!, [...args, group, iface], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    const p = new Probe(child);
    await p.log.waitFor('probe ready', (e) => e.ev === 'ready', { child, timeoutMs: 15_000 });
    return p;
  }

  /** Joins (any-source, or source-specific with `source`); resolves with the join time. */
  async join(source?: string): Promise<number> {
    const mark = this.log.mark();
    this.child.stdin!.write(source ? `join ${source}\n` : 'join\n');
    const e = await this.log.waitFor('joined', (l) => l.ev === 'joined' || l.ev === 'error', { after: mark, child: this.child });
    if (e.ev === 'error') throw new Error(`probe join: ${e.message}`);
    return e.at!;
  }

  async leave(): Promise<number> {
    const mark = this.log.mark();
    this.child.stdin!.write('leave\n');
    const e = await this.log.waitFor('left', (l) => l.ev === 'left' || l.ev === 'error', { after: mark, child: this.child });
    if (e.ev === 'error') throw new Error(`probe leave: ${e.message}`);
    return e.at!;
  }

  rtp(after = 0): Array<Extract<ProbeEvent, { ev: 'rtp' }>> {
    return this.log.filter((e) => e.ev === 'rtp', after) as Array<Extract<ProbeEvent, { ev: 'rtp' }>>;
  }

  sap(after = 0): Array<Extract<ProbeEvent, { ev: 'sap' }>> {
    return this.log.filter((e) => e.ev === 'sap', after) as Array<Extract<ProbeEvent, { ev: 'sap' }>>;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.stdin!.end('exit\n');
      setTimeout(() => this.child.kill('SIGKILL'), 2000).unref();
    });
  }
}

/** Polls until `cond()` holds (no fixed sleeps); throws naming `what` at the deadline. */
export async function until<T>(what: string, cond: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000, stepMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

// ---------------------------------------------------------------- the wire

export interface WireEvent {
  /** Capture time, epoch ms. */
  at: number;
  kind: 'rtp' | 'sap' | 'sap-deletion';
  /** UDP payload length. */
  bytes: number;
  /** SAP: message id hash and the SDP text. */
  hash?: number;
  sdp?: string;
}

/**
 * What reaches a host's interface for one group, joined or not: tcpdump on a
 * bridge or veth port sees every multicast frame, so a host can watch the
 * RTP stop and the SAP deletion leave after its own leave.
 */
export class Sniffer {
  readonly events: WireEvent[] = [];
  private constructor(readonly child: ChildProcess) {}

  static async start(ns: NsLike, iface: string, group: string, ports = { rtp: 5004, sap: 9875 }): Promise<Sniffer> {
    const filter = `udp and dst host ${group} and (dst port ${ports.rtp} or dst port ${ports.sap})`;
    // -tt epoch timestamps, -x hex of each packet (IP header first), -l line-buffered, -U packet-buffered.
    const child = ns.spawn('tcpdump', ['-i', iface, '-n', '-l', '-U', '-tt', '-x', '-s', '1500', filter], { stdio: ['ignore', 'pipe', 'pipe'] });
    const sn = new Sniffer(child);
    let cur: { at: number; port: number; bytes: number; hex: string; need: number } | undefined;
    const done = (): void => {
      if (!cur) return;
      const c = cur;
      cur = undefined;
      const ipHeader = c.hex.startsWith('6') ? 40 : 20;
      const payload = Buffer.from(c.hex.slice((ipHeader + 8) * 2), 'hex');
      if (c.port === ports.rtp) {
        sn.events.push({ at: c.at, kind: 'rtp', bytes: c.bytes });
        return;
      }
      // SAP (RFC 2974 §3): flags, auth length, hash, origin (4 or 16), then type\0 and the SDP.
      const flags = payload[0] ?? 0;
      const hash = payload.length >= 4 ? payload.readUInt16BE(2) : undefined;
      const text = payload.subarray(4 + ((flags & 0x10) !== 0 ? 16 : 4) + (payload[1] ?? 0) * 4).toString('utf8');
      const sdp = text.includes('\0') ? text.slice(text.indexOf('\0') + 1) : text;
      sn.events.push({ at: c.at, kind: (flags & 0x04) !== 0 ? 'sap-deletion' : 'sap', bytes: c.bytes, ...(hash !== undefined ? { hash } : {}), sdp });
    };
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const head = /^(\d+\.\d+) IP6? \S+ > \S+\.(\d+): UDP, length (\d+)/.exec(line);
      if (head) {
        done();
        const bytes = Number(head[3]);
        const port = Number(head[2]);
        // RTP needs only its header line; SAP is read whole (IP + UDP headers + payload).
        cur = { at: Number(head[1]) * 1000, port, bytes, hex: '', need: port === ports.rtp ? 1 : (line.includes(' IP6 ') ? 48 : 28) + bytes };
        return;
      }
      const hex = /^\s+0x[0-9a-f]+:\s+(.*)$/.exec(line);
      if (hex && cur) {
        cur.hex += hex[1]!.replace(/\s+/g, '');
        if (cur.hex.length >= Math.min(cur.need, 1500) * 2) done();
      }
    });
    await tcpdumpListening(child);
    return sn;
  }

  mark(): number {
    return this.events.length;
  }

  of(kind: WireEvent['kind'], after = 0): WireEvent[] {
    return this.events.slice(after).filter((e) => e.kind === kind);
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.kill('SIGTERM');
    });
  }
}

/** Resolves once tcpdump says it is capturing (it prints "listening on" to stderr). */
function tcpdumpListening(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening on')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`tcpdump exited ${code}: ${err.trim()}`)));
  });
}

/** When one TCP connection to a server did what, epoch ms from the capture. */
export interface TcpConnTimes {
  /** The client's port, which names the connection. */
  clientPort: number;
  /** The client's SYN. */
  syn: number;
  /** The server's first segment with data (an HTTP server's response headers). */
  firstData?: number;
  /** Its second one (for a stream server that sends its headers alone, the first body bytes). */
  secondData?: number;
}

/**
 * Times the connections to one TCP port (a source server seen from where it
 * runs, e.g. icecast2 on `lo`): the client's SYN and the server's first two
 * data segments. Icecast 2.4 writes its response headers in a send of their
 * own and the audio later, from its source thread, so the second segment is
 * the first audio byte; a server that sends both at once shows them in one.
 */
export class TcpSniffer {
  readonly conns: TcpConnTimes[] = [];
  private readonly open = new Map<number, TcpConnTimes>();
  private constructor(readonly child: ChildProcess) {}

  static async start(ns: NsLike, iface: string, port: number): Promise<TcpSniffer> {
    const child = ns.spawn('tcpdump', ['-i', iface, '-n', '-l', '-U', '-tt', `tcp port ${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    const sn = new TcpSniffer(child);
    // "1795367858.002807 IP 127.0.0.1.37178 > 127.0.0.1.43507: Flags [S], seq 1, ..., length 0"
    const line = /^(\d+\.\d+) IP6? \S+?\.(\d+) > \S+?\.(\d+): Flags \[([^\]]*)\].*length (\d+)/;
    createInterface({ input: child.stdout! }).on('line', (l) => {
      const m = line.exec(l);
      if (!m) return;
      const at = Number(m[1]) * 1000;
      const [from, to, flags, bytes] = [Number(m[2]), Number(m[3]), m[4]!, Number(m[5])];
      if (to === port && flags === 'S') {
        const c = { clientPort: from, syn: at };
        sn.conns.push(c);
        sn.open.set(from, c);
      } else if (from === port && bytes > 0) {
        const c = sn.open.get(to);
        if (!c) return;
        if (c.firstData === undefined) c.firstData = at;
        else if (c.secondData === undefined) {
          c.secondData = at;
          sn.open.delete(to);
        }
      }
    });
    await tcpdumpListening(child);
    return sn;
  }

  /** The first connection opened at or after `at` (epoch ms). */
  openedAfter(at: number): TcpConnTimes | undefined {
    return this.conns.find((c) => c.syn >= at);
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.kill('SIGTERM');
    });
  }
}
