/**
 * Addresses inside the membership engine.
 *
 * The engine keys everything by address, and the benchmark target (1M records/s
 * on one core) leaves no room to format every IPv6 source as text. So inside
 * the engine an address is an `AddrKey`: the raw network-order bytes as a
 * latin1 string (4 chars for IPv4, 16 for IPv6). Slicing a Buffer into latin1
 * costs tens of nanoseconds; RFC 5952 text is made only where a person or a
 * JSON consumer reads it (events, dumps, `headend decode`).
 */
import { isIPv4, isIPv6 } from 'node:net';

/** Raw address bytes as a latin1 string: 4 chars (IPv4) or 16 chars (IPv6). */
export type AddrKey = string & { readonly __addrKey?: never };

export const IPV4_ANY: AddrKey = '\0\0\0\0';
export const IPV6_ANY: AddrKey = '\0'.repeat(16);

export function addrFromBuffer(buf: Buffer, offset: number, length: 4 | 16): AddrKey {
  return buf.toString('latin1', offset, offset + length);
}

export function addrToBuffer(key: AddrKey): Buffer {
  return Buffer.from(key, 'latin1');
}

export function addrFamily(key: AddrKey): 4 | 6 {
  return key.length === 4 ? 4 : 6;
}

export function isUnspecified(key: AddrKey): boolean {
  return key === IPV4_ANY || key === IPV6_ANY;
}

/** Text form: dotted quad, or RFC 5952 (lowercase, longest zero run compressed). */
export function formatAddr(key: AddrKey): string {
  if (key.length === 4) {
    return `${key.charCodeAt(0)}.${key.charCodeAt(1)}.${key.charCodeAt(2)}.${key.charCodeAt(3)}`;
  }
  if (key.length !== 16) throw new RangeError(`address key has ${key.length} bytes, expected 4 or 16`);
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((key.charCodeAt(i) << 8) | key.charCodeAt(i + 1));
  // RFC 5952 §4.2: compress the longest run of two or more zero words, the first if tied.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = (w: number) => w.toString(16);
  if (bestStart < 0) return words.map(hex).join(':');
  const head = words.slice(0, bestStart).map(hex).join(':');
  const tail = words.slice(bestStart + bestLen).map(hex).join(':');
  return `${head}::${tail}`;
}

export class AddressError extends Error {
  constructor(readonly text: string, reason: string) {
    super(`bad address "${text}": ${reason}`);
    this.name = 'AddressError';
  }
}

/** Parses IPv4 or IPv6 text (a `%zone` suffix is ignored) into an AddrKey. */
export function parseAddr(text: string): AddrKey {
  const bare = text.includes('%') ? text.slice(0, text.indexOf('%')) : text;
  if (isIPv4(bare)) {
    return String.fromCharCode(...bare.split('.').map(Number));
  }
  if (!isIPv6(bare)) throw new AddressError(text, 'not an IPv4 or IPv6 address');
  let head = bare;
  let v4tail: number[] = [];
  const lastColon = bare.lastIndexOf(':');
  if (bare.slice(lastColon + 1).includes('.')) {
    v4tail = bare.slice(lastColon + 1).split('.').map(Number);
    head = bare.slice(0, lastColon + 1) + '0:0';
  }
  const [left, right] = head.includes('::') ? head.split('::') : [head, undefined];
  const lw = left ? left.split(':') : [];
  const rw = right !== undefined && right !== '' ? right.split(':') : [];
  const fill = right === undefined ? [] : new Array(8 - lw.length - rw.length).fill('0');
  const words = [...lw, ...fill, ...rw].map((w) => parseInt(w, 16));
  const bytes: number[] = [];
  for (const w of words) bytes.push(w >> 8, w & 0xff);
  if (v4tail.length === 4) bytes.splice(12, 4, ...v4tail);
  return String.fromCharCode(...bytes);
}

/** A prefix such as `232.0.0.0/8` or `ff30::/12`, matched against AddrKeys. */
export interface Prefix { readonly key: AddrKey; readonly bits: number; readonly text: string }

export function parsePrefix(text: string): Prefix {
  const slash = text.indexOf('/');
  if (slash < 0) throw new AddressError(text, 'missing "/length"');
  const key = parseAddr(text.slice(0, slash));
  const bits = Number(text.slice(slash + 1));
  const max = key.length * 8;
  if (!Number.isInteger(bits) || bits < 0 || bits > max) {
    throw new AddressError(text, `prefix length must be an integer 0..${max}`);
  }
  return { key, bits, text };
}

export function inPrefix(key: AddrKey, prefix: Prefix): boolean {
  if (key.length !== prefix.key.length) return false;
  let bits = prefix.bits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((key.charCodeAt(i) & mask) !== (prefix.key.charCodeAt(i) & mask)) return false;
  }
  return true;
}

export function isMulticast(key: AddrKey): boolean {
  if (key.length === 4) return (key.charCodeAt(0) & 0xf0) === 0xe0;
  return key.length === 16 && key.charCodeAt(0) === 0xff;
}

/** IPv6 link-local unicast fe80::/10. */
export function isLinkLocal6(key: AddrKey): boolean {
  return key.length === 16 && key.charCodeAt(0) === 0xfe && (key.charCodeAt(1) & 0xc0) === 0x80;
}

/**
 * Lexicographic byte comparison: querier election picks the numerically lowest
 * address (RFC 9776 §6.6.2, RFC 9777 §7.6.2), which is the lowest latin1 string.
 */
export function compareAddr(a: AddrKey, b: AddrKey): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
