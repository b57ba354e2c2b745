/**
 * The address plan: which multicast group carries which service.
 *
 * IPv6 (PROTOCOLS.md §4, RFC 3306 unicast-prefix-based groups):
 *
 *     ff3e:0040:P1:P2:P3:P4:HI:LO
 *     │   │    └─ the headend's /64 ─┘ └─ 32-bit service number, top bit set
 *     │   └ "plen" = 0x40 = 64 (RFC 3306 §4)
 *     └ flags 3 (P=1, T=1: SSM, RFC 4607), scope e (global)
 *
 * The low 32 bits of an IPv6 group are the low 32 bits of its Ethernet MAC
 * (33:33:xx:xx:xx:xx, RFC 2464 §7), so distinct service numbers never share a
 * MAC.
 *
 * Service number layout (32 bits, bit 31 is always 1):
 *
 *     bit 31  30  29 ........................................... 0
 *         1   1   pol | frequency index (13) | service id (16)        DVB
 *         1   0   directory (D bits)       | entry (30 - D bits)     internet radio
 *
 * - DVB: a transport stream names its services with 16-bit service ids; the
 *   carrier is (frequency, polarisation). The frequency index is
 *   (frequencyKhz - dvbBaseKhz) / dvbStepKhz, 13 bits: with the defaults
 *   (10 700 000 kHz, 250 kHz) that is 10 700.000 .. 12 747.750 MHz, the whole
 *   Ku band an Astra 28.2E dish sees. The polarisation bit is the LNB voltage:
 *   0 = horizontal or circular-left (18 V), 1 = vertical or circular-right
 *   (13 V); one satellite uses linear or circular, never both, so H and L never
 *   meet in one plan. A carrier off the grid or outside the 13 bits is REFUSED
 *   with a PlanError naming the frequency and the grid (no overflow table: a
 *   number that depends on import order would not be stable).
 * - Internet radio: the directory number (D = plan.directoryBits, default 10:
 *   1023 directories) and an entry number assigned once, in the store, the
 *   first time a station is seen (never reused). Directory 0 holds channels
 *   added by hand.
 * - Numbers without the top bit only come from groups written by hand in the
 *   config (`channels:`); the plan never assigns them.
 *
 * IPv4: Ethernet keeps only the low 23 bits of an IPv4 group (01:00:5e +
 * 23 bits, RFC 1112 §6.4), so 32 groups share each MAC. IPv4 groups cannot
 * hold a 32-bit number: the store assigns them one by one from `plan.ipv4Ssm`
 * (232/8, RFC 4607) or else `plan.ipv4Asm` (239/8, RFC 2365), and refuses any
 * group whose MAC is already used by another channel (see macV4).
 */
import { isIPv4, isIPv6 } from 'node:net';
import { networkInterfaces } from 'node:os';
import { formatAddr, parseAddr, type AddrKey } from '../membership/addr.js';

export type Polarisation = 'H' | 'V' | 'L' | 'R';

/** The config's `plan:` section. */
export interface PlanOptions {
  /** The headend's /64 as text: `2001:db8:1:0::/64` (a bare `2001:db8:1:0::` also works); '' in the config = derive it from `interfaces`. */
  prefix: string;
  /** Bits of the service number that select an internet-radio directory (1..20). */
  directoryBits: number;
  /** DVB carrier grid: frequency index = (kHz - dvbBaseKhz) / dvbStepKhz, 13 bits. */
  dvbBaseKhz: number;
  dvbStepKhz: number;
  /** `232.x.y.z/N`, or '' for none. */
  ipv4Ssm: string;
  /** `239.x.y.z/N`, or '' for none. */
  ipv4Asm: string;
}

export const DEFAULT_PLAN_OPTIONS: Omit<PlanOptions, 'prefix'> = {
  directoryBits: 10,
  dvbBaseKhz: 10_700_000,
  dvbStepKhz: 250,
  ipv4Ssm: '',
  ipv4Asm: '',
};

export type PlanErrorCode =
  | 'bad-prefix'
  | 'not-in-plan'
  | 'bad-number'
  | 'carrier-off-grid'
  | 'carrier-out-of-range'
  | 'bad-service-id'
  | 'directory-out-of-range'
  | 'entry-out-of-range'
  | 'bad-ipv4-range'
  | 'mac-collision';

