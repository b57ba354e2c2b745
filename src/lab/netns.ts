/**
 * Network namespaces as real Linux hosts on a veth pair or a bridge: what
 * `headend lab` runs on, and the end-to-end tests too (test/helpers/netns.ts
 * re-exports this). Every namespace and process made here is removed by
 * `close()`, and, as a last resort, when this process exits or gets
 * SIGINT/SIGTERM (even on failure). Processes are stopped by PID, never by
 * name. It lives in src/ so the built CLI runs the lab without the test tree.
 *
 * Names carry this process's pid so that parallel test files never clash:
 * `ht<pid>x<n>`. Interfaces are created directly inside their namespace, so
 * short fixed names (`lan0`, `eth0`) are safe.
 */
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

let counter = 0;
const liveLabs = new Set<Lab>();

function cleanupAllSync(): void {
  for (const lab of liveLabs) lab.closeSync();
}

// Hooked when the first Lab is made, not on import: importing this module
// (for canUseNetns, say) leaves the process's signal handling alone.
let exitHooked = false;
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.once('exit', cleanupAllSync);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      cleanupAllSync();
      process.exit(130);
    });
  }
}

export interface Netns {
  readonly name: string;
  /** Runs a command inside the namespace; rejects with stderr on failure. */
  exec(cmd: string, args?: string[], opts?: { timeoutMs?: number; input?: string }): Promise<string>;
  /** Starts a long-running process inside the namespace; stopped by close(). */
  spawn(cmd: string, args?: string[], opts?: SpawnOptions): ChildProcess;
}

export class Lab {
  readonly namespaces: string[] = [];
  private readonly children = new Set<ChildProcess>();
  private closed = false;

  constructor() {
    hookExit();
    liveLabs.add(this);
  }

  /** A fresh namespace with loopback up and IPv6 DAD off (addresses usable at once). */
  async netns(role: string): Promise<Netns> {
    const name = `ht${process.pid}x${++counter}${role.replace(/[^a-z0-9]/gi, '').slice(0, 8)}`;
    await run('ip', ['netns', 'add', name]);
    this.namespaces.push(name);
    const ns = this.handle(name);
    await ns.exec('ip', ['link', 'set', 'lo', 'up']);
    for (const key of ['all', 'default']) {
      await ns.exec('sysctl', ['-qw', `net.ipv6.conf.${key}.accept_dad=0`]);
      await ns.exec('sysctl', ['-qw', `net.ipv6.conf.${key}.dad_transmits=0`]);
    }
    return ns;
  }

  /** A veth pair `a:ifA <-> b:ifB`, both up. Returns once IPv6 link-locals exist. */
  async veth(a: Netns, ifA: string, b: Netns, ifB: string): Promise<void> {
    await a.exec('ip', ['link', 'add', ifA, 'type', 'veth', 'peer', 'name', ifB, 'netns', b.name]);
    await a.exec('ip', ['link', 'set', ifA, 'up']);
    await b.exec('ip', ['link', 'set', ifB, 'up']);
    await waitLinkLocal(a, ifA);
    await waitLinkLocal(b, ifB);
  }

  /**
   * A bridge `br0` in `hub` with one veth port per host (`hostIf` inside each
   * host, `p<i>` on the bridge), plus `uplinkIf` in `headend` attached as
   * well. Multicast snooping off unless asked, so every host hears every
   * report, as on a plain switch.
   */
  async bridge(hub: Netns, headend: Netns, uplinkIf: string, hosts: Netns[], hostIf = 'eth0', snooping = false): Promise<void> {
    await hub.exec('ip', ['link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', snooping ? '1' : '0']);
    await hub.exec('ip', ['link', 'set', 'br0', 'up']);
    const ports: Array<[Netns, string]> = [[headend, uplinkIf], ...hosts.map((h): [Netns, string] => [h, hostIf])];
    for (const [i, [host, ifName]] of ports.entries()) {
      const port = `p${i}`;
      await hub.exec('ip', ['link', 'add', port, 'type', 'veth', 'peer', 'name', ifName, 'netns', host.name]);
      await hub.exec('ip', ['link', 'set', port, 'master', 'br0']);
      await hub.exec('ip', ['link', 'set', port, 'up']);
      await host.exec('ip', ['link', 'set', ifName, 'up']);
    }
    for (const [host, ifName] of ports) await waitLinkLocal(host, ifName);
  }

  handle(name: string): Netns {
    return {
      name,
      exec: async (cmd, args = [], opts = {}) => {
        const { stdout } = await run('ip', ['netns', 'exec', name, cmd, ...args], opts);
        return stdout;
      },
      spawn: (cmd, args = [], opts = {}) => {
        const child = spawn('ip', ['netns', 'exec', name, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
        this.children.add(child);
        child.once('exit', () => this.children.delete(child));
        return child;
      },
    };
  }

  /** Stops every process started here (SIGTERM, then SIGKILL) and deletes the namespaces. */
  async close(): Promise<void> {
    if (this.closed) return;
    const exits = [...this.children].map(
      (c) => new Promise<void>((resolve) => {
        if (c.exitCode !== null || c.signalCode !== null) return resolve();
        c.once('exit', () => resolve());
        c.kill('SIGTERM');
        setTimeout(() => { c.kill('SIGKILL'); resolve(); }, 2000).unref();
      }),
    );
    await Promise.all(exits);
    this.closeSync();
  }

  closeSync(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const name of this.namespaces) {
      // Processes still inside (started by commands we ran) die with SIGKILL by PID.
      try {
        const pids = execFileSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).split(/\s+/).filter(Boolean);
        for (const pid of pids) { try { process.kill(Number(pid), 'SIGKILL'); } catch { /* already gone */ } }
      } catch { /* namespace already gone */ }
      try { execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' }); } catch { /* already gone */ }
    }
    liveLabs.delete(this);
  }
}

async function run(cmd: string, args: string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<{ stdout: string }> {
  try {
    const p = execFileP(cmd, args, { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 64 << 20, encoding: 'utf8' });
    if (opts.input !== undefined) { p.child.stdin?.end(opts.input); }
    return await p;
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  }
}

/** The interface's IPv6 link-local address, once it exists and is not tentative. */
export async function waitLinkLocal(ns: Netns, ifName: string, timeoutMs = 5000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out = await ns.exec('ip', ['-6', '-j', 'addr', 'show', 'dev', ifName, 'scope', 'link']);
    const info = JSON.parse(out || '[]') as Array<{ addr_info: Array<{ local: string; tentative?: boolean }> }>;
    // `ip -j` lists addresses filtered out by `scope link` as {}: skip those.
    const addr = info[0]?.addr_info.find((a) => a.local && !a.tentative);
    if (addr) return addr.local;
    if (Date.now() > deadline) throw new Error(`no link-local address on ${ns.name}/${ifName} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** True when this process may create namespaces (root with iproute2). */
export function canUseNetns(): boolean {
  try {
    return process.getuid?.() === 0 && execFileSync('ip', ['netns', 'list'], { stdio: 'pipe' }) !== undefined;
  } catch {
    return false;
  }
}
