#!/usr/bin/env node
/**
 * Captures IGMP and MLD messages from real Linux hosts in network namespaces
 * and writes them as fixtures/membership/<name>.json, so the codecs are
 * tested against what kernels really send, not against our own encoder.
 *
 *   node --import tsx scripts/capture-membership-fixtures.ts [--out DIR]
 *
 * Needs root (namespaces), tcpdump, and python3 with scapy (for the one
 * message no Linux sends: an IGMPv1 query). Topology: a host namespace whose
 * eth0 sits on bridge br0 in a hub namespace. tcpdump runs on the host's
 * eth0 and sees both what the host sends (reports, made by the kernel when
 * test/helpers/joiner.ts joins and leaves) and what the bridge sends (queries:
 * the Linux bridge querier, `mcast_querier 1`).
 *
 * Each fixture holds the IGMP/ICMPv6 message bytes (hex, no IP header), the IP
 * source, destination, TTL/hop limit and Router Alert as captured, what
 * produced it, and what it must decode to ("expect", written from what this
 * script did, not from our decoder: fields of messageToJson; "records" must
 * match exactly, "recordsInclude" must each be present). Hand-made broken messages are written
 * here too (kind "garbage"), each with the CodecError it must raise.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir, release } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab, waitLinkLocal, type Netns } from '../test/helpers/netns.js';
import { startJoiner } from '../test/helpers/joiner.js';


// ---------------------------------------------------------------- pcap reading

export interface CapturedPacket {
  proto: 'igmp' | 'mld';
  from: string;
  to: string;
  ttl: number;
  routerAlert: boolean;
  /** The IGMP or ICMPv6 message only. */
  payload: Buffer;
}

function ipv4Text(b: Buffer, off: number): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

function ipv6Text(b: Buffer, off: number): string {
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(b.readUInt16BE(off + i).toString(16));
  // Compress with the OS's own formatter rules via URL parsing of a bracketed host.
  return new URL(`http://[${words.join(':')}]/`).hostname.slice(1, -1);
}

/** IGMP and ICMPv6 MLD messages from an Ethernet pcap file (libpcap format, either byte order). */
export function readPcap(file: Buffer): CapturedPacket[] {
  if (file.length < 24) return [];
  const magic = file.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const u32 = (o: number) => (le ? file.readUInt32LE(o) : file.readUInt32BE(o));
  if (u32(20) !== 1) throw new Error(`pcap link type ${u32(20)}, expected Ethernet`);
  const out: CapturedPacket[] = [];
  for (let off = 24; off + 16 <= file.length; ) {
    const incl = u32(off + 8);
    const frame = file.subarray(off + 16, off + 16 + incl);
    off += 16 + incl;
    if (frame.length < 14 + 20) continue;
    const etherType = frame.readUInt16BE(12);
    const ip = frame.subarray(14);
    if (etherType === 0x0800 && ip[9] === 2) {
      const ihl = (ip[0] & 0x0f) * 4;
      const total = ip.readUInt16BE(2);
      let routerAlert = false;
      for (let o = 20; o < ihl; ) {
        const t = ip[o];
        if (t === 0) break;
        if (t === 1) { o++; continue; }
        if (t === 0x94) routerAlert = true;
        o += Math.max(2, ip[o + 1]);
      }
      out.push({ proto: 'igmp', from: ipv4Text(ip, 12), to: ipv4Text(ip, 16), ttl: ip[8], routerAlert, payload: Buffer.from(ip.subarray(ihl, total)) });
    } else if (etherType === 0x86dd && ip.length >= 40) {
      let next = ip[6];
      let o = 40;
      const end = 40 + ip.readUInt16BE(4);
      let routerAlert = false;
      if (next === 0) {
        // Hop-by-hop options (RFC 8200 §4.3), Router Alert is option 5 (RFC 2711).
        const hbhEnd = o + (ip[o + 1] + 1) * 8;
        for (let p = o + 2; p < hbhEnd; ) {
          if (ip[p] === 0) { p++; continue; }
          if (ip[p] === 5) routerAlert = true;
          p += 2 + ip[p + 1];
        }
        next = ip[o];
        o = hbhEnd;
      }
      if (next !== 58 || ![130, 131, 132, 143].includes(ip[o])) continue;
      out.push({ proto: 'mld', from: ipv6Text(ip, 8), to: ipv6Text(ip, 24), ttl: ip[7], routerAlert, payload: Buffer.from(ip.subarray(o, end)) });
    }
  }
  return out;
}

