/**
 * One validated config object. Defaults live here and nowhere else; every
 * room reads its section. A bad value is refused at start with a message that
 * names its key path (`membership.queryIntervalMs: must be an integer >= 1000`).
 *
 * The file format is YAML (a JSON file is valid YAML too).
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

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
  maxGroupsPerInterface: number;
  maxSourcesPerGroup: number;
  maxHostsPerInterface: number;
  /** Listen for IGMP / MLD at all. */
  ipv4: boolean;
  ipv6: boolean;
  /** MRT_INIT/MRT6_INIT to hear v2/MLDv1 reports to any group (clashes with smcroute et al.). */
  multicastRouterSocket: boolean;
}

export interface ChannelConfig {
  group: string;
  name: string;
  url?: string;
  codec?: string;
}

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
  rtp: { port: number; rtcpPort: number; sapPort: number; ttl: number };
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
  };
  channels: ChannelConfig[];
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
    maxGroupsPerInterface: 4096,
    maxSourcesPerGroup: 256,
    maxHostsPerInterface: 4096,
    ipv4: true,
    ipv6: true,
    multicastRouterSocket: false,
  },
  sessions: { lingerMs: 3_000, maxSessions: 32, maxStartsPerMinute: 60, retryBackoffMs: 1_000, retryBackoffMaxMs: 60_000 },
  announce: { intervalMs: 5_000, scopedAddress: false, ttl: 255 },
  rtp: { port: 5004, rtcpPort: 5005, sapPort: 9875, ttl: 1 },
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
  },
  channels: [],
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
  if (!/^(\[[0-9a-fA-F:.]+\]|[0-9.]+|localhost):\d{1,5}$/.test(cfg.api.listen)) {
    throw new ConfigError('api.listen', `must be HOST:PORT or [IPV6]:PORT, got ${JSON.stringify(cfg.api.listen)}`);
  }
  for (const [i, ch] of cfg.channels.entries()) {
    if (!isObject(ch)) throw new ConfigError(`channels[${i}]`, 'must be a mapping');
    if (typeof ch.group !== 'string') throw new ConfigError(`channels[${i}].group`, 'required, a multicast address');
    if (typeof ch.name !== 'string' || ch.name === '') throw new ConfigError(`channels[${i}].name`, 'required, a non-empty string');
  }
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
