/**
 * Reads the host into `Facts` for diagnose(): the edge half of doctor.
 * Every probe degrades to "unknown" rather than throwing: doctor must work
 * on exactly the broken hosts it exists for.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { promisify } from 'node:util';
import { addrFromBuffer, formatAddr, isUnspecified } from '../membership/addr.js';
import { decodeMembership } from '../membership/codec.js';
import type { Facts, InterfaceFacts } from './checks.js';

const execFileP = promisify(execFile);

async function run(cmd: string, args: string[]): Promise<string | null> {
  try {
    const { stdout, stderr } = await execFileP(cmd, args, { timeout: 10_000, encoding: 'utf8' });
    return stdout || stderr;
  } catch (err) {
    const e = err as { code?: string; stdout?: string; stderr?: string };
    if (e.code === 'ENOENT') return null;
    // Some tools print their version and exit non-zero (dvblast -V).
    return e.stdout || e.stderr || null;
  }
}

function readSysctl(path: string): number {
  try {
    return Number(readFileSync(`/proc/sys/${path}`, 'utf8').trim());
  } catch {
    return 0;
  }
}

/** CAP_NET_ADMIN is bit 12, CAP_NET_RAW bit 13 of CapEff (linux/capability.h). */
export function capabilitiesOf(status: string): { netRaw: boolean; netAdmin: boolean } {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  const eff = m ? BigInt(`0x${m[1]}`) : 0n;
  return { netAdmin: ((eff >> 12n) & 1n) === 1n, netRaw: ((eff >> 13n) & 1n) === 1n };
}

interface IpAddrJson {
  ifname: string;
  flags: string[];
  addr_info: Array<{ family: string; local: string; scope: string; tentative?: boolean; dadfailed?: boolean }>;
}

async function interfaceFacts(names: string[]): Promise<InterfaceFacts[]> {
  const json = await run('ip', ['-j', 'addr', 'show']);
  const all: IpAddrJson[] = json ? JSON.parse(json) : [];
  const rpAll = readSysctl('net/ipv4/conf/all/rp_filter');
  return names.map((name) => {
    const link = all.find((l) => l.ifname === name);
    const addrs = link?.addr_info ?? [];
    return {
      name,
      exists: !!link,
      up: !!link?.flags.includes('UP'),
      lowerUp: !!link?.flags.includes('LOWER_UP'),
      multicastFlag: !!link?.flags.includes('MULTICAST'),
      ipv4: addrs.filter((a) => a.family === 'inet').map((a) => a.local),
      linkLocal6: addrs.filter((a) => a.family === 'inet6' && a.scope === 'link' && !a.tentative && !a.dadfailed).map((a) => a.local),
      global6: addrs.filter((a) => a.family === 'inet6' && a.scope === 'global').map((a) => a.local),
      disableIpv6: readSysctl(`net/ipv6/conf/${name}/disable_ipv6`) === 1,
      // The kernel applies the larger of conf/all and conf/IF (ip-sysctl.rst).
      rpFilter: Math.max(rpAll, readSysctl(`net/ipv4/conf/${name}/rp_filter`)),
      forceMldVersion: readSysctl(`net/ipv6/conf/${name}/force_mld_version`),
      forceIgmpVersion: readSysctl(`net/ipv4/conf/${name}/force_igmp_version`),
    };
  });
}

async function routeDev(args: string[]): Promise<string | null> {
  const out = await run('ip', ['-j', ...args]);
  try {
    const routes = JSON.parse(out ?? '[]') as Array<{ dev?: string }>;
    return routes[0]?.dev ?? null;
  } catch {
    return null;
  }
}

async function firewallText(): Promise<string | null> {
  const nft = await run('nft', ['list', 'ruleset']);
  const ipt = await run('iptables-save', []);
  const ip6t = await run('ip6tables-save', []);
  const parts = [nft, ipt, ip6t].filter((p): p is string => p !== null);
  return parts.length ? parts.join('\n') : null;
}

/** Listens on the raw IGMP/MLD sockets for queries from other routers. */
async function listenForQueriers(names: string[], listenMs: number): Promise<Pick<Facts, 'queriers' | 'listenError'>> {
  const queriers: Facts['queriers'] = [];
  let native: typeof import('../native/index.js');
  try {
    native = await import('../native/index.js');
    native.loadNative();
  } catch (err) {
    return { queriers, listenError: (err as Error).message };
  }
  const byIndex = new Map<number, string>();
  for (const n of names) {
    try { byIndex.set(native.loadNative().ifNameToIndex(n), n); } catch { /* missing: reported elsewhere */ }
  }
  const seen = new Set<string>();
  const sockets: Array<{ close(): void }> = [];
  const onPacket = (family: 4 | 6) => (err: Error | null, pkt?: import('../native/index.js').RawPacket) => {
    if (err || !pkt || pkt.error) return;
    const iface = byIndex.get(pkt.ifindex);
    if (!iface) return;
    try {
      const from = addrFromBuffer(pkt.from, 0, family === 4 ? 4 : 16);
      const msg = decodeMembership(family === 4 ? 'igmp' : 'mld', pkt.payload);
      if (msg.kind !== 'query') return;
      const version = `${msg.proto === 'igmp' ? 'IGMPv' : 'MLDv'}${msg.version}`;
      const address = isUnspecified(from) ? `${formatAddr(from)} (a snooping bridge's querier)` : formatAddr(from);
      const key = `${iface}|${address}|${version}`;
      if (!seen.has(key)) { seen.add(key); queriers.push({ iface, family, address, version }); }
    } catch { /* malformed: not a querier we can name */ }
  };
  try {
    for (const family of [4, 6] as const) sockets.push(native.openMembershipSocket(family, onPacket(family)));
  } catch (err) {
    for (const s of sockets) s.close();
    return { queriers, listenError: (err as Error).message };
  }
  await new Promise((r) => setTimeout(r, listenMs));
  for (const s of sockets) s.close();
  return { queriers };
}

function databaseFacts(path: string): Facts['database'] {
  const full = resolve(path);
  const dir = dirname(full);
  try {
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
    accessSync(existsSync(full) ? full : dir, constants.W_OK);
    return { path: full, writable: true };
  } catch (err) {
    return { path: full, writable: false, error: (err as Error).message };
  }
}

export async function gatherFacts(opts: { interfaces: string[]; ffmpeg: string; database: string; listenMs: number }): Promise<Facts> {
  const firstLine = (s: string | null) => (s ? s.split('\n').find((l) => l.trim())?.trim() ?? null : null);
  const [ffmpeg, dvblast, dvblastctl, interfaces, ipv6Dev, ipv4Dev, firewall, listen] = await Promise.all([
    run(opts.ffmpeg, ['-hide_banner', '-version']).then(firstLine),
    run('dvblast', ['-V']).then(firstLine),
    run('which', ['dvblastctl']).then(firstLine),
    interfaceFacts(opts.interfaces),
    routeDev(['-6', 'route', 'get', 'ff3e:40:2001:db8::8000:1']),
    routeDev(['route', 'get', '232.1.1.1']),
    firewallText(),
    listenForQueriers(opts.interfaces, opts.listenMs),
  ]);
  return {
    capabilities: capabilitiesOf(readFileSync('/proc/self/status', 'utf8')),
    tools: { ffmpeg, dvblast, dvblastctl },
    interfaces,
    routeFor: { ipv6Group: 'ff3e:40:2001:db8::8000:1', ipv6Dev, ipv4Group: '232.1.1.1', ipv4Dev },
    firewall,
    ...listen,
    listenMs: opts.listenMs,
    database: databaseFacts(opts.database),
  };
}
