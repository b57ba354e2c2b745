/**
 * Membership engine benchmark. Figures:
 *
 * - membership_records_per_s: group records decoded AND applied per second
 *   on one core (MembershipEngine.receive: codec, checksum, policy, state
 *   table, host tracking, queries), over pre-encoded IGMPv3 and MLDv2
 *   reports mixing all six record types, 1-8 sources, 10k groups (half
 *   IPv4, half IPv6) and 1k hosts; the clock advances 1 ms per 10 packets so
 *   LMQ timers and queries fire as they would live. Median of 5 passes.
 * - membership_reports_per_s: the same, counted in packets.
 * - membership_vs_recv_ratio: engine CPU per packet / CPU to receive the
 *   same packets on a loopback UDP socket (node:dgram) in this process (a
 *   child process sends, so only the receiving is on our clock). The floor
 *   any userspace engine pays is 1.0x recv; lower means the engine costs
 *   less than the recvmsg it rides on.
 * - membership_rss_mb_10k_groups_100_hosts: resident memory the state adds
 *   (RSS after - RSS before, after GC, in a fresh process) for 10k groups
 *   each joined by the same 100 hosts: 1M host memberships, half ASM
 *   (TO_EX {}) and half SSM (ALLOW one source). Node + tsx alone take
 *   membership_rss_mb_baseline before any state.
 *
 * Profile: node --cpu-prof --import tsx bench/membership.bench.ts --profile
 */
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildConfig } from '../src/config.js';
import { parseAddr, type AddrKey } from '../src/membership/addr.js';
import { encodeIgmp, encodeMld } from '../src/membership/codec.js';
import { MembershipEngine } from '../src/membership/engine.js';
import { RecordType, type GroupRecord, type ReceivedPacket, type SourceReport } from '../src/membership/types.js';

const GROUPS = 10_000;
const HOSTS = 1_000;
const PACKETS = 100_000;
const SELF = fileURLToPath(import.meta.url);

/** Deterministic PRNG (mulberry32): the same mix every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const v6 = (prefix: string, i: number) => parseAddr(`${prefix}${(i >>> 16).toString(16)}:${(i & 0xffff).toString(16)}`);
const v4 = (a: number, i: number) => String.fromCharCode(a, (i >>> 16) & 0xff, (i >>> 8) & 0xff, i & 0xff) as AddrKey;

interface Workload {
  packets: ReceivedPacket[];
  records: number;
}

type Mix = 'hosts' | 'random';

/**
 * Pre-encoded reports, 1-4 records each, every record type, IPv4 and IPv6,
 * 10k groups (5k per family), 1k hosts (500 per family), sources from an
 * 8-address pool per group.
 *
 * 'hosts': each host behaves like one: it follows 20 groups of its own
 * (together covering all 10k), joins any-source groups (even) with TO_EX({})
 * and source-specific ones (odd) with ALLOW(1-8 sources), then mostly
 * answers queries (IS_EX / IS_IN of its state, ~70%), sometimes changes its
 * sources (ALLOW / BLOCK / TO_IN(B)) or leaves (TO_IN({}), BLOCK of its last).
 * 'random': every record's type, group, host and sources drawn uniformly, so
 * nearly every record changes state and asks for queries: a hostile link.
 */