export class PlanError extends Error {
  constructor(readonly code: PlanErrorCode, message: string) {
    super(message);
    this.name = 'PlanError';
  }
}

/** What a service number means, for `headend plan show`. */
export type ServiceNumberMeaning =
  | { kind: 'dvb'; frequencyKhz: number; polarisationBit: 0 | 1; polarisation: 'H/L' | 'V/R'; serviceId: number }
  | { kind: 'radio'; directory: number; entry: number }
  | { kind: 'static' };

export interface Ipv4Range { text: string; base: number; size: number }

const TOP = 0x8000_0000;
const DVB = 0x4000_0000;
const FREQ_BITS = 13;

/** 18 V selects horizontal / circular-left; 13 V vertical / circular-right. */
export function polarisationBit(p: Polarisation): 0 | 1 {
  return p === 'V' || p === 'R' ? 1 : 0;
}

export function ipv4ToInt(text: string): number {
  const key = parseAddr(text);
  if (key.length !== 4) throw new PlanError('bad-ipv4-range', `not an IPv4 address: ${text}`);
  return ((key.charCodeAt(0) << 24) | (key.charCodeAt(1) << 16) | (key.charCodeAt(2) << 8) | key.charCodeAt(3)) >>> 0;
}

export function intToIpv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

/** The 23 bits of an IPv4 group that reach its MAC 01:00:5e:xx:xx:xx (RFC 1112 §6.4). */
export function macV4(group: string): number {
  return ipv4ToInt(group) & 0x7f_ffff;
}