// ---------------------------------------------------------------- capturing

let work: string | undefined;
let captures = 0;

/** Removes the pcap files made by capture(). */
export function removeCaptures(): void {
  if (work) rmSync(work, { recursive: true, force: true });
  work = undefined;
}

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await probe();
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGINT');
  await gone;
}

/**
 * Runs `action` while tcpdump records `iface` in `ns`, until a packet
 * satisfying `want` shows up; returns it.
 */
export async function capture(ns: Netns, iface: string, what: string, action: () => Promise<unknown>, want: (p: CapturedPacket) => boolean, timeoutMs = 8000): Promise<CapturedPacket> {
  work ??= mkdtempSync(join(tmpdir(), 'headend-capture-'));
  const file = join(work, `c${++captures}.pcap`);
  const tcpdump = ns.spawn('tcpdump', ['-Z', 'root', '-U', '-n', '-i', iface, '-w', file]);
  let stderr = '';
  tcpdump.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  try {
    await waitFor(`tcpdump on ${iface}`, () => (stderr.includes('listening on') ? true : undefined), 5000);
    await action();
    const seen = () => { try { return readPcap(readFileSync(file)); } catch { return []; } };
    try {
      return await waitFor(what, () => seen().find(want), timeoutMs);
    } catch (err) {
      const got = seen().map((p) => `  ${p.from} -> ${p.to} ${p.payload.toString('hex')}`).join('\n');
      throw new Error(`${(err as Error).message}; captured instead:\n${got || '  nothing'}`);
    }
  } finally {
    await stop(tcpdump);
  }
}

/** Parses dotted / colon address text to bytes without our own addr.ts (so fixtures stay independent of it). */
export function addrBytes(text: string): Buffer {
  if (text.includes('.')) return Buffer.from(text.split('.').map(Number));
  const [l, r] = text.split('::');
  const lw = l ? l.split(':') : [];
  const rw = r ? r.split(':') : [];
  const words = r === undefined ? lw : [...lw, ...Array(8 - lw.length - rw.length).fill('0'), ...rw];
  const b = Buffer.alloc(16);
  words.forEach((w, i) => b.writeUInt16BE(parseInt(w, 16), i * 2));
  return b;
}

const hasGroup = (p: CapturedPacket, group: string) => p.payload.includes(addrBytes(group));
/** A report whose first record has this type and group. */
const reportOf = (proto: 'igmp' | 'mld', recordType: number, group: string) => (p: CapturedPacket) =>
  p.proto === proto && p.payload[0] === (proto === 'igmp' ? 0x22 : 143) && p.payload[8] === recordType && hasGroup(p, group);

/** Record types of a v3/MLDv2 report, walked without our codec. */
function recordTypes(p: CapturedPacket): number[] {
  const width = p.proto === 'igmp' ? 4 : 16;
  const types: number[] = [];
  let off = 8;
  for (let i = 0; i < p.payload.readUInt16BE(6) && off + 4 <= p.payload.length; i++) {
    types.push(p.payload[off]);
    off += 4 + width + p.payload.readUInt16BE(off + 2) * width + p.payload[off + 1] * 4;
  }
  return types;
}

interface Fixture {
  name: string;
  description: string;
  producedBy: string;
  proto: 'igmp' | 'mld';
  hex: string;
  from?: string;
  to?: string;
  ttl?: number;
  routerAlert?: boolean;
  expect?: Record<string, unknown>;
  expectError?: { reason: string; field?: string; offset?: number };
}

const fixtures: Fixture[] = [];
const KERNEL = `Linux ${release()}`;

function keep(name: string, description: string, producedBy: string, p: CapturedPacket, expect: Record<string, unknown>): void {
  fixtures.push({
    name, description, producedBy: `${KERNEL}: ${producedBy}`, proto: p.proto, hex: p.payload.toString('hex'),
    from: p.from, to: p.to, ttl: p.ttl, routerAlert: p.routerAlert, expect,
  });
  console.error(`captured ${name}: ${p.from} -> ${p.to} ${p.payload.toString('hex')}`);
}

