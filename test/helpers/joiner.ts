/**
 * joiner: a multicast listener driven over stdin, for end-to-end tests.
 * It is a real host application: the kernel of the namespace it runs in sends
 * the IGMP/MLD reports, exactly as for VLC or ffplay.
 *
 * Run it inside a test namespace:
 *   ns.spawn(process.execPath, ['--import', 'tsx', 'test/helpers/joiner.ts'],
 *            { cwd: '/work/main', stdio: ['pipe', 'pipe', 'pipe'] })
 *
 * Protocol: one command per line on stdin, one answer line per command on
 * stdout, in order.
 *   join GROUP IFACE            any-source join (IGMPv3 TO_EX{} / MLDv2 TO_EX{})
 *   join GROUP SOURCE IFACE     source-specific join (ALLOW{SOURCE})
 *   leave GROUP IFACE           leave an any-source join (TO_IN{})
 *   leave GROUP SOURCE IFACE    leave a source-specific join (BLOCK{SOURCE})
 *   exit                        answers "ok exit", closes the sockets, exits 0
 * Answers: "ok <the command as given>" or "error <the command>: <why>".
 * At start it prints "ready" once. The family is the GROUP's. IPv4 joins use
 * the interface's first IPv4 address (the socket API names an IPv4 interface
 * by address), so the interface needs one; IPv6 joins name it by index.
 * stdin closing behaves as "exit".
 *
 * From a test, `startJoiner(ns)` below spawns it and returns a client whose
 * join/leave resolve with the "ok" line and reject with the "error" line.
 */
import dgram from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';
import { networkInterfaces } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import type { Netns } from './netns.js';

type Family = 'udp4' | 'udp6';
const sockets = new Map<Family, Promise<dgram.Socket>>();

/** One socket per family, bound to an ephemeral port; memberships live on it. */
function socketFor(family: Family): Promise<dgram.Socket> {
  let s = sockets.get(family);
  if (!s) {
    s = new Promise((resolve, reject) => {
      const sock = dgram.createSocket({ type: family, reuseAddr: true });
      sock.once('error', reject);
      sock.bind(0, () => resolve(sock));
    });
    sockets.set(family, s);
  }
  return s;
}

function interfaceArg(family: Family, iface: string): string {
  if (family === 'udp6') return `::%${iface}`;
  const addrs = networkInterfaces()[iface];
  if (!addrs) throw new Error(`no interface ${iface}`);
  const v4 = addrs.find((a) => a.family === 'IPv4');
  if (!v4) throw new Error(`interface ${iface} has no IPv4 address`);
  return v4.address;
}

async function handle(line: string): Promise<string> {
  const words = line.trim().split(/\s+/);
  const [verb, ...rest] = words;
  if (verb !== 'join' && verb !== 'leave') throw new Error(`unknown command "${verb}" (join, leave, exit)`);
  if (rest.length !== 2 && rest.length !== 3) throw new Error(`usage: ${verb} GROUP [SOURCE] IFACE`);
  const group = rest[0];
  const source = rest.length === 3 ? rest[1] : undefined;
  const iface = rest[rest.length - 1];
  const family: Family | undefined = isIPv4(group) ? 'udp4' : isIPv6(group) ? 'udp6' : undefined;
  if (!family) throw new Error(`bad group "${group}"`);
  if (source !== undefined && (family === 'udp4' ? !isIPv4(source) : !isIPv6(source))) {
    throw new Error(`source "${source}" is not of the group's family`);
  }
  const sock = await socketFor(family);
  const ifArg = interfaceArg(family, iface);
  if (source === undefined) {
    if (verb === 'join') sock.addMembership(group, ifArg);
    else sock.dropMembership(group, ifArg);
  } else if (verb === 'join') {
    sock.addSourceSpecificMembership(source, group, ifArg);
  } else {
    sock.dropSourceSpecificMembership(source, group, ifArg);
  }
  return `ok ${words.join(' ')}`;
}

async function exit(): Promise<never> {
  for (const s of sockets.values()) {
    try { (await s).close(); } catch { /* never bound */ }
  }
  process.exit(0);
}

function main(): void {
  const rl = createInterface({ input: process.stdin });
  // Commands run strictly one after another so answers come back in order.
  let queue = Promise.resolve();
  rl.on('line', (line) => {
    queue = queue.then(async () => {
      const cmd = line.trim();
      if (cmd === '') return;
      if (cmd === 'exit') {
        process.stdout.write('ok exit\n');
        await exit();
      }
      try {
        process.stdout.write(`${await handle(cmd)}\n`);
      } catch (err) {
        const why = String((err as Error)?.message ?? err).replace(/\s+/g, ' ');
        process.stdout.write(`error ${cmd}: ${why}\n`);
      }
    });
  });
  rl.on('close', () => { queue = queue.then(exit); });
  process.stdout.write('ready\n');
}

// ---------------------------------------------------------------- client side

const THIS_FILE = fileURLToPath(import.meta.url);
const REPO = resolve(dirname(THIS_FILE), '..', '..');

export interface Joiner {
  readonly child: ChildProcess;
  /** Sends one command line; resolves with the "ok ..." answer, rejects with the "error ..." one. */
  command(line: string): Promise<string>;
  join(group: string, iface: string, source?: string): Promise<string>;
  leave(group: string, iface: string, source?: string): Promise<string>;
  /** "exit", then waits for the process to end. Safe to call twice. */
  close(): Promise<void>;
}

/** Spawns the joiner inside `ns` (the Lab stops it on close too) and waits for "ready". */
export async function startJoiner(ns: Netns, timeoutMs = 10_000): Promise<Joiner> {
  const child = ns.spawn(process.execPath, ['--import', 'tsx', THIS_FILE], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
  const lines = createInterface({ input: child.stdout! });
  const waiting: Array<{ resolve: (l: string) => void; reject: (e: Error) => void }> = [];
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  const gone = new Promise<void>((res) => child.once('exit', () => res()));
  void gone.then(() => {
    for (const w of waiting.splice(0)) w.reject(new Error(`joiner exited: ${stderr.trim() || 'no stderr'}`));
  });
  lines.on('line', (l) => waiting.shift()?.resolve(l));
  const next = () => new Promise<string>((res, rej) => waiting.push({ resolve: res, reject: rej }));
  const ready = next();
  const timer = setTimeout(() => waiting[0]?.reject(new Error(`joiner not ready after ${timeoutMs} ms: ${stderr.trim()}`)), timeoutMs);
  try {
    const first = await ready;
    if (first !== 'ready') throw new Error(`joiner said "${first}" instead of "ready"`);
  } finally {
    clearTimeout(timer);
  }
  const command = async (line: string): Promise<string> => {
    const answer = next();
    child.stdin!.write(`${line}\n`);
    const got = await answer;
    if (!got.startsWith('ok ')) throw new Error(`joiner: ${got}`);
    return got;
  };
  const args = (group: string, iface: string, source?: string) => (source ? `${group} ${source} ${iface}` : `${group} ${iface}`);
  let closing: Promise<void> | undefined;
  return {
    child,
    command,
    join: (group, iface, source) => command(`join ${args(group, iface, source)}`),
    leave: (group, iface, source) => command(`leave ${args(group, iface, source)}`),
    close: () => {
      closing ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.stdin!.end('exit\n');
          await gone;
        }
      })();
      return closing;
    },
  };
}

if (process.argv[1] && resolve(process.argv[1]) === THIS_FILE) main();
