/**
 * Shared by test/e2e/dvb*.test.ts and bench/dvb.bench.ts: a satellite
 * carrier without a satellite. ffmpeg makes a multi-service MPEG-TS (one
 * program per service id, test pattern and tones) and sends it to a UDP port
 * inside the headend's namespace, where dvblast's `-D` input reads it as
 * one carrier. At the client, a small Node listener reports every RTP packet
 * of the groups it joined (group, sequence number, arrival time).
 */
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, type Netns } from '../../helpers/netns.js';
import { buildConfig } from '../../../src/config.js';
import { silentLogger } from '../../../src/log.js';
import { openStoreFromConfig } from '../../../src/store/index.js';
import { TunerPool, type DvbOutput, type TunerPoolOptions } from '../../../src/ingest/dvb/pool.js';
import type { DvbTuning } from '../../../src/ingest/dvb/carrier.js';

/** A carrier for the lab: any DVB-S2 tuning will do, the UDP input ignores it. */
export const CARRIER_X: DvbTuning = { frequencyKhz: 11362000, polarisation: 'H', symbolRate: 22000000, system: 'DVBS2', fec: '2/3', modulation: 'PSK_8' };
export const CARRIER_Y: DvbTuning = { ...CARRIER_X, frequencyKhz: 11494000 };

export interface DvbLab {
  hd: Netns;
  cl: Netns;
  pool: TunerPool;
  /** RTP to port 5004 out of the headend's lan0 (TTL 1). */
  output: DvbOutput;
  runDir: string;
}

/**
 * Headend `hd` (lan0) and client `cl` (eth0) on a veth pair, and a tuner pool
 * whose dvblast runs inside `hd`; `dvb` is the config's dvb section (runDir
 * is filled in). Everything is gone when `fn` ends, however it ends.
 */
export async function withDvbLab<T>(dvb: Record<string, unknown>, poolOpts: Partial<TunerPoolOptions>, fn: (l: DvbLab) => Promise<T>): Promise<T> {
  const lab = new Lab();
  const runDir = mkdtempSync(join(tmpdir(), 'dvb-lab-'));
  let pool: TunerPool | undefined;
  try {
    const hd = await lab.netns('hd');
    const cl = await lab.netns('cl');
    await lab.veth(hd, 'lan0', cl, 'eth0');
    const config = buildConfig({ dvb: { ...dvb, runDir } }).dvb;
    pool = new TunerPool({ config, logger: silentLogger, commandPrefix: ['ip', 'netns', 'exec', hd.name], ...poolOpts });
    const output = { iface: 'lan0', ifindex: await ifindex(hd, 'lan0'), ttl: 1, port: 5004 };
    return await fn({ hd, cl, pool, output, runDir });
  } finally {
    await pool?.close();
    await lab.close();
    rmSync(runDir, { recursive: true, force: true });
  }
}

/** The lab's transport stream: these service ids, names and provider appear in its PAT and SDT. */
export const SERVICES = {
  alpha: { serviceId: 1001, name: 'Alpha', streams: 'mpeg2video + mp2' },
  beta: { serviceId: 1002, name: 'Beta', streams: 'mp2' },
  gamma: { serviceId: 1003, name: 'Gamma', streams: 'mp2' },
} as const;
export const PROVIDER = 'HeadendLab';