const sh = (ns: Netns, cmd: string) => ns.exec('sh', ['-c', cmd]);

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const OUT = args.includes('--out') ? args[args.indexOf('--out') + 1] : 'fixtures/membership';
  const lab = new Lab();
  try {
    const hub = await lab.netns('hub');
    const host = await lab.netns('host');
    await lab.bridge(hub, host, 'eth0', [], 'eth0', true);
    await sh(hub, 'ip addr add 10.9.0.1/24 dev br0');
    await sh(host, 'ip addr add 10.9.0.2/24 dev eth0 && ip -6 addr add 2001:db8:9::2/64 dev eth0');
    await waitLinkLocal(hub, 'br0');
    // Querier off while hosts report state changes, so no query answers get mixed in. Versions set
    // now: the bridge defaults to IGMPv2/MLDv1, and one old query puts hosts in compatibility mode.
    await sh(hub, 'ip link set br0 type bridge mcast_querier 0 mcast_query_use_ifaddr 1 mcast_query_response_interval 100 mcast_igmp_version 3 mcast_mld_version 2');
    const joiner = await startJoiner(host);
    const J = 'test/helpers/joiner.ts';
    const ssm4 = '232.1.1.1', src4 = '10.9.0.1', asm4 = '239.1.1.1';
    const ssm6 = 'ff3e:40:2001:db8:1:0:8000:1', src6 = '2001:db8:1::1', asm6 = 'ff0e::1:1', asm6b = 'ff1e::1:2';
    const rec = (type: number, group: string, sources: string[] = []) => ({ typeNumber: type, group, sources });

    // ---- IGMPv3 state-change reports (RFC 9776 §5.1)
    keep('igmpv3-report-allow-ssm-join', `IGMPv3 report ALLOW(${src4}) for SSM ${ssm4}`, `${J} join ${ssm4} ${src4} eth0 (IP_ADD_SOURCE_MEMBERSHIP)`,
      await capture(host, 'eth0', 'IGMPv3 ALLOW', () => joiner.join(ssm4, 'eth0', src4), reportOf('igmp', 5, ssm4)),
      { kind: 'report', version: 3, records: [rec(5, ssm4, [src4])] });
    keep('igmpv3-report-block-ssm-leave', `IGMPv3 report BLOCK(${src4}) for SSM ${ssm4}`, `${J} leave ${ssm4} ${src4} eth0 (IP_DROP_SOURCE_MEMBERSHIP)`,
      await capture(host, 'eth0', 'IGMPv3 BLOCK', () => joiner.leave(ssm4, 'eth0', src4), reportOf('igmp', 6, ssm4)),
      { kind: 'report', version: 3, records: [rec(6, ssm4, [src4])] });
    keep('igmpv3-report-to-ex-asm-join', `IGMPv3 report TO_EX({}) for ASM ${asm4}`, `${J} join ${asm4} eth0 (IP_ADD_MEMBERSHIP)`,
      await capture(host, 'eth0', 'IGMPv3 TO_EX', () => joiner.join(asm4, 'eth0'), reportOf('igmp', 4, asm4)),
      { kind: 'report', version: 3, records: [rec(4, asm4)] });
    keep('igmpv3-report-to-in-asm-leave', `IGMPv3 report TO_IN({}) for ASM ${asm4}`, `${J} leave ${asm4} eth0 (IP_DROP_MEMBERSHIP)`,
      await capture(host, 'eth0', 'IGMPv3 TO_IN', () => joiner.leave(asm4, 'eth0'), reportOf('igmp', 3, asm4)),
      { kind: 'report', version: 3, records: [rec(3, asm4)] });

    // ---- IGMPv2 and IGMPv1 (RFC 2236, RFC 1112): the host forced to the old version
    await sh(host, 'sysctl -qw net.ipv4.conf.eth0.force_igmp_version=2');
    const v2g = '239.1.1.2';
    keep('igmpv2-report', `IGMPv2 membership report for ${v2g}`, `force_igmp_version=2; ${J} join ${v2g} eth0`,
      await capture(host, 'eth0', 'IGMPv2 report', () => joiner.join(v2g, 'eth0'), (p) => p.payload[0] === 0x16 && hasGroup(p, v2g)),
      { kind: 'legacy-report', version: 2, group: v2g });
    keep('igmpv2-leave', `IGMPv2 leave group for ${v2g}`, `force_igmp_version=2; ${J} leave ${v2g} eth0`,
      await capture(host, 'eth0', 'IGMPv2 leave', () => joiner.leave(v2g, 'eth0'), (p) => p.payload[0] === 0x17 && hasGroup(p, v2g)),
      { kind: 'legacy-leave', version: 2, group: v2g });
    await sh(host, 'sysctl -qw net.ipv4.conf.eth0.force_igmp_version=1');
    const v1g = '239.1.1.3';
    keep('igmpv1-report', `IGMPv1 membership report for ${v1g}`, `force_igmp_version=1; ${J} join ${v1g} eth0`,
      await capture(host, 'eth0', 'IGMPv1 report', () => joiner.join(v1g, 'eth0'), (p) => p.payload[0] === 0x12 && hasGroup(p, v1g)),
      { kind: 'legacy-report', version: 1, group: v1g });
    await joiner.leave(v1g, 'eth0');
    await sh(host, 'sysctl -qw net.ipv4.conf.eth0.force_igmp_version=0');

    // ---- MLDv2 state-change reports (RFC 9777 §6.1)
    keep('mldv2-report-allow-ssm-join', `MLDv2 report ALLOW(${src6}) for SSM ${ssm6}`, `${J} join ${ssm6} ${src6} eth0 (MCAST_JOIN_SOURCE_GROUP)`,
      await capture(host, 'eth0', 'MLDv2 ALLOW', () => joiner.join(ssm6, 'eth0', src6), reportOf('mld', 5, ssm6)),
      { kind: 'report', version: 2, records: [rec(5, ssm6, [src6])] });
    keep('mldv2-report-block-ssm-leave', `MLDv2 report BLOCK(${src6}) for SSM ${ssm6}`, `${J} leave ${ssm6} ${src6} eth0 (MCAST_LEAVE_SOURCE_GROUP)`,
      await capture(host, 'eth0', 'MLDv2 BLOCK', () => joiner.leave(ssm6, 'eth0', src6), reportOf('mld', 6, ssm6)),
      { kind: 'report', version: 2, records: [rec(6, ssm6, [src6])] });
    keep('mldv2-report-to-ex-asm-join', `MLDv2 report TO_EX({}) for ASM ${asm6}`, `${J} join ${asm6} eth0 (IPV6_JOIN_GROUP)`,
      await capture(host, 'eth0', 'MLDv2 TO_EX', () => joiner.join(asm6, 'eth0'), reportOf('mld', 4, asm6)),
      { kind: 'report', version: 2, records: [rec(4, asm6)] });
    keep('mldv2-report-to-in-asm-leave', `MLDv2 report TO_IN({}) for ASM ${asm6}`, `${J} leave ${asm6} eth0 (IPV6_LEAVE_GROUP)`,
      await capture(host, 'eth0', 'MLDv2 TO_IN', () => joiner.leave(asm6, 'eth0'), reportOf('mld', 3, asm6)),
      { kind: 'report', version: 2, records: [rec(3, asm6)] });
    keep('mldv2-report-to-ex-asm-ff1e', `MLDv2 report TO_EX({}) for transient ASM ${asm6b}`, `${J} join ${asm6b} eth0`,
      await capture(host, 'eth0', 'MLDv2 TO_EX ff1e', () => joiner.join(asm6b, 'eth0'), reportOf('mld', 4, asm6b)),
      { kind: 'report', version: 2, records: [rec(4, asm6b)] });
    await joiner.leave(asm6b, 'eth0');

    // ---- MLDv1 (RFC 2710): the host forced to version 1
    await sh(host, 'sysctl -qw net.ipv6.conf.eth0.force_mld_version=1');
    const m1g = 'ff1e::1:3';
    keep('mldv1-report', `MLDv1 listener report for ${m1g}`, `force_mld_version=1; ${J} join ${m1g} eth0`,
      await capture(host, 'eth0', 'MLDv1 report', () => joiner.join(m1g, 'eth0'), (p) => p.payload[0] === 131 && hasGroup(p, m1g)),
      { kind: 'legacy-report', version: 1, group: m1g });
    keep('mldv1-done', `MLDv1 listener done for ${m1g}`, `force_mld_version=1; ${J} leave ${m1g} eth0`,
      await capture(host, 'eth0', 'MLDv1 done', () => joiner.leave(m1g, 'eth0'), (p) => p.payload[0] === 132 && hasGroup(p, m1g)),
      { kind: 'legacy-leave', version: 1, group: m1g });
    await sh(host, 'sysctl -qw net.ipv6.conf.eth0.force_mld_version=0');

    // ---- Queries from the Linux bridge querier. Toggling mcast_querier makes it send a general query at once.
    const querier = async (opts: string) => {
      await sh(hub, `ip link set br0 type bridge mcast_querier 0 ${opts}`);
      await sh(hub, 'ip link set br0 type bridge mcast_querier 1');
    };
    const general4 = (version: number) => (p: CapturedPacket) => p.payload[0] === 0x11 && p.from === src4 &&
      (version === 3 ? p.payload.length >= 12 : p.payload.length === 8) && p.payload.readUInt32BE(4) === 0;
    const general6 = (version: number) => (p: CapturedPacket) => p.payload[0] === 130 && p.to === 'ff02::1' &&
      (version === 2 ? p.payload.length >= 28 : p.payload.length === 24);
    const q = (group: string, extra: Record<string, unknown>) => ({ kind: 'query', group, ...extra });
    // mcast_query_response_interval 100 centiseconds = 1 s; query interval default 125 s; robustness 2.
    keep('igmpv3-query-general', 'IGMPv3 general query from a Linux bridge querier', 'bridge br0 mcast_querier 1 mcast_igmp_version 3',
      await capture(host, 'eth0', 'IGMPv3 general query', () => querier('mcast_igmp_version 3'), general4(3)),
      q('0.0.0.0', { version: 3, maxRespMs: 1000, qrv: 2, qqicS: 125, sources: [] }));
    keep('mldv2-query-general', 'MLDv2 general query from a Linux bridge querier', 'bridge br0 mcast_querier 1 mcast_mld_version 2',
      await capture(host, 'eth0', 'MLDv2 general query', () => querier('mcast_mld_version 2'), general6(2)),
      q('::', { version: 2, maxRespMs: 1000, qrv: 2, qqicS: 125, sources: [] }));
    // Back to v3/MLDv2 querying; hosts answer a general query with current-state records (RFC 9776 §5.2).
    await querier('mcast_igmp_version 3 mcast_mld_version 2');
    const cs4 = '239.1.1.10', css4 = '232.1.1.10', cs6 = 'ff0e::1:10', css6 = 'ff3e:40:2001:db8:1:0:8000:10';
    await joiner.join(cs4, 'eth0');
    await joiner.join(css4, 'eth0', src4);
    await joiner.join(cs6, 'eth0');
    await joiner.join(css6, 'eth0', src6);
    // Current-state records only (IS_IN 1, IS_EX 2): state-change retransmissions may still be under way.
    const both = (a: string, b: string) => (p: CapturedPacket) => (p.payload[0] === 0x22 || p.payload[0] === 143) && hasGroup(p, a) && hasGroup(p, b) &&
      recordTypes(p).every((t) => t === 1 || t === 2);
    keep('igmpv3-report-current-state', `IGMPv3 current-state report (IS_EX for ${cs4}, IS_IN for ${css4}) answering a general query`,
      `${J} join ${cs4} and (${src4}, ${css4}); bridge querier general query`,
      await capture(host, 'eth0', 'IGMPv3 current-state report', () => querier(''), both(cs4, css4)),
      { kind: 'report', version: 3, recordsInclude: [rec(1, css4, [src4]), rec(2, cs4)] });
    keep('mldv2-report-current-state', `MLDv2 current-state report (IS_EX for ${cs6}, IS_IN for ${css6}) answering a general query`,
      `${J} join ${cs6} and (${src6}, ${css6}); bridge querier general query`,
      await capture(host, 'eth0', 'MLDv2 current-state report', () => querier(''), both(cs6, css6), 12_000),
      { kind: 'report', version: 2, recordsInclude: [rec(1, css6, [src6]), rec(2, cs6)] });

    // Leaves make the querier ask the group (and sources) specifically (RFC 9776 §6.4.2).
    const specific = (type: number, group: string, withSources: boolean) => (p: CapturedPacket) =>
      p.payload[0] === type && hasGroup(p, group) && (type === 0x11 ? p.payload.readUInt16BE(10) > 0 : p.payload.readUInt16BE(26) > 0) === withSources;
    keep('igmpv3-query-group-specific', `IGMPv3 group-specific query for ${cs4} after TO_IN({})`, `${J} leave ${cs4}; bridge querier`,
      await capture(host, 'eth0', 'IGMPv3 group-specific query', () => joiner.leave(cs4, 'eth0'), specific(0x11, cs4, false)),
      q(cs4, { version: 3, sources: [] }));
    keep('igmpv3-query-group-source-specific', `IGMPv3 group-and-source-specific query for (${src4}, ${css4}) after BLOCK`, `${J} leave ${css4} ${src4}; bridge querier`,
      await capture(host, 'eth0', 'IGMPv3 group-and-source-specific query', () => joiner.leave(css4, 'eth0', src4), specific(0x11, css4, true)),
      q(css4, { version: 3, sources: [src4] }));
    keep('mldv2-query-group-specific', `MLDv2 multicast-address-specific query for ${cs6} after TO_IN({})`, `${J} leave ${cs6}; bridge querier`,
      await capture(host, 'eth0', 'MLDv2 group-specific query', () => joiner.leave(cs6, 'eth0'), specific(130, cs6, false)),
      q(cs6, { version: 2, sources: [] }));
    keep('mldv2-query-group-source-specific', `MLDv2 multicast-address-and-source-specific query for (${src6}, ${css6}) after BLOCK`, `${J} leave ${css6} ${src6}; bridge querier`,
      await capture(host, 'eth0', 'MLDv2 group-and-source-specific query', () => joiner.leave(css6, 'eth0', src6), specific(130, css6, true)),
      q(css6, { version: 2, sources: [src6] }));
    // Old-version queries last: hearing one puts the host into v2 / MLDv1 compatibility mode (RFC 9776 §7.2.1).
    keep('igmpv2-query-general', 'IGMPv2 general query from a Linux bridge querier', 'bridge br0 mcast_querier 1 mcast_igmp_version 2',
      await capture(host, 'eth0', 'IGMPv2 general query', () => querier('mcast_igmp_version 2'), general4(2)),
      q('0.0.0.0', { version: 2, maxRespMs: 1000 }));
    keep('mldv1-query-general', 'MLDv1 general query from a Linux bridge querier', 'bridge br0 mcast_querier 1 mcast_mld_version 1',
      await capture(host, 'eth0', 'MLDv1 general query', () => querier('mcast_mld_version 1'), general6(1)),
      q('::', { version: 1, maxRespMs: 1000 }));

    // The host now runs in IGMPv2 / MLDv1 compatibility mode: a leave (done) makes the
    // old-version querier ask the group specifically (RFC 2236 §3, RFC 2710 §4).
    const old4 = '239.1.1.20', old6 = 'ff0e::1:20';
    await joiner.join(old4, 'eth0');
    await joiner.join(old6, 'eth0');
    const oldSpecific = (type: number, group: string, length: number) => (p: CapturedPacket) =>
      p.payload[0] === type && p.payload.length === length && hasGroup(p, group);
    keep('igmpv2-query-group-specific', `IGMPv2 group-specific query for ${old4} after a leave`, `bridge querier in IGMPv2 mode; ${J} leave ${old4}`,
      await capture(host, 'eth0', 'IGMPv2 group-specific query', () => joiner.leave(old4, 'eth0'), oldSpecific(0x11, old4, 8)),
      q(old4, { version: 2, maxRespMs: 1000 }));
    keep('mldv1-query-group-specific', `MLDv1 multicast-address-specific query for ${old6} after a done`, `bridge querier in MLDv1 mode; ${J} leave ${old6}`,
      await capture(host, 'eth0', 'MLDv1 group-specific query', () => joiner.leave(old6, 'eth0'), oldSpecific(130, old6, 24)),
      q(old6, { version: 1, maxRespMs: 1000 }));

    // Without mcast_query_use_ifaddr the bridge queries from 0.0.0.0, which an election must
    // ignore (PROTOCOLS.md §1 "Querier election").
    keep('igmpv3-query-general-from-unspecified', 'IGMPv3 general query from a Linux bridge querier without an address: source 0.0.0.0',
      'bridge br0 mcast_querier 1 mcast_igmp_version 3 mcast_query_use_ifaddr 0',
      await capture(host, 'eth0', 'IGMPv3 query from 0.0.0.0', () => querier('mcast_igmp_version 3 mcast_query_use_ifaddr 0'),
        (p) => p.payload[0] === 0x11 && p.from === '0.0.0.0' && p.payload.length >= 12),
      q('0.0.0.0', { version: 3, maxRespMs: 1000, qrv: 2, qqicS: 125, sources: [] }));

    await joiner.close();
  } finally {
    await lab.close();
  }

  // ---- IGMPv1 query: no Linux querier sends one (the bridge knows only 2 and 3), so scapy's
  // independent encoder builds it (RFC 1112 Appendix I: type 0x11, max resp 0, group 0).
  const v1q = execFileSync('/usr/bin/python3', ['-c',
    'from scapy.contrib.igmp import IGMP; import sys; sys.stdout.write(bytes(IGMP(type=0x11, mrcode=0, gaddr="0.0.0.0")).hex())'],
  { encoding: 'utf8' }).trim();
  fixtures.push({
    name: 'igmpv1-query-general', description: 'IGMPv1 general query (max resp code 0)', producedBy: 'scapy IGMP(type=0x11, mrcode=0): no Linux querier sends v1',
    proto: 'igmp', hex: v1q, from: '10.9.0.1', to: '224.0.0.1', ttl: 1, routerAlert: false,
    expect: { kind: 'query', version: 1, group: '0.0.0.0', maxRespMs: 0 },
  });

  writeGarbage();
  mkdirSync(OUT, { recursive: true });
  for (const f of readdirSync(OUT)) if (f.endsWith('.json')) rmSync(join(OUT, f));
  for (const f of fixtures) writeFileSync(join(OUT, `${f.name}.json`), `${JSON.stringify(f, null, 2)}\n`);
  removeCaptures();
  console.error(`wrote ${fixtures.length} fixtures to ${OUT}`);
}

