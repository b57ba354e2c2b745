/**
 * Internet checksums for membership messages (RFC 1071).
 *
 * IGMP (RFC 9776 §4.1.2): ones' complement of the ones' complement sum over
 * the whole IGMP message, checksum field taken as zero; no pseudo-header.
 * ICMPv6/MLD (RFC 4443 §2.3, RFC 8200 §8.1): the same over the IPv6
 * pseudo-header (source, destination, 32-bit upper-layer length, three zero
 * bytes, next header 58) followed by the ICMPv6 message.
 *
 * Sums are kept unfolded in a JS number (safe far beyond any IP payload)
 * and folded once at the end.
 */
import type { AddrKey } from './addr.js';

export const ICMPV6_NEXT_HEADER = 58;

/** Unfolded 16-bit big-endian word sum of buf[start..end) (odd tail padded with zero). */
export function wordSum(buf: Buffer, start = 0, end = buf.length): number {
  let sum = 0;
  let i = start;
  for (; i + 1 < end; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  if (i < end) sum += buf[i] << 8;
  return sum;
}

/** Word sum of an AddrKey's raw bytes (4 or 16, always even). */
export function addrWordSum(key: AddrKey): number {
  let sum = 0;
  for (let i = 0; i + 1 < key.length; i += 2) sum += (key.charCodeAt(i) << 8) | key.charCodeAt(i + 1);
  return sum;
}

/** Folds carries and complements: the value to store in a checksum field. */
export function foldComplement(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/** Word sum of the ICMPv6 pseudo-header for a message of `length` bytes. */
export function pseudoHeaderSum(from: AddrKey, to: AddrKey, length: number): number {
  return addrWordSum(from) + addrWordSum(to) + Math.floor(length / 0x10000) + (length & 0xffff) + ICMPV6_NEXT_HEADER;
}

/**
 * The checksum a message should carry, computed with its checksum field
 * (bytes 2-3 in both IGMP and ICMPv6) taken as zero. `pseudo` is the
 * pseudo-header word sum for ICMPv6, 0 for IGMP.
 */
export function expectedChecksum(msg: Buffer, pseudo = 0): number {
  const stored = msg.length >= 4 ? (msg[2] << 8) | msg[3] : 0;
  return foldComplement(pseudo + wordSum(msg) - stored);
}

/** True when the stored checksum is right: the sum over everything folds to 0xffff. */
export function checksumOk(msg: Buffer, pseudo = 0): boolean {
  return foldComplement(pseudo + wordSum(msg)) === 0;
}
