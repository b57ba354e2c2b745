/**
 * One validated config object. Defaults live here and nowhere else; every
 * room reads its section. A bad value is refused at start with a message that
 * names its key path (`membership.queryIntervalMs: must be an integer >= 1000`).
 *
 * The file format is YAML (a JSON file is valid YAML too).
 */
import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { parse as parseYaml } from 'yaml';
import type { PlanOptions } from './plan/plan.js';

export class ConfigError extends Error {
  constructor(readonly key: string, reason: string) {
    super(`config ${key}: ${reason}`);
    this.name = 'ConfigError';
  }
}

/** RFC 9776 §8 / RFC 9777 §9 timers, all in milliseconds, all settable. */
export interface MembershipConfig {
  robustness: number;
  queryIntervalMs: number;
  queryResponseIntervalMs: number;
  lastMemberQueryIntervalMs: number;
  /** Defaults to robustness. */
  lastMemberQueryCount: number;
  /** Defaults to queryIntervalMs / 4. */
  startupQueryIntervalMs: number;
  /** Defaults to robustness. */
  startupQueryCount: number;
  /** Act when the last tracked host leaves, instead of waiting LMQT. */
  immediateLeave: boolean;
  /** Send queries and take part in querier election. */
  querier: boolean;
  /** Require Router Alert, TTL 1 and the RFC destinations (224.0.0.22 / ff02::16). */
  strict: boolean;
  /** Groups treated as source-specific (RFC 4604): IS_EX / TO_EX records ignored. */
  ssmRanges: string[];
  /**
   * What an any-source (EXCLUDE-mode, or IGMPv2/MLDv1) join for a group in
   * ssmRanges does. 'accept': it counts as a listener on source '*'. The
   * headend is the source of its own groups, not a router forwarding someone
   * else's, and ffmpeg's sap:// reader, `ffplay rtp://@[group]` and most
   * players join any-source, so by default such a join starts the stream.
   * 'ignore': RFC 4604 §2.2 router behaviour, only (S,G) joins count.
   */
  ssmAnySourceJoins: 'accept' | 'ignore';
  maxGroupsPerInterface: number;
  maxSourcesPerGroup: number;
  maxHostsPerInterface: number;
  /** Listen for IGMP / MLD at all. */
  ipv4: boolean;
  ipv6: boolean;
  /** MRT_INIT/MRT6_INIT to hear v2/MLDv1 reports to any group (clashes with smcroute et al.). */
  multicastRouterSocket: boolean;
  /**
   * Per interface, the addresses our queries are sent from (IPv4; IPv6
   * link-local), which also decide the querier election (lowest wins). Live
   * edges take them from the interface when absent; `headend simulate`
   * defaults to 192.0.2.100 / fe80::100.
   */
  querierAddresses?: Array<{ iface: string; ipv4?: string; ipv6?: string }>;
}

export interface ChannelConfig {
  group: string;
  name: string;
  url?: string;
  codec?: string;
}

/**
 * One tuner of the DVB pool (src/ingest/dvb). `card` is a Linux-DVB adapter
 * tuned by dvblast (`-a`); `udp` reads a transport stream that already
 * arrives on UDP (dvblast `-D`), standing in for a card in tests and labs.
 */
export interface DvbAdapterConfig {
  name: string;
  kind: 'card' | 'udp';
  /** card: /dev/dvb/adapterN (dvblast -a) and its frontend (-n). */
  adapter: number;
  frontend: number;
  /** card: LNB type (dvblast -8), DiSEqC position 0 = none, 1-4 (-S), uncommitted switch port 0 = none, 1-16 (-k). */
  lnb: 'universal' | 'old-sky';
  diseqc: number;
  uncommitted: number;
  /** udp: dvblast -D argument, `HOST:PORT/udp` (or `GROUP:PORT` for RTP input). */
  input: string;
  /** Carriers this tuner may take: `11362000H`, `10700000-11700000` or `10700000-11700000HV`; empty = any. */
  carriers: string[];
}

export interface DvbConfig {
  dvblast: string;
  dvblastctl: string;
  /** dvblast config files and control sockets; '' = a fresh folder under the OS temp dir. */
  runDir: string;
  /** A tuned carrier that shows no lock (card) or no TS packets (udp) this long is given up. */
  lockTimeoutMs: number;
  /** One dvblastctl command may take this long. */
  ctlTimeoutMs: number;
  /**
   * dvblast -L: longest a TS packet waits to fill an RTP packet (7 TS). Low
   * bit-rate services (radio, a lone audio PID) reach the client this much
   * sooner after a join; dvblast's own default is 100 ms.
   */
  outputLatencyMs: number;
  adapters: DvbAdapterConfig[];
}