/** Broken messages made by hand from captured ones: each must fail with the named CodecError. */
function writeGarbage(): void {
  const byName = (n: string) => fixtures.find((f) => f.name === n)!;
  const bytesOf = (n: string) => Buffer.from(byName(n).hex, 'hex');
  const g = (name: string, description: string, base: string, bytes: Buffer, expectError: Fixture['expectError']) => {
    const b = byName(base);
    fixtures.push({ name: `garbage-${name}`, description, producedBy: `hand-made from ${base}`, proto: b.proto, hex: bytes.toString('hex'), from: b.from, to: b.to, expectError });
  };
  const allow6 = bytesOf('mldv2-report-allow-ssm-join');
  g('mldv2-source-truncated', 'MLDv2 report cut 7 bytes into its only source', 'mldv2-report-allow-ssm-join', allow6.subarray(0, 35),
    { reason: 'truncated', field: 'record 1 source 1', offset: 28 });
  const allow4 = Buffer.from(bytesOf('igmpv3-report-allow-ssm-join'));
  allow4[2] ^= 0xff;
  g('igmpv3-bad-checksum', 'IGMPv3 report with its checksum high byte inverted', 'igmpv3-report-allow-ssm-join', allow4, { reason: 'bad checksum', field: 'checksum', offset: 2 });
  const unknown = Buffer.from(bytesOf('igmpv2-report'));
  unknown[0] = 0x99;
  g('igmp-unknown-type', 'IGMP message of type 0x99', 'igmpv2-report', unknown, { reason: 'unknown type', field: 'type', offset: 0 });
  const lying = Buffer.from(bytesOf('igmpv3-report-block-ssm-leave'));
  lying.writeUInt16BE(3, 10); // record 1 claims 3 sources, carries 1
  g('igmpv3-n-beyond-data', 'IGMPv3 report whose record claims 3 sources but carries 1', 'igmpv3-report-block-ssm-leave', lying,
    { reason: 'truncated', field: 'record 1 source 2', offset: 20 });
  const aux = Buffer.from(bytesOf('mldv2-report-to-ex-asm-join'));
  aux[9] = 4; // aux data len 4 words, none present
  g('mldv2-aux-beyond-data', 'MLDv2 report whose record claims 16 bytes of aux data, none present', 'mldv2-report-to-ex-asm-join', aux,
    { reason: 'truncated', field: 'record 1 aux data', offset: 28 });
  g('igmp-query-length-10', 'IGMP query of 10 bytes: neither v1/v2 (8) nor v3 (12+)', 'igmpv3-query-general', bytesOf('igmpv3-query-general').subarray(0, 10),
    { reason: 'bad length', field: 'length', offset: 0 });
  g('mldv2-records-beyond-data', 'MLDv2 report claiming 2 records, carrying 1', 'mldv2-report-to-in-asm-leave',
    (() => { const b = Buffer.from(bytesOf('mldv2-report-to-in-asm-leave')); b.writeUInt16BE(2, 6); return b; })(),
    { reason: 'truncated', field: 'record 2 header', offset: 28 });
}

// Also imported by test/membership/codec-live.test.ts for readPcap/capture: run only as a script.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
