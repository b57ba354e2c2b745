/**
 * A real Icecast 2 server (Debian's icecast2), fed a sine tone by ffmpeg,
 * with an ICY title that can be changed: the station of `headend lab`, the
 * end-to-end tests (test/helpers/icecast.ts re-exports this) and the zap
 * benchmark.
 *
 *   const ice = await startIcecast();                 // host loopback
 *   const ice = await startIcecast({ inNamespace: ns }); // inside a Lab namespace
 *   ice.url            // http://127.0.0.1:PORT/tone.mp3
 *   await ice.setTitle('Artist - Song');
 *   await ice.close();  // both processes stopped by PID, temp dir removed
 *
 * Everything lives in one temp dir (config, logs, pid file). Icecast refuses
 * to run as root; as root we let it drop to nobody itself (<changeowner>),
 * so the PID we hold is the server's own, and the dir is opened to nobody.
 * Readiness is polled (status page, then the mount), never slept for.
 *
 * The source is set up like a common station (128 kbps MP3 at its real
 * rate, burst-on-connect), and that sets how long a new listener waits:
 * icecast 2.4.4 reads its source in blocks of at most 1400 bytes and serves
 * listeners only when a block is complete, every 87.5 ms at 128 kbps. A new
 * listener gets its response headers at a block boundary (about 130 ms after
 * connecting, measured) and its first audio two blocks after them (about
 * 300 ms). Neither burst-on-connect nor burst-size changes that; a 320 kbps
 * source cuts it to about 45 / 115 ms. The zap bench reports this share.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Netns } from './netns.js';

const execFileP = promisify(execFile);

export interface IcecastOptions {
  /** Run icecast and ffmpeg inside this namespace (ns.spawn); default: the host. */
  inNamespace?: Netns;
  /** Port to listen on; default: a free one on the host, a random one in a namespace. */
  port?: number;
  /** Address to bind; default 127.0.0.1 on the host, every address in a namespace. */
  bindAddress?: string;
  mount?: string;
  /** icy-metaint the server uses towards clients (icecast's default is 16000). */
  metaint?: number;
  /** Station name sent by the source (icy-name). */
  name?: string;
  /** Tone frequency, Hz. */
  frequency?: number;
  startTimeoutMs?: number;
}

export interface Icecast {
  /** The mount's URL on 127.0.0.1 (inside the namespace, when there is one). */
  readonly url: string;
  readonly port: number;
  readonly mount: string;
  readonly sourcePassword: string;
  readonly adminPassword: string;
  /** Sets the mount's StreamTitle through the admin API; resolves when icecast took it. */
  setTitle(title: string): Promise<void>;
  /**
   * GET a path on the server, from where it runs (inside the namespace, if
   * any), as admin when `auth`. Status 0 means no answer (`error` says why).
   */
  get(path: string, auth?: boolean, extra?: GetOptions): Promise<GetResult>;
  close(): Promise<void>;
}

export interface GetOptions {
  headers?: Record<string, string>;
  /** Stop reading after this many body bytes (a mount never ends by itself). Default 1 MiB. */
  maxBytes?: number;
  timeoutMs?: number;
}

export interface GetResult {
  status: number;
  headers: Record<string, string>;
  /** The body as UTF-8 text, and as bytes. */
  body: string;
  bytes: Buffer;
  error?: string;
}

/** Answers JSON-line requests `{id, url, headers, maxBytes, timeoutMs}` with fetch, one JSON line each. */
const PROBER = `
const rl = require('node:readline').createInterface({ input: process.stdin });
rl.on('line', async (line) => {
  const q = JSON.parse(line);
  const out = { id: q.id, status: 0, headers: {}, body: '' };
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), q.timeoutMs);
  const chunks = [];
  try {
    const r = await fetch(q.url, { headers: q.headers, signal: ctrl.signal });
    out.status = r.status;
    out.headers = Object.fromEntries(r.headers);
    let n = 0;
    for await (const c of r.body) { chunks.push(c); n += c.length; if (n >= q.maxBytes) break; }
  } catch (e) {
    out.error = String(e);
  }
  clearTimeout(timer);
  ctrl.abort();
  out.body = Buffer.concat(chunks).subarray(0, q.maxBytes).toString('base64');
  process.stdout.write(JSON.stringify(out) + '\\n');
});
`;