function workload(mix: Mix): Workload {
  const rand = rng(9776);
  const pick = (n: number) => Math.floor(rand() * n);
  const MLDV2 = parseAddr('ff02::16');
  const IGMPV3 = parseAddr('224.0.0.22');
  const src = (ipv6: boolean, g: number, k: number) =>
    ipv6 ? v6(`2001:db8:${(g & 0xfff).toString(16)}::`, k + 1) : v4(198, ((g & 0xfff) << 4) | (k + 1));
  /** 1-8 distinct source indexes out of 8. */
  const someSources = () => {
    const count = 1 + pick(8);
    const base = pick(8);
    return Array.from({ length: count }, (_, s) => (base + s) % 8);
  };
  // What each (family, host, group) host has asked for, so the next record follows on.
  const state = new Map<number, { excl: boolean; srcs: number[] }>();
  const coherent = (ipv6: boolean, h: number, g: number): [RecordType, number[]] => {
    const key = (ipv6 ? 1 : 0) * 1e9 + h * 1e5 + g;
    const st = state.get(key);
    const r = rand();
    if (st === undefined) {
      if ((g & 1) === 0) {
        const x = rand() < 0.9 ? [] : [pick(8)];
        state.set(key, { excl: true, srcs: x });
        return [RecordType.CHANGE_TO_EXCLUDE_MODE, x];
      }
      const a = someSources();
      state.set(key, { excl: false, srcs: a });
      return [RecordType.ALLOW_NEW_SOURCES, a];
    }
    if (st.excl) {
      if (r < 0.7) return [RecordType.MODE_IS_EXCLUDE, st.srcs];
      if (r < 0.85) {
        state.delete(key);
        return [RecordType.CHANGE_TO_INCLUDE_MODE, []];
      }
      if (r < 0.95 || st.srcs.length === 0) {
        const k = pick(8);
        if (!st.srcs.includes(k)) st.srcs = [...st.srcs, k];
        return [RecordType.BLOCK_OLD_SOURCES, [k]];
      }
      const k = st.srcs[0];
      st.srcs = st.srcs.slice(1);
      return [RecordType.ALLOW_NEW_SOURCES, [k]];
    }
    if (r < 0.7) return [RecordType.MODE_IS_INCLUDE, st.srcs];
    if (r < 0.8) {
      const more = someSources();
      st.srcs = [...new Set([...st.srcs, ...more])];
      return [RecordType.ALLOW_NEW_SOURCES, more];
    }
    if (r < 0.9) {
      const gone = st.srcs.slice(0, 1 + pick(st.srcs.length));
      st.srcs = st.srcs.filter((k) => !gone.includes(k));
      if (st.srcs.length === 0) state.delete(key);
      return [RecordType.BLOCK_OLD_SOURCES, gone];
    }
    const b = someSources();
    st.srcs = b;
    return [RecordType.CHANGE_TO_INCLUDE_MODE, b];
  };
  const packets: ReceivedPacket[] = [];
  let records = 0;
  for (let p = 0; p < PACKETS; p++) {
    const ipv6 = (p & 1) === 0;
    const host = pick(HOSTS / 2);
    const from = ipv6 ? v6('fe80::1:', host) : v4(10, host + 1);
    const to = ipv6 ? MLDV2 : IGMPV3;
    const n = rand() < 0.7 ? 1 : 2 + pick(3);
    const recs: GroupRecord[] = [];
    const used = new Set<number>();
    for (let r = 0; r < n; r++) {
      // 'hosts': one of this host's 20 groups (host*10 .. host*10+19): 500 hosts cover the 5k groups of a family twice.
      const g = mix === 'hosts' ? (host * 10 + pick(20)) % (GROUPS / 2) : pick(GROUPS / 2);
      if (used.has(g)) continue; // one record per group in a report, as hosts send them
      used.add(g);
      const group = ipv6 ? v6('ff0e::8000:', g) : v4(239, g);
      const [type, ks] = mix === 'hosts' ? coherent(ipv6, host, g) : [(1 + pick(6)) as RecordType, someSources()];
      recs.push({ type, group, sources: ks.map((k) => src(ipv6, g, k)), auxWords: 0 });
    }
    records += recs.length;
    const msg: SourceReport = { kind: 'report', proto: ipv6 ? 'mld' : 'igmp', version: ipv6 ? 2 : 3, records: recs };
    const payload = ipv6 ? encodeMld(msg, from, to) : encodeIgmp(msg);
    packets.push({ iface: 'lan0', from, to, payload });
  }
  return { packets, records };
}

function newEngine(): MembershipEngine {
  const cfg = buildConfig({
    membership: { ssmRanges: [], maxGroupsPerInterface: GROUPS * 2, maxHostsPerInterface: HOSTS * 2, maxSourcesPerGroup: 64 },
  }).membership;
  const e = new MembershipEngine(cfg);
  e.addInterface('lan0', { ipv4: parseAddr('10.255.255.254'), ipv6: parseAddr('fe80::ffff') }, 0);
  return e;
}