export function macV4Text(group: string): string {
  const m = macV4(group);
  return `01:00:5e:${[(m >> 16) & 0xff, (m >> 8) & 0xff, m & 0xff].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
}

function parseIpv4Range(text: string, key: string, within: number, withinBits: number): Ipv4Range | undefined {
  if (text === '') return undefined;
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text);
  if (!m || !isIPv4(m[1])) throw new PlanError('bad-ipv4-range', `${key}: must be A.B.C.D/N, got ${JSON.stringify(text)}`);
  const bits = Number(m[2]);
  if (bits < withinBits || bits > 30) {
    throw new PlanError('bad-ipv4-range', `${key}: prefix length must be ${withinBits}..30, got ${bits}`);
  }
  const mask = bits === 0 ? 0 : (0xffff_ffff << (32 - bits)) >>> 0;
  const base = (ipv4ToInt(m[1]) & mask) >>> 0;
  const withinMask = (0xffff_ffff << (32 - withinBits)) >>> 0;
  if (((base & withinMask) >>> 0) !== within) {
    throw new PlanError('bad-ipv4-range', `${key}: ${text} is outside ${intToIpv4(within)}/${withinBits}`);
  }
  return { text, base, size: 2 ** (32 - bits) };
}

export class Plan {
  /** The 8 bytes ff3e:0040:P1:P2:P3:P4 as a latin1 string, to compare groups fast. */
  private readonly head: string;
  readonly prefix: string;
  readonly ipv4Ssm?: Ipv4Range;
  readonly ipv4Asm?: Ipv4Range;
  private readonly entryBits: number;

  constructor(readonly options: PlanOptions) {
    const bare = options.prefix.replace(/\/64$/, '');
    if (!isIPv6(bare)) throw new PlanError('bad-prefix', `plan.prefix: not an IPv6 /64: ${JSON.stringify(options.prefix)}`);
    const key = parseAddr(bare);
    if (key.slice(8) !== '\0'.repeat(8)) {
      throw new PlanError('bad-prefix', `plan.prefix: ${options.prefix} has bits set beyond /64`);
    }
    this.prefix = `${formatAddr(key)}/64`;
    this.head = '\xff\x3e\x00\x40' + key.slice(0, 8);
    const d = options.directoryBits;
    if (!Number.isInteger(d) || d < 1 || d > 20) throw new PlanError('bad-number', `plan.directoryBits: must be 1..20, got ${d}`);
    this.entryBits = 30 - d;
    if (!Number.isInteger(options.dvbStepKhz) || options.dvbStepKhz < 1) {
      throw new PlanError('bad-number', `plan.dvbStepKhz: must be a positive integer, got ${options.dvbStepKhz}`);
    }
    if (!Number.isInteger(options.dvbBaseKhz) || options.dvbBaseKhz < 0) {
      throw new PlanError('bad-number', `plan.dvbBaseKhz: must be a non-negative integer, got ${options.dvbBaseKhz}`);
    }
    this.ipv4Ssm = parseIpv4Range(options.ipv4Ssm, 'plan.ipv4Ssm', 0xe800_0000, 8);
    this.ipv4Asm = parseIpv4Range(options.ipv4Asm, 'plan.ipv4Asm', 0xef00_0000, 8);
  }

  get maxDirectory(): number { return 2 ** this.options.directoryBits - 1; }
  get maxEntry(): number { return 2 ** this.entryBits - 1; }

  /** ff3e:40:<prefix>:<HI>:<LO> for a 32-bit service number. */
  groupFor(serviceNumber: number): string {
    if (!Number.isInteger(serviceNumber) || serviceNumber < 0 || serviceNumber > 0xffff_ffff) {
      throw new PlanError('bad-number', `service number must be a 32-bit unsigned integer, got ${serviceNumber}`);
    }
    const tail = String.fromCharCode(serviceNumber >>> 24, (serviceNumber >>> 16) & 0xff, (serviceNumber >>> 8) & 0xff, serviceNumber & 0xff);
    return formatAddr((this.head + tail) as AddrKey);
  }

  /** The service number a group of this plan carries; PlanError if the group is not ours. */
  serviceNumberFor(group: string): number {
    const n = this.tryServiceNumberFor(group);
    if (n === undefined) {
      throw new PlanError('not-in-plan', `${group} is not a group of this plan (ff3e:40:${this.prefix.replace(/::\/64$/, '').replace(/\/64$/, '')}:<service number>)`);
    }
    return n;
  }

  tryServiceNumberFor(group: string): number | undefined {
    if (!isIPv6(group.split('%')[0])) return undefined;
    const key = parseAddr(group);
    if (key.slice(0, 12) !== this.head) return undefined;
    return ((key.charCodeAt(12) << 24) | (key.charCodeAt(13) << 16) | (key.charCodeAt(14) << 8) | key.charCodeAt(15)) >>> 0;
  }

  /** Internet radio: directory (1..2^D-1, 0 = by hand) and entry (1..2^(30-D)-1). */
  radioNumber(directory: number, entry: number): number {
    if (!Number.isInteger(directory) || directory < 0 || directory > this.maxDirectory) {
      throw new PlanError('directory-out-of-range', `directory number ${directory} does not fit plan.directoryBits=${this.options.directoryBits} (max ${this.maxDirectory})`);
    }
    if (!Number.isInteger(entry) || entry < 0 || entry > this.maxEntry) {
      throw new PlanError('entry-out-of-range', `entry ${entry} of directory ${directory} does not fit (max ${this.maxEntry}; lower plan.directoryBits for more entries)`);
    }
    return (TOP + directory * 2 ** this.entryBits + entry) >>> 0;
  }

  /** The carrier part of a DVB number: PlanError if the frequency is off the grid or out of range. */
  carrierIndex(frequencyKhz: number, polarisation: Polarisation): number {
    const { dvbBaseKhz: base, dvbStepKhz: step } = this.options;
    const offset = frequencyKhz - base;
    if (!Number.isInteger(frequencyKhz) || offset % step !== 0) {
      throw new PlanError('carrier-off-grid', `carrier ${frequencyKhz} kHz ${polarisation} is not on the ${step} kHz grid from ${base} kHz (plan.dvbBaseKhz / plan.dvbStepKhz); round it to the grid in the DVB list`);
    }
    const index = offset / step;
    if (index < 0 || index >= 2 ** FREQ_BITS) {
      const top = base + (2 ** FREQ_BITS - 1) * step;
      throw new PlanError('carrier-out-of-range', `carrier ${frequencyKhz} kHz ${polarisation} is outside the plan's DVB band ${base}..${top} kHz (move plan.dvbBaseKhz)`);
    }
    return (polarisationBit(polarisation) << FREQ_BITS) | index;
  }

  dvbNumber(frequencyKhz: number, polarisation: Polarisation, serviceId: number): number {
    if (!Number.isInteger(serviceId) || serviceId < 1 || serviceId > 0xffff) {
      throw new PlanError('bad-service-id', `service id must be 1..65535, got ${serviceId}`);
    }
    return (TOP + DVB + this.carrierIndex(frequencyKhz, polarisation) * 0x1_0000 + serviceId) >>> 0;
  }

  describe(serviceNumber: number): ServiceNumberMeaning {
    if (!Number.isInteger(serviceNumber) || serviceNumber < 0 || serviceNumber > 0xffff_ffff) {
      throw new PlanError('bad-number', `service number must be a 32-bit unsigned integer, got ${serviceNumber}`);
    }
    if (serviceNumber < TOP) return { kind: 'static' };
    const low30 = serviceNumber - TOP - ((serviceNumber & DVB) ? DVB : 0);
    if (serviceNumber & DVB) {
      const carrier = Math.floor(low30 / 0x1_0000);
      const bit = (carrier >> FREQ_BITS) as 0 | 1;
      const index = carrier & (2 ** FREQ_BITS - 1);
      return {
        kind: 'dvb',
        frequencyKhz: this.options.dvbBaseKhz + index * this.options.dvbStepKhz,
        polarisationBit: bit,
        polarisation: bit ? 'V/R' : 'H/L',
        serviceId: low30 & 0xffff,
      };
    }
    return { kind: 'radio', directory: Math.floor(low30 / 2 ** this.entryBits), entry: low30 % 2 ** this.entryBits };
  }

  /** The IPv4 range new channels get groups from: SSM if configured, else ASM. */
  get ipv4Range(): Ipv4Range | undefined {
    return this.ipv4Ssm ?? this.ipv4Asm;
  }
}