interface Prober {
  child: ChildProcess;
  get(url: string, headers: Record<string, string>, maxBytes: number, timeoutMs: number): Promise<GetResult>;
}

function startProber(ns: Netns | undefined): Prober {
  const args = ['-e', PROBER];
  const child = ns
    ? ns.spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] })
    : spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const waiting = new Map<number, (r: GetResult) => void>();
  let nextId = 0;
  let buffered = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buffered += d;
    for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const r = JSON.parse(line) as { id: number; status: number; headers: Record<string, string>; body: string; error?: string };
      const bytes = Buffer.from(r.body, 'base64');
      waiting.get(r.id)?.({ status: r.status, headers: r.headers, body: bytes.toString('utf8'), bytes, ...(r.error ? { error: r.error } : {}) });
      waiting.delete(r.id);
    }
  });
  child.once('exit', () => {
    for (const done of waiting.values()) done({ status: 0, headers: {}, body: '', bytes: Buffer.alloc(0), error: 'prober exited' });
    waiting.clear();
  });
  return {
    child,
    get: (url, headers, maxBytes, timeoutMs) => new Promise((resolve) => {
      const id = nextId++;
      waiting.set(id, resolve);
      child.stdin!.write(`${JSON.stringify({ id, url, headers, maxBytes, timeoutMs })}\n`);
    }),
  };
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as AddressInfo).port;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

const xmlEscape = (s: string): string => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