/** Per-adapter defaults: the adapter entries of `dvb.adapters` are merged over these. */
export const DEFAULT_DVB_ADAPTER: Omit<DvbAdapterConfig, 'name'> = {
  kind: 'card', adapter: 0, frontend: 0, lnb: 'universal', diseqc: 0, uncommitted: 0, input: '', carriers: [],
};

export interface HeadendConfig {
  interfaces: string[];
  database: string;
  api: { listen: string; token?: string };
  log: { level: string };
  membership: MembershipConfig;
  sessions: {
    lingerMs: number;
    maxSessions: number;
    maxStartsPerMinute: number;
    /** First retry after a failed start while listeners remain; doubles up to retryBackoffMaxMs. */
    retryBackoffMs: number;
    retryBackoffMaxMs: number;
  };
  announce: {
    intervalMs: number;
    /** Also announce to the RFC 2974 scoped SAP address (ff0e::2:7ffe for ff3e::/16 groups). */
    scopedAddress: boolean;
    ttl: number;
  };
  rtp: {
    port: number; rtcpPort: number; sapPort: number; ttl: number;
    /** ffmpeg pkt_size: UDP payload limit; 1316 = 7 TS packets, fits a 1500 MTU with IPv6. */
    pktSize: number;
  };
  ingest: {
    ffmpeg: string;
    maxRedirects: number;
    maxPlaylistDepth: number;
    connectTimeoutMs: number;
    stallTimeoutMs: number;
    restartBackoffMs: number;
    restartBackoffMaxMs: number;
    maxRestarts: number;
    userAgent: string;
    /** Restart delay grows by this factor from restartBackoffMs up to restartBackoffMaxMs. */
    restartBackoffFactor: number;
    /** Between SIGTERM and SIGKILL when a child is stopped. */
    stopGraceMs: number;
    /** A child that does not show it is up within this time counts as failed to start. */
    startupTimeoutMs: number;
    /** Pid files of running children (killed at next start after a crash); '' = `children/` next to the database. */
    stateDir: string;
  };
  channels: ChannelConfig[];
  /** DVB tuner pool (src/ingest/dvb). */
  dvb: DvbConfig;
  /** Address plan (src/plan/plan.ts documents the layout). */
  plan: PlanOptions;
  /** Directory imports from a URL: bounded size and time. */
  directories: { maxBytes: number; timeoutMs: number; userAgent: string };
}

export const DEFAULT_CONFIG: HeadendConfig = {
  interfaces: [],
  database: './data/headend.db',
  api: { listen: '127.0.0.1:8080' },
  log: { level: 'info' },
  membership: {
    robustness: 2,
    queryIntervalMs: 125_000,
    queryResponseIntervalMs: 10_000,
    lastMemberQueryIntervalMs: 1_000,
    lastMemberQueryCount: 2,
    startupQueryIntervalMs: 31_250,
    startupQueryCount: 2,
    immediateLeave: true,
    querier: true,
    strict: false,
    ssmRanges: ['232.0.0.0/8', 'ff30::/12'],
    ssmAnySourceJoins: 'accept',
    maxGroupsPerInterface: 4096,
    maxSourcesPerGroup: 256,
    maxHostsPerInterface: 4096,
    ipv4: true,
    ipv6: true,
    multicastRouterSocket: false,
    querierAddresses: [],
  },
  sessions: { lingerMs: 3_000, maxSessions: 32, maxStartsPerMinute: 60, retryBackoffMs: 1_000, retryBackoffMaxMs: 60_000 },
  announce: { intervalMs: 5_000, scopedAddress: false, ttl: 255 },
  rtp: { port: 5004, rtcpPort: 5005, sapPort: 9875, ttl: 1, pktSize: 1316 },
  ingest: {
    ffmpeg: 'ffmpeg',
    maxRedirects: 5,
    maxPlaylistDepth: 4,
    connectTimeoutMs: 5_000,
    stallTimeoutMs: 10_000,
    restartBackoffMs: 500,
    restartBackoffMaxMs: 30_000,
    maxRestarts: 10,
    userAgent: 'mcast-headend/0.1 (+https://example.invalid/mcast-headend)',
    restartBackoffFactor: 2,
    stopGraceMs: 2_000,
    startupTimeoutMs: 10_000,
    stateDir: '',
  },
  channels: [],
  dvb: { dvblast: 'dvblast', dvblastctl: 'dvblastctl', runDir: '', lockTimeoutMs: 10_000, ctlTimeoutMs: 5_000, outputLatencyMs: 30, adapters: [] },
  plan: { prefix: '', directoryBits: 10, dvbBaseKhz: 10_700_000, dvbStepKhz: 250, ipv4Ssm: '', ipv4Asm: '' },
  directories: { maxBytes: 64 * 1024 * 1024, timeoutMs: 30_000, userAgent: 'mcast-headend/0.1 directory-import (+https://example.invalid/mcast-headend)' },
};