/** CPU µs (user + system) of this process. */
function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** Engine passes; returns CPU µs per packet (median) and the rates. */
function engineRun(w: Workload, passes: number): { usPerPacket: number; recordsPerS: number; reportsPerS: number } {
  const e = newEngine();
  let now = 1;
  const pass = () => {
    const pk = w.packets;
    let outputs = 0;
    for (let i = 0; i < pk.length; i++) {
      if (i % 10 === 0) now++;
      outputs += e.receive(now, pk[i]).length;
    }
    return outputs;
  };
  pass(); // warm up: JIT and steady state
  const times: number[] = [];
  for (let i = 0; i < passes; i++) {
    const t0 = cpuMicros();
    pass();
    times.push(cpuMicros() - t0);
  }
  times.sort((a, b) => a - b);
  const med = times[Math.floor(times.length / 2)];
  return {
    usPerPacket: med / w.packets.length,
    recordsPerS: Math.round((w.records / med) * 1e6),
    reportsPerS: Math.round((w.packets.length / med) * 1e6),
  };
}

/** CPU µs per packet to receive the workload's packets on a loopback UDP socket. */
async function recvRun(w: Workload): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'membench-'));
  try {
    const file = join(dir, 'packets.bin');
    const parts: Buffer[] = [];
    for (const p of w.packets) {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(p.payload.length);
      parts.push(len, p.payload);
    }
    writeFileSync(file, Buffer.concat(parts));
    const sock = createSocket({ type: 'udp4', recvBufferSize: 16 * 1024 * 1024 });
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
    const port = sock.address().port;
    let received = 0;
    let bytes = 0;
    let t0 = 0;
    let t1 = 0;
    const rounds = 3;
    const expected = w.packets.length * rounds;
    const done = new Promise<void>((resolve) => {
      sock.on('message', (msg) => {
        if (received === 0) t0 = cpuMicros();
        received++;
        bytes += msg.length;
        if (received >= expected) {
          t1 = cpuMicros();
          resolve();
        }
      });
      // Loss ends the run too: no packet for half a second. A timer per
      // packet would be counted as receive cost, so poll instead.
      let seen = -1;
      const poll = setInterval(() => {
        if (received > 0 && received === seen) {
          t1 = cpuMicros();
          clearInterval(poll);
          resolve();
        }
        seen = received;
      }, 500);
      poll.unref();
    });
    // The sender paces itself (a burst, then a pause) so the socket buffer does not overflow.
    const sender = spawn(process.execPath, ['-e', `
      const dgram = require('node:dgram'); const fs = require('node:fs');
      const data = fs.readFileSync(${JSON.stringify(file)}); const pk = [];
      for (let o = 0; o < data.length;) { const n = data.readUInt16BE(o); pk.push(data.subarray(o + 2, o + 2 + n)); o += 2 + n; }
      const s = dgram.createSocket('udp4'); let i = 0; const total = pk.length * ${rounds};
      function burst() { for (let k = 0; k < 200 && i < total; k++, i++) s.send(pk[i % pk.length], ${port}, '127.0.0.1');
        if (i < total) setTimeout(burst, 1); else setTimeout(() => s.close(), 200); }
      burst();`], { stdio: 'inherit' });
    await done;
    sender.kill();
    sock.close();
    if (received < 1000) throw new Error(`loopback receive got only ${received} packets`);
    // CPU between the first and last packet includes idle waits (0 CPU) between bursts.
    return (t1 - t0) / (received - 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** In a fresh process: RSS growth for 10k groups x 100 hosts. */
function rssChild(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  const settle = () => {
    for (let i = 0; i < 3; i++) gc?.();
  };
  settle();
  const before = process.memoryUsage().rss;
  const cfg = buildConfig({ membership: { maxGroupsPerInterface: 20_000, maxHostsPerInterface: 200, querier: false } }).membership;
  const e = new MembershipEngine(cfg);
  e.addInterface('lan0', { ipv6: parseAddr('fe80::ffff') }, 0);
  const hosts = Array.from({ length: 100 }, (_, h) => v6('fe80::1:', h));
  const source = [parseAddr('2001:db8::1')];
  const empty: AddrKey[] = [];
  for (let g = 0; g < 10_000; g++) {
    // Even groups any-source (ff0e::), odd groups SSM (ff3e::, default ssmRanges).
    const ssm = (g & 1) === 1;
    const group = v6(ssm ? 'ff3e::8000:' : 'ff0e::8000:', g);
    const rec: GroupRecord = { type: ssm ? RecordType.ALLOW_NEW_SOURCES : RecordType.CHANGE_TO_EXCLUDE_MODE, group, sources: ssm ? source : empty, auxWords: 0 };
    const msg: SourceReport = { kind: 'report', proto: 'mld', version: 2, records: [rec] };
    for (const host of hosts) e.apply(1, 'lan0', host, msg);
  }
  settle();
  const after = process.memoryUsage().rss;
  const rows = e.dump(1);
  const memberships = rows.reduce((n, r) => n + r.hosts.length, 0);
  process.stdout.write(JSON.stringify({ before, after, memberships }) + '\n');
}

async function rssRun(): Promise<{ deltaMb: number; baselineMb: number }> {
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', SELF, '--rss-child'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`rss child exited ${code}`);
  const r = JSON.parse(out.trim().split('\n').pop()!) as { before: number; after: number; memberships: number };
  if (r.memberships !== 1_000_000) throw new Error(`rss child kept ${r.memberships} memberships, expected 1000000`);
  return { deltaMb: (r.after - r.before) / 2 ** 20, baselineMb: r.before / 2 ** 20 };
}

const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;

export async function run(): Promise<Record<string, number | string | null>> {
  const w = workload('hosts');
  const engine = engineRun(w, 5);
  const hostile = engineRun(workload('random'), 3);
  const recvUs = await recvRun(w);
  const rss = await rssRun();
  return {
    membership_records_per_s: engine.recordsPerS,
    membership_reports_per_s: engine.reportsPerS,
    membership_records_per_s_random_mix: hostile.recordsPerS,
    membership_engine_us_per_report: round(engine.usPerPacket, 3),
    membership_recv_us_per_packet: round(recvUs, 3),
    membership_vs_recv_ratio: round(engine.usPerPacket / recvUs, 3),
    membership_rss_mb_10k_groups_100_hosts: round(rss.deltaMb, 1),
    membership_rss_mb_baseline: round(rss.baselineMb, 1),
  };
}

if (process.argv.includes('--rss-child')) {
  rssChild();
} else if (process.argv.includes('--profile')) {
  // node --cpu-prof --import tsx bench/membership.bench.ts --profile [--random]
  const w = workload(process.argv.includes('--random') ? 'random' : 'hosts');
  const { decodeMembership } = await import('../src/membership/codec.js');
  const t0 = cpuMicros();
  for (let r = 0; r < 5; r++) for (const p of w.packets) decodeMembership(p.from.length === 4 ? 'igmp' : 'mld', p.payload, p.from, p.to);
  console.log({ decodeUsPerPacket: (cpuMicros() - t0) / 5 / w.packets.length });
  if (process.argv.includes('--apply')) {
    const msgs = w.packets.map((p) => decodeMembership(p.from.length === 4 ? 'igmp' : 'mld', p.payload, p.from, p.to));
    for (const variant of ['plain', 'untracked', 'noquerier']) {
      const cfg = buildConfig({ membership: { ssmRanges: [], maxGroupsPerInterface: GROUPS * 2, maxHostsPerInterface: HOSTS * 2, maxSourcesPerGroup: 64, querier: variant !== 'noquerier' } }).membership;
      const e = new MembershipEngine(cfg);
      e.addInterface('lan0', { ipv4: parseAddr('10.255.255.254'), ipv6: parseAddr('fe80::ffff') }, 0);
      let now = 1;
      const t1 = cpuMicros();
      for (let r = 0; r < 3; r++) for (let i = 0; i < msgs.length; i++) {
        if (i % 10 === 0) now++;
        const from = variant === 'untracked' ? (w.packets[i].from.length === 4 ? '\0\0\0\0' : '\0'.repeat(16)) : w.packets[i].from;
        e.apply(now, 'lan0', from, msgs[i]);
      }
      console.log(variant, (cpuMicros() - t1) / 3 / msgs.length, 'us/packet');
    }
  }
  if (process.argv.includes('--count')) {
    const e = newEngine();
    const kinds: Record<string, number> = {};
    let now = 1;
    for (let i = 0; i < w.packets.length * 3; i++) {
      if (i % 10 === 0) now++;
      for (const o of e.receive(now, w.packets[i % w.packets.length])) kinds[o.type === 'rejected' ? o.reason.split(':')[0] : o.type] = (kinds[o.type === 'rejected' ? o.reason.split(':')[0] : o.type] ?? 0) + 1;
    }
    console.log(kinds, e.stats(), e.dump(now).length);
  }
  console.log(engineRun(w, 10));
}