export async function startIcecast(opts: IcecastOptions = {}): Promise<Icecast> {
  const ns = opts.inNamespace;
  const port = opts.port ?? (ns ? 20000 + Math.floor(Math.random() * 40000) : await freePort());
  const mount = opts.mount ?? '/tone.mp3';
  const sourcePassword = `src${process.pid}`;
  const adminPassword = `adm${process.pid}`;
  const dir = await mkdtemp(join(tmpdir(), 'headend-icecast-'));
  // On Ctrl-C the namespace harness kills the processes and exits without
  // awaiting close(); the dir goes then too.
  const removeDir = (): void => rmSync(dir, { recursive: true, force: true });
  process.once('exit', removeDir);
  const asRoot = process.getuid?.() === 0;
  const base = `http://127.0.0.1:${port}`;
  const children: ChildProcess[] = [];
  const stderr = new Map<ChildProcess, string>();
  let closed = false;

  const bind = opts.bindAddress ?? (ns ? undefined : '127.0.0.1');
  const config = `<icecast>
  <location>test</location>
  <admin>test@localhost</admin>
  <hostname>127.0.0.1</hostname>
  <limits>
    <clients>50</clients><sources>4</sources><queue-size>524288</queue-size>
    <client-timeout>30</client-timeout><header-timeout>5</header-timeout><source-timeout>5</source-timeout>
    <burst-on-connect>1</burst-on-connect><burst-size>16384</burst-size>
  </limits>
  <authentication>
    <source-password>${sourcePassword}</source-password>
    <admin-user>admin</admin-user><admin-password>${adminPassword}</admin-password>
  </authentication>
  <listen-socket><port>${port}</port>${bind ? `<bind-address>${xmlEscape(bind)}</bind-address>` : ''}</listen-socket>
  <mount type="normal">
    <mount-name>${xmlEscape(mount)}</mount-name>
    ${opts.metaint ? `<mp3-metadata-interval>${opts.metaint}</mp3-metadata-interval>` : ''}
  </mount>
  <fileserve>1</fileserve>
  <paths>
    <basedir>${dir}</basedir><logdir>${dir}</logdir><pidfile>${dir}/icecast.pid</pidfile>
    <webroot>/usr/share/icecast2/web</webroot><adminroot>/usr/share/icecast2/admin</adminroot>
  </paths>
  <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog><loglevel>2</loglevel><logsize>1000</logsize></logging>
  <security><chroot>0</chroot>${asRoot ? '<changeowner><user>nobody</user><group>nogroup</group></changeowner>' : ''}</security>
</icecast>
`;
  const configFile = join(dir, 'icecast.xml');
  await writeFile(configFile, config);
  // After dropping to nobody, icecast writes its logs and pid file here.
  if (asRoot) await chmod(dir, 0o777);

  const launch = (cmd: string, args: string[]): ChildProcess => {
    const child = ns
      ? ns.spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] })
      : spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    stderr.set(child, '');
    child.stderr?.setEncoding('utf8').on('data', (d: string) => stderr.set(child, (stderr.get(child)! + d).slice(-4000)));
    return child;
  };

  // Requests to icecast go through one small node process started where
  // icecast runs: no socket of ours reaches into a namespace, and one process
  // answers every poll quickly (a node per request would take ~200 ms each).
  let prober: Prober | undefined;
  const get = async (path: string, auth = false, extra: GetOptions = {}): Promise<GetResult> => {
    prober ??= startProber(ns);
    const headers: Record<string, string> = { ...extra.headers };
    if (auth) headers.authorization = `Basic ${Buffer.from(`admin:${adminPassword}`).toString('base64')}`;
    return prober.get(base + path, headers, extra.maxBytes ?? 1 << 20, extra.timeoutMs ?? 5000);
  };

  const stop = async (child: ChildProcess, signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), 2000);
      child.once('exit', () => { clearTimeout(kill); resolve(); });
      child.kill(signal);
    });
  };

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    // Icecast takes most of a second to wind down its threads on SIGTERM and
    // has nothing worth saving here, so it gets SIGKILL.
    const [server, ...sources] = children;
    for (const child of sources) await stop(child, 'SIGTERM');
    if (server) await stop(server, 'SIGKILL');
    if (prober) await stop(prober.child, 'SIGTERM');
    await rm(dir, { recursive: true, force: true });
    process.off('exit', removeDir);
  };

  const waitFor = async (what: string, check: () => Promise<boolean>): Promise<void> => {
    const deadline = Date.now() + (opts.startTimeoutMs ?? 10_000);
    for (;;) {
      for (const child of children) {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`${child.spawnargs.join(' ')} exited (${child.exitCode ?? child.signalCode}) while waiting for ${what}: ${stderr.get(child)?.trim()}`);
        }
      }
      if (await check()) return;
      if (Date.now() > deadline) throw new Error(`icecast: no ${what} after ${opts.startTimeoutMs ?? 10_000} ms`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  try {
    launch('icecast2', ['-c', configFile]);
    await waitFor('status page', async () => (await get('/status-json.xsl')).status === 200);
    launch('ffmpeg', [
      '-nostdin', '-hide_banner', '-loglevel', 'error', '-re',
      '-f', 'lavfi', '-i', `sine=frequency=${opts.frequency ?? 440}:sample_rate=44100`,
      '-c:a', 'libmp3lame', '-b:a', '128k', '-content_type', 'audio/mpeg',
      '-ice_name', opts.name ?? 'Tone', '-ice_genre', 'Test',
      '-f', 'mp3', `icecast://source:${sourcePassword}@127.0.0.1:${port}${mount}`,
    ]);
    await waitFor(`source on ${mount}`, async () => {
      const { status, body } = await get('/status-json.xsl');
      return status === 200 && body.includes(`${mount}"`);
    });
  } catch (err) {
    const log = await execFileP('tail', ['-n', '20', join(dir, 'error.log')]).then((r) => r.stdout, () => '');
    await close();
    throw new Error(`${(err as Error).message}${log ? `\nicecast error.log:\n${log}` : ''}`);
  }

  return {
    url: base + mount,
    port,
    mount,
    sourcePassword,
    adminPassword,
    get,
    setTitle: async (title) => {
      const q = new URLSearchParams({ mount, mode: 'updinfo', song: title });
      const { status, body, error } = await get(`/admin/metadata?${q.toString()}`, true);
      if (status !== 200 || !body.includes('<return>1</return>')) {
        throw new Error(`icecast refused the title (${status}${error ? `: ${error}` : ''}): ${body.trim()}`);
      }
    },
    close,
  };
}