/** `2001:db8:1:0:abcd::1` → `2001:db8:1::/64`. */
export function prefix64Of(address: string): string {
  const key = parseAddr(address);
  return `${formatAddr((key.slice(0, 8) + '\0'.repeat(8)) as AddrKey)}/64`;
}

/** Used when no prefix is configured and no interface has a global address: RFC 3849 documentation prefix. */
export const FALLBACK_PREFIX = '2001:db8::/64';

/**
 * The prefix the plan uses: `plan.prefix` if set, else the /64 of the first
 * global unicast address (2000::/3) on the configured interfaces, else
 * FALLBACK_PREFIX (and `derivedFrom: 'fallback'` so the caller can warn).
 */
export function resolvePrefix(
  configured: string,
  interfaces: string[],
  ifaces: NodeJS.Dict<import('node:os').NetworkInterfaceInfo[]> = networkInterfaces(),
): { prefix: string; derivedFrom: string } {
  if (configured) return { prefix: configured, derivedFrom: 'plan.prefix' };
  for (const name of interfaces) {
    for (const info of ifaces[name] ?? []) {
      if (info.family === 'IPv6' && /^[23]/.test(info.address)) {
        return { prefix: prefix64Of(info.address), derivedFrom: `${name} ${info.address}` };
      }
    }
  }
  return { prefix: FALLBACK_PREFIX, derivedFrom: 'fallback' };
}

export interface PlanConfigLike {
  interfaces: string[];
  plan: Partial<PlanOptions>;
}

/** Builds the Plan from the config (see resolvePrefix for where the prefix comes from). */
export function planFromConfig(cfg: PlanConfigLike, ifaces?: NodeJS.Dict<import('node:os').NetworkInterfaceInfo[]>): Plan {
  const { prefix } = resolvePrefix(cfg.plan.prefix ?? '', cfg.interfaces, ifaces);
  return new Plan({ ...DEFAULT_PLAN_OPTIONS, ...cfg.plan, prefix });
}

/** Canonical text of a group (RFC 5952 for IPv6), so one group has one spelling in the store. */
export function canonicalGroup(group: string): string {
  return formatAddr(parseAddr(group));
}

export function isMulticastGroup(group: string): boolean {
  if (isIPv4(group)) return (ipv4ToInt(group) >>> 28) === 0xe;
  return isIPv6(group) && parseAddr(group).charCodeAt(0) === 0xff;
}