type Json = unknown;
const isObject = (v: Json): v is Record<string, Json> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Merges `input` over `defaults`, checking each value has the type of its
 * default. Keys absent from the defaults are refused (a typo must not be
 * silently ignored); OPTIONAL_KEYS lists keys allowed without a default.
 */
function merge(defaults: Json, input: Json, path: string): Json {
  if (input === undefined) return defaults;
  if (isObject(defaults)) {
    if (!isObject(input)) throw new ConfigError(path || '(root)', 'must be a mapping');
    const out: Record<string, Json> = { ...defaults };
    for (const [k, v] of Object.entries(input)) {
      const key = path ? `${path}.${k}` : k;
      if (!(k in defaults) && !OPTIONAL_KEYS.has(key)) throw new ConfigError(key, 'unknown key');
      out[k] = k in defaults ? merge(defaults[k], v, key) : v;
    }
    return out;
  }
  if (Array.isArray(defaults)) {
    if (!Array.isArray(input)) throw new ConfigError(path, 'must be a list');
    return input;
  }
  if (typeof defaults !== typeof input) {
    throw new ConfigError(path, `must be a ${typeof defaults}, got ${JSON.stringify(input)}`);
  }
  return input;
}

const OPTIONAL_KEYS = new Set(['api.token']);

function intAtLeast(cfg: HeadendConfig, key: string, min: number): void {
  const value = key.split('.').reduce<Json>((o, k) => (o as Record<string, Json>)[k], cfg);
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new ConfigError(key, `must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  }
}

/** `dvb.adapters`: each entry merged over DEFAULT_DVB_ADAPTER and checked, names unique. */
function validateDvb(cfg: HeadendConfig): void {
  intAtLeast(cfg, 'dvb.lockTimeoutMs', 100);
  intAtLeast(cfg, 'dvb.ctlTimeoutMs', 100);
  intAtLeast(cfg, 'dvb.outputLatencyMs', 1);
  const names = new Set<string>();
  cfg.dvb.adapters = cfg.dvb.adapters.map((raw, i) => {
    const key = `dvb.adapters[${i}]`;
    if (!isObject(raw)) throw new ConfigError(key, 'must be a mapping');
    if (typeof raw.name !== 'string' || !/^[\w.-]{1,32}$/.test(raw.name)) throw new ConfigError(`${key}.name`, 'required, letters, digits, . _ - (at most 32)');
    if (names.has(raw.name)) throw new ConfigError(`${key}.name`, `duplicate adapter name ${JSON.stringify(raw.name)}`);
    names.add(raw.name);
    const { name, ...rest } = raw;
    const a = { name, ...(merge(DEFAULT_DVB_ADAPTER, rest, key) as Omit<DvbAdapterConfig, 'name'>) };
    if (a.kind !== 'card' && a.kind !== 'udp') throw new ConfigError(`${key}.kind`, `must be card or udp, got ${JSON.stringify(a.kind)}`);
    if (a.lnb !== 'universal' && a.lnb !== 'old-sky') throw new ConfigError(`${key}.lnb`, `must be universal or old-sky, got ${JSON.stringify(a.lnb)}`);
    const ints: Array<[keyof DvbAdapterConfig, number, number]> = [['adapter', 0, 255], ['frontend', 0, 255], ['diseqc', 0, 4], ['uncommitted', 0, 16]];
    for (const [k, min, max] of ints) {
      const v = a[k];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new ConfigError(`${key}.${k}`, `must be an integer ${min}..${max}, got ${JSON.stringify(v)}`);
    }
    if (a.kind === 'udp' && !/^(\[[0-9a-fA-F:.]+\]|[\w.-]+)(:\d{1,5})?(@(\[[0-9a-fA-F:.]+\]|[\w.-]+)(:\d{1,5})?)?(\/[\w=.-]+)*$/.test(a.input)) {
      throw new ConfigError(`${key}.input`, `a udp adapter needs input HOST:PORT/udp (dvblast -D), got ${JSON.stringify(a.input)}`);
    }
    for (const [j, c] of a.carriers.entries()) {
      if (typeof c !== 'string' || !/^\d{1,9}(-\d{1,9})?[HVLR]{0,4}$/.test(c)) {
        throw new ConfigError(`${key}.carriers[${j}]`, `must be FREQ_KHZ[POL] or FROM-TO[POLS] such as 11362000H or 10700000-11700000HV, got ${JSON.stringify(c)}`);
      }
    }
    return a;
  });
}

/** Validates a parsed config document and fills in defaults. */
export function buildConfig(doc: Json): HeadendConfig {
  const cfg = merge(DEFAULT_CONFIG, doc ?? {}, '') as HeadendConfig;
  const m = cfg.membership;
  const given = isObject(doc) && isObject(doc.membership) ? doc.membership : {};
  // RFC 9776 §8: these default from other timers unless set explicitly.
  if (!('lastMemberQueryCount' in given)) m.lastMemberQueryCount = m.robustness;
  if (!('startupQueryCount' in given)) m.startupQueryCount = m.robustness;
  if (!('startupQueryIntervalMs' in given)) m.startupQueryIntervalMs = Math.floor(m.queryIntervalMs / 4);

  for (const [i, name] of cfg.interfaces.entries()) {
    if (typeof name !== 'string' || !/^[\w.:-]{1,15}$/.test(name)) {
      throw new ConfigError(`interfaces[${i}]`, `not an interface name: ${JSON.stringify(name)}`);
    }
  }
  intAtLeast(cfg, 'membership.robustness', 1);
  intAtLeast(cfg, 'membership.queryIntervalMs', 1);
  intAtLeast(cfg, 'membership.queryResponseIntervalMs', 1);
  intAtLeast(cfg, 'membership.lastMemberQueryIntervalMs', 1);
  intAtLeast(cfg, 'membership.lastMemberQueryCount', 1);
  intAtLeast(cfg, 'membership.startupQueryIntervalMs', 1);
  intAtLeast(cfg, 'membership.startupQueryCount', 0);
  intAtLeast(cfg, 'membership.maxGroupsPerInterface', 1);
  intAtLeast(cfg, 'membership.maxSourcesPerGroup', 1);
  intAtLeast(cfg, 'membership.maxHostsPerInterface', 1);
  if (m.ssmAnySourceJoins !== 'accept' && m.ssmAnySourceJoins !== 'ignore') {
    throw new ConfigError('membership.ssmAnySourceJoins', `must be "accept" or "ignore", got ${JSON.stringify(m.ssmAnySourceJoins)}`);
  }
  for (const [i, r] of m.ssmRanges.entries()) {
    const [addr, bits, extra] = typeof r === 'string' ? r.split('/') : [];
    const max = isIPv4(addr ?? '') ? 32 : isIPv6(addr ?? '') ? 128 : -1;
    if (extra !== undefined || max < 0 || !/^\d{1,3}$/.test(bits ?? '') || Number(bits) > max) {
      throw new ConfigError(`membership.ssmRanges[${i}]`, `must be a prefix such as 232.0.0.0/8 or ff30::/12, got ${JSON.stringify(r)}`);
    }
  }
  for (const [i, q] of (m.querierAddresses ?? []).entries()) {
    const key = `membership.querierAddresses[${i}]`;
    if (!isObject(q) || typeof q.iface !== 'string') throw new ConfigError(key, 'must be a mapping with iface and ipv4 and/or ipv6');
    for (const k of Object.keys(q)) if (!['iface', 'ipv4', 'ipv6'].includes(k)) throw new ConfigError(`${key}.${k}`, 'unknown key');
    if (q.ipv4 !== undefined && !isIPv4(String(q.ipv4))) throw new ConfigError(`${key}.ipv4`, `not an IPv4 address: ${JSON.stringify(q.ipv4)}`);
    if (q.ipv6 !== undefined && !isIPv6(String(q.ipv6))) throw new ConfigError(`${key}.ipv6`, `not an IPv6 address: ${JSON.stringify(q.ipv6)}`);
  }
  if (m.queryResponseIntervalMs >= m.queryIntervalMs) {
    throw new ConfigError('membership.queryResponseIntervalMs', 'must be less than membership.queryIntervalMs (RFC 9776 §8.3)');
  }
  intAtLeast(cfg, 'sessions.lingerMs', 0);
  intAtLeast(cfg, 'sessions.maxSessions', 1);
  intAtLeast(cfg, 'sessions.maxStartsPerMinute', 1);
  intAtLeast(cfg, 'sessions.retryBackoffMs', 1);
  intAtLeast(cfg, 'sessions.retryBackoffMaxMs', 1);
  intAtLeast(cfg, 'announce.intervalMs', 100);
  intAtLeast(cfg, 'announce.ttl', 1);
  intAtLeast(cfg, 'rtp.port', 1);
  intAtLeast(cfg, 'rtp.rtcpPort', 1);
  intAtLeast(cfg, 'rtp.sapPort', 1);
  intAtLeast(cfg, 'rtp.ttl', 1);
  intAtLeast(cfg, 'rtp.pktSize', 188);
  if (cfg.rtp.pktSize > 65507) throw new ConfigError('rtp.pktSize', `must be 188..65507, got ${cfg.rtp.pktSize}`);
  intAtLeast(cfg, 'ingest.restartBackoffMs', 1);
  intAtLeast(cfg, 'ingest.restartBackoffMaxMs', 1);
  intAtLeast(cfg, 'ingest.maxRestarts', 0);
  intAtLeast(cfg, 'ingest.stallTimeoutMs', 1);
  intAtLeast(cfg, 'ingest.stopGraceMs', 0);
  intAtLeast(cfg, 'ingest.startupTimeoutMs', 1);
  // The station resolver (src/ingest/resolve.ts).
  intAtLeast(cfg, 'ingest.maxRedirects', 0);
  intAtLeast(cfg, 'ingest.maxPlaylistDepth', 1);
  intAtLeast(cfg, 'ingest.connectTimeoutMs', 1);
  if (cfg.ingest.userAgent.trim() === '') throw new ConfigError('ingest.userAgent', 'must not be empty (stations refuse requests without one)');
  if (!(cfg.ingest.restartBackoffFactor >= 1)) {
    throw new ConfigError('ingest.restartBackoffFactor', `must be a number >= 1, got ${JSON.stringify(cfg.ingest.restartBackoffFactor)}`);
  }
  if (!/^(\[[0-9a-fA-F:.]+\]|[0-9.]+|localhost):\d{1,5}$/.test(cfg.api.listen)) {
    throw new ConfigError('api.listen', `must be HOST:PORT or [IPV6]:PORT, got ${JSON.stringify(cfg.api.listen)}`);
  }
  intAtLeast(cfg, 'plan.directoryBits', 1);
  if (cfg.plan.directoryBits > 20) throw new ConfigError('plan.directoryBits', `must be 1..20, got ${cfg.plan.directoryBits}`);
  intAtLeast(cfg, 'plan.dvbBaseKhz', 0);
  intAtLeast(cfg, 'plan.dvbStepKhz', 1);
  if (cfg.plan.prefix !== '' && !/^[0-9a-fA-F:]+(\/64)?$/.test(cfg.plan.prefix)) {
    throw new ConfigError('plan.prefix', `must be an IPv6 /64 such as 2001:db8:1::/64, got ${JSON.stringify(cfg.plan.prefix)}`);
  }
  if (cfg.plan.ipv4Ssm !== '' && !/^232\.\d{1,3}\.\d{1,3}\.\d{1,3}\/\d{1,2}$/.test(cfg.plan.ipv4Ssm)) {
    throw new ConfigError('plan.ipv4Ssm', `must be a range inside 232.0.0.0/8 such as 232.64.0.0/16, got ${JSON.stringify(cfg.plan.ipv4Ssm)}`);
  }
  if (cfg.plan.ipv4Asm !== '' && !/^239\.\d{1,3}\.\d{1,3}\.\d{1,3}\/\d{1,2}$/.test(cfg.plan.ipv4Asm)) {
    throw new ConfigError('plan.ipv4Asm', `must be a range inside 239.0.0.0/8 such as 239.64.0.0/16, got ${JSON.stringify(cfg.plan.ipv4Asm)}`);
  }
  intAtLeast(cfg, 'directories.maxBytes', 1024);
  intAtLeast(cfg, 'directories.timeoutMs', 100);
  for (const [i, ch] of cfg.channels.entries()) {
    if (!isObject(ch)) throw new ConfigError(`channels[${i}]`, 'must be a mapping');
    if (typeof ch.group !== 'string') throw new ConfigError(`channels[${i}].group`, 'required, a multicast address');
    if (typeof ch.name !== 'string' || ch.name === '') throw new ConfigError(`channels[${i}].name`, 'required, a non-empty string');
  }
  validateDvb(cfg);
  return cfg;
}

/** Reads and validates a YAML config file; no file means all defaults. */
export function loadConfig(file?: string): HeadendConfig {
  if (!file) return buildConfig({});
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('(file)', `cannot read ${file}: ${(err as Error).message}`);
  }
  let doc: Json;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError('(file)', `${file} is not valid YAML: ${(err as Error).message}`);
  }
  return buildConfig(doc);
}