/** ffmpeg sending a three-service TS, in real time, to udp://127.0.0.1:PORT in `ns`. */
export function startTsSource(ns: Netns, port: number): ChildProcess {
  const args = [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-re',
    '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-f', 'lavfi', '-i', 'sine=frequency=660:sample_rate=48000',
    '-f', 'lavfi', '-i', 'sine=frequency=880:sample_rate=48000',
    '-map', '0:v', '-map', '1:a', '-map', '2:a', '-map', '3:a',
    '-c:v', 'mpeg2video', '-g', '12', '-b:v', '400k', '-c:a', 'mp2', '-b:a', '96k',
    '-program', `title=${SERVICES.alpha.name}:program_num=${SERVICES.alpha.serviceId}:st=0:st=1`,
    '-program', `title=${SERVICES.beta.name}:program_num=${SERVICES.beta.serviceId}:st=2`,
    '-program', `title=${SERVICES.gamma.name}:program_num=${SERVICES.gamma.serviceId}:st=3`,
    // The SDT's service_provider_name is per program (-metadata:p:N).
    '-metadata:p:0', `service_provider=${PROVIDER}`, '-metadata:p:1', `service_provider=${PROVIDER}`, '-metadata:p:2', `service_provider=${PROVIDER}`,
    '-f', 'mpegts', `udp://127.0.0.1:${port}?pkt_size=1316`,
  ];
  return ns.spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Interface index inside a namespace (dvblast's `/ifindex=`). */
export async function ifindex(ns: Netns, ifName: string): Promise<number> {
  const info = JSON.parse(await ns.exec('ip', ['-j', 'link', 'show', 'dev', ifName])) as Array<{ ifindex: number }>;
  return info[0]!.ifindex;
}

export interface RtpPacket { seq: number; at: number }

// Runs inside the client namespace: one socket per group, bound to the group
// itself (so it hears only that group), joined on the given interface.
const LISTENER = `
const dgram = require('node:dgram');
const [iface, port, ...groups] = process.argv.slice(1);
for (const g of groups) {
  const s = dgram.createSocket({ type: g.includes(':') ? 'udp6' : 'udp4', reuseAddr: true });
  s.on('message', (m) => {
    if (m.length < 12 || (m[0] >> 6) !== 2) return;
    process.stdout.write(g + ' ' + m.readUInt16BE(2) + ' ' + (performance.timeOrigin + performance.now()).toFixed(3) + '\\n');
  });
  s.bind(Number(port), g, () => {
    s.addMembership(g, g.includes(':') ? '::%' + iface : undefined);
    process.stdout.write('joined ' + g + '\\n');
  });
}
`;

/** RTP packets per group, as the client heard them. */
export class RtpListener {
  readonly packets = new Map<string, RtpPacket[]>();
  private joined = 0;

  constructor(readonly child: ChildProcess, private readonly groups: string[]) {
    for (const g of groups) this.packets.set(g, []);
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      const [a, b, c] = line.split(' ');
      if (a === 'joined') this.joined++;
      else if (a && this.packets.has(a)) this.packets.get(a)!.push({ seq: Number(b), at: Number(c) });
    });
  }

  static async start(ns: Netns, iface: string, port: number, groups: string[]): Promise<RtpListener> {
    const child = ns.spawn(process.execPath, ['-e', LISTENER, iface, String(port), ...groups], { stdio: ['ignore', 'pipe', 'inherit'] });
    const l = new RtpListener(child, groups);
    await l.until(() => l.joined === groups.length, 5000, 'listener joined');
    return l;
  }

  count(group: string): number { return this.packets.get(group)!.length; }

  /** Resolves when `cond` holds (polled), rejects after `timeoutMs`. */
  until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return waitFor(cond, timeoutMs, what);
  }

  /** Sequence numbers missing between packet `from` and the last one (RFC 3550 §5.1: +1 mod 2^16 each). */
  lost(group: string, from = 0): number {
    const p = this.packets.get(group)!.slice(from);
    let lost = 0;
    for (let i = 1; i < p.length; i++) lost += ((p[i]!.seq - p[i - 1]!.seq + 0x10000) % 0x10000) - 1;
    return lost;
  }

  stop(): void { this.child.kill('SIGTERM'); }
}

/** The process is gone (or a zombie no more): kill(pid, 0) fails. */
export function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * A `headend serve` config in `dir` whose one tuner is the UDP "carrier"
 * that startTsSource feeds on `tsPort`, with `channels` (DVB services on
 * CARRIER_X) already in its store, as a DVB list import would leave them.
 * Returns the config file's path.
 */
export async function writeDvbDaemonConfig(dir: string, ports: { api: number; ts: number },
  channels: Array<{ name: string; serviceId: number; group: string }>): Promise<string> {
  const doc = {
    interfaces: ['lan0'],
    database: join(dir, 'headend.db'),
    api: { listen: `127.0.0.1:${ports.api}` },
    sessions: { lingerMs: 0 },
    dvb: { lockTimeoutMs: 5000, adapters: [{ name: 'lab0', kind: 'udp', input: `127.0.0.1:${ports.ts}/udp` }] },
  };
  const store = openStoreFromConfig(buildConfig(doc));
  for (const ch of channels) store.channels.add({ ...ch, kind: 'dvb', tuning: CARRIER_X });
  store.close();
  const file = join(dir, 'headend.json');
  await writeFile(file, JSON.stringify(doc));
  return file;
}
