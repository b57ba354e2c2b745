/**
 * Wire codecs for IGMPv1/v2/v3 (RFC 1112, RFC 2236, RFC 9776) and MLDv1/v2
 * (RFC 2710, RFC 9777): the IGMP message or ICMPv6 message only, no IP header.
 *
 * IGMPv3 Membership Query (type 0x11), RFC 9776 §4.1; 8 bytes = v1/v2 query:
 *    0                   1                   2                   3
 *   |  Type = 0x11  | Max Resp Code |           Checksum            |
 *   |                         Group Address                         |
 *   | Resv  |S| QRV |     QQIC      |     Number of Sources (N)     |
 *   |                  Source Address [1..N] (4 bytes each)         |
 *
 * IGMPv3 Membership Report (type 0x22), RFC 9776 §4.2, and a group record:
 *   |  Type = 0x22  |    Reserved   |           Checksum            |
 *   |           Reserved            |  Number of Group Records (M)  |
 *   |  Record Type  |  Aux Data Len |     Number of Sources (N)     |
 *   |   Multicast Address   |  Source Address [1..N]  |  Aux Data   |
 *
 * IGMPv1 report 0x12, v2 report 0x16, v2 leave 0x17 (RFC 2236 §2):
 *   |     Type      | Max Resp Time |           Checksum            |
 *   |                         Group Address                         |
 *
 * MLD messages (ICMPv6), RFC 9777 §5.1 / §5.2 and RFC 2710 §3:
 *   |  Type = 130   |      Code     |           Checksum            |
 *   |    Maximum Response Code      |           Reserved            |
 *   |                Multicast Address (16 bytes)                   |
 *   | Resv  |S| QRV |     QQIC      |     Number of Sources (N)     |   (MLDv2 only)
 *   |                  Source Address [1..N] (16 bytes each)        |
 *   MLDv1 report 131 / done 132: as the first 24 bytes, "Maximum Response Delay".
 *   MLDv2 report 143: as IGMPv3 report, with 16-byte addresses.
 *
 * Decoding is on the engine's hot path (1M records/s on one core): lengths are
 * checked before every read, addresses become AddrKey latin1 slices, and no
 * text is formatted unless a message is bad. A bad message always raises a
 * CodecError naming the field and offset; the fixed layouts below are used
 * only to name the field that a short message cuts.
 *
 * What is not kept (so encode(decode(bytes)) differs from bytes only then):
 * reserved bits and bytes (sent as zero), the MLD Code byte (zero), the
 * contents of aux data (RFC 9776 §4.2.6: ignored, re-sent as zeros of the
 * same length), records of unknown type (RFC 9776 §4.2.12: silently
 * ignored), and bytes after the last field (RFC 2236 §2.5: ignore extra
 * octets; they still count in the checksum).
 */
import { formatAddr, isUnspecified, type AddrKey } from './addr.js';
import { checksumOk, expectedChecksum, foldComplement, pseudoHeaderSum, wordSum } from './checksum.js';
import { decodeMaxRespCode, encodeMaxRespCode } from './floatcode.js';
import {
  RecordType,
  type GroupRecord,
  type LegacyLeave,
  type LegacyReport,
  type MembershipMessage,
  type Proto,
  type QueryMessage,
  type SourceReport,
} from './types.js';

export { decodeMaxRespCode, encodeMaxRespCode, decodeQqic, encodeQqic, maxFloatCodeValue, type FloatCodeKind } from './floatcode.js';

/** IGMP message types (RFC 9776 §4, RFC 2236 §2.1). */
export const IgmpType = {
  MEMBERSHIP_QUERY: 0x11,
  V1_MEMBERSHIP_REPORT: 0x12,
  V2_MEMBERSHIP_REPORT: 0x16,
  V2_LEAVE_GROUP: 0x17,
  V3_MEMBERSHIP_REPORT: 0x22,
} as const;

/** ICMPv6 types used by MLD (RFC 2710 §3, RFC 9777 §5). */
export const MldType = {
  LISTENER_QUERY: 130,
  V1_LISTENER_REPORT: 131,
  V1_LISTENER_DONE: 132,
  V2_LISTENER_REPORT: 143,
} as const;

/**
 * Why a message was refused. `reason` is a short, fixed category suited to
 * counters ("truncated", "bad checksum", "unknown type", "bad length",
 * "bad value"); `field` and `offset` say where; `message` is one line for a person.
 */
export class CodecError extends Error {
  override readonly name = 'CodecError';
  constructor(
    readonly field: string,
    readonly offset: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

function truncated(field: string, offset: number, needs: number, left: number): CodecError {
  return new CodecError(field, offset, 'truncated', `truncated at offset ${offset}: ${field} needs ${needs} bytes, ${Math.max(0, left)} left`);
}

function hex16(v: number): string {
  return `0x${v.toString(16).padStart(4, '0')}`;
}

function badValue(field: string, offset: number, what: string): CodecError {
  return new CodecError(field, offset, 'bad value', `bad value for ${field} at offset ${offset}: ${what}`);
}

/** [field name, offset, width] of a fixed header, in wire order. */
type Layout = ReadonlyArray<readonly [string, number, number]>;

const IGMP_HEADER: Layout = [['type', 0, 1], ['max resp code', 1, 1], ['checksum', 2, 2], ['group address', 4, 4]];
const REPORT_HEADER: Layout = [['type', 0, 1], ['reserved', 1, 1], ['checksum', 2, 2], ['reserved', 4, 2], ['number of records', 6, 2]];
const MLD_HEADER: Layout = [
  ['type', 0, 1], ['code', 1, 1], ['checksum', 2, 2], ['max resp code', 4, 2], ['reserved', 6, 2], ['multicast address', 8, 16],
];

/** Throws naming the first field of `layout` that a `len`-byte message cuts. */
function needLayout(len: number, layout: Layout, what: string): void {
  const [, lastOff, lastWidth] = layout[layout.length - 1];
  if (len >= lastOff + lastWidth) return;
  for (const [name, off, width] of layout) {
    if (off + width > len) throw truncated(`${what} ${name}`, off, width, len - off);
  }
}

const ADDR_IGMP = 4;
const ADDR_MLD = 16;

/**
 * The address of `width` (4 or 16) bytes at `off`, as an AddrKey; the caller
 * has checked that it fits. String.fromCharCode of the bytes is the same
 * latin1 string as buf.toString('latin1', ...) at a third of the cost (no
 * trip through the Buffer encoding dispatch and C++), and this runs for every
 * group and source on the hot path.
 */
function addrAt(buf: Buffer, off: number, width: number): AddrKey {
  if (width === ADDR_IGMP) return String.fromCharCode(buf[off], buf[off + 1], buf[off + 2], buf[off + 3]);
  return String.fromCharCode(
    buf[off], buf[off + 1], buf[off + 2], buf[off + 3], buf[off + 4], buf[off + 5], buf[off + 6], buf[off + 7],
    buf[off + 8], buf[off + 9], buf[off + 10], buf[off + 11], buf[off + 12], buf[off + 13], buf[off + 14], buf[off + 15],
  );
}

/** N addresses of `width` bytes from `off`; the caller has checked that they fit. */
function readAddrs(buf: Buffer, off: number, n: number, width: number): AddrKey[] {
  const out: AddrKey[] = [];
  for (let i = 0; i < n; i++, off += width) out.push(addrAt(buf, off, width));
  return out;
}

/** Checks that `n` addresses fit from `off`; names the first one cut. */
function needAddrs(len: number, off: number, n: number, width: number, what: string): void {
  if (off + n * width <= len) return;
  const whole = Math.max(0, Math.floor((len - off) / width));
  const at = off + whole * width;
  throw truncated(`${what} source ${whole + 1}`, at, width, len - at);
}

/** Group records of an IGMPv3 / MLDv2 report, from offset 8 (RFC 9776 §4.2.4, RFC 9777 §5.2.4). */
function readRecords(buf: Buffer, count: number, width: number): GroupRecord[] {
  const len = buf.length;
  const records: GroupRecord[] = [];
  let off = 8;
  for (let r = 0; r < count; r++) {
    const header = 4 + width;
    if (off + header > len) throw truncated(`record ${r + 1} header`, off, header, len - off);
    const type = buf[off];
    const auxWords = buf[off + 1];
    const n = (buf[off + 2] << 8) | buf[off + 3];
    const group = addrAt(buf, off + 4, width);
    off += header;
    needAddrs(len, off, n, width, `record ${r + 1}`);
    const sources = readAddrs(buf, off, n, width);
    off += n * width;
    // Aux data: skipped by its length (RFC 9776 §4.2.6, RFC 9777 §5.2.6).
    const aux = auxWords * 4;
    if (off + aux > len) throw truncated(`record ${r + 1} aux data`, off, aux, len - off);
    off += aux;
    // Unknown record types are silently ignored (RFC 9776 §4.2.12, RFC 9777 §5.2.12).
    if (type >= RecordType.MODE_IS_INCLUDE && type <= RecordType.BLOCK_OLD_SOURCES) {
      records.push({ type: type as RecordType, group, sources, auxWords });
    }
  }
  return records;
}

function verifyChecksum(payload: Buffer, pseudo: number): void {
  if (checksumOk(payload, pseudo)) return;
  const stored = (payload[2] << 8) | payload[3];
  throw new CodecError('checksum', 2, 'bad checksum', `bad checksum: ${hex16(stored)}, expected ${hex16(expectedChecksum(payload, pseudo))}`);
}

function unknownType(type: number): CodecError {
  return new CodecError('type', 0, 'unknown type', `unknown type 0x${type.toString(16).padStart(2, '0')} at offset 0`);
}

/** Decodes one IGMP message (no IP header) and verifies its checksum. */
export function decodeIgmp(payload: Buffer): MembershipMessage {
  const len = payload.length;
  if (len < 1) throw truncated('type', 0, 1, 0);
  const type = payload[0];
  let msg: MembershipMessage;
  switch (type) {
    case IgmpType.MEMBERSHIP_QUERY: {
      needLayout(len, IGMP_HEADER, 'query');
      const code = payload[1];
      const group = addrAt(payload, 4, ADDR_IGMP);
      if (len === 8) {
        // RFC 9776 §7.1: 8 bytes is v1 (Max Resp Code 0) or v2.
        const version = code === 0 ? 1 : 2;
        msg = { kind: 'query', proto: 'igmp', version, maxRespMs: code * 100, group, suppress: false, qrv: 0, qqicS: 0, sources: [] };
        break;
      }
      // RFC 9776 §7.1: lengths 9-11 are not a valid query of any version.
      if (len < 12) throw new CodecError('length', 0, 'bad length', `bad length ${len} for IGMP query: 8 (v1/v2) or at least 12 (v3)`);
      const n = (payload[10] << 8) | payload[11];
      needAddrs(len, 12, n, ADDR_IGMP, 'query');
      msg = {
        kind: 'query',
        proto: 'igmp',
        version: 3,
        // RFC 9776 §4.1.1: units of 1/10 second.
        maxRespMs: decodeMaxRespCode(code, 'igmp-mrc') * 100,
        group,
        suppress: (payload[8] & 0x08) !== 0,
        qrv: payload[8] & 0x07,
        qqicS: decodeMaxRespCode(payload[9], 'qqic'),
        sources: readAddrs(payload, 12, n, ADDR_IGMP),
      };
      break;
    }
    case IgmpType.V1_MEMBERSHIP_REPORT:
    case IgmpType.V2_MEMBERSHIP_REPORT: {
      needLayout(len, IGMP_HEADER, 'report');
      const version = type === IgmpType.V1_MEMBERSHIP_REPORT ? 1 : 2;
      msg = { kind: 'legacy-report', proto: 'igmp', version, group: addrAt(payload, 4, ADDR_IGMP), maxRespCode: payload[1] };
      break;
    }
    case IgmpType.V2_LEAVE_GROUP:
      needLayout(len, IGMP_HEADER, 'leave');
      msg = { kind: 'legacy-leave', proto: 'igmp', version: 2, group: addrAt(payload, 4, ADDR_IGMP) };
      break;
    case IgmpType.V3_MEMBERSHIP_REPORT:
      needLayout(len, REPORT_HEADER, 'report');
      msg = { kind: 'report', proto: 'igmp', version: 3, records: readRecords(payload, (payload[6] << 8) | payload[7], ADDR_IGMP) };
      break;
    default:
      throw unknownType(type);
  }
  verifyChecksum(payload, 0);
  return msg;
}

/**
 * Decodes one MLD message (the ICMPv6 message, no IPv6 header). The checksum
 * covers an IPv6 pseudo-header, so it is verified only when both `from` and
 * `to` are given; Linux has already verified it for raw ICMPv6 sockets.
 */
export function decodeMld(payload: Buffer, from?: AddrKey, to?: AddrKey): MembershipMessage {
  const len = payload.length;
  if (len < 1) throw truncated('type', 0, 1, 0);
  const type = payload[0];
  let msg: MembershipMessage;
  switch (type) {
    case MldType.LISTENER_QUERY: {
      needLayout(len, MLD_HEADER, 'query');
      const code = (payload[4] << 8) | payload[5];
      const group = addrAt(payload, 8, ADDR_MLD);
      if (len === 24) {
        // RFC 9777 §8.1: 24 bytes is an MLDv1 query; Maximum Response Delay in ms.
        msg = { kind: 'query', proto: 'mld', version: 1, maxRespMs: code, group, suppress: false, qrv: 0, qqicS: 0, sources: [] };
        break;
      }
      // RFC 9777 §8.1: 25-27 bytes match no version.
      if (len < 28) throw new CodecError('length', 0, 'bad length', `bad length ${len} for MLD query: 24 (v1) or at least 28 (v2)`);
      const n = (payload[26] << 8) | payload[27];
      needAddrs(len, 28, n, ADDR_MLD, 'query');
      msg = {
        kind: 'query',
        proto: 'mld',
        version: 2,
        maxRespMs: decodeMaxRespCode(code, 'mld-mrc'),
        group,
        suppress: (payload[24] & 0x08) !== 0,
        qrv: payload[24] & 0x07,
        qqicS: decodeMaxRespCode(payload[25], 'qqic'),
        sources: readAddrs(payload, 28, n, ADDR_MLD),
      };
      break;
    }
    case MldType.V1_LISTENER_REPORT:
      needLayout(len, MLD_HEADER, 'report');
      msg = { kind: 'legacy-report', proto: 'mld', version: 1, group: addrAt(payload, 8, ADDR_MLD), maxRespCode: (payload[4] << 8) | payload[5] };
      break;
    case MldType.V1_LISTENER_DONE:
      needLayout(len, MLD_HEADER, 'done');
      msg = { kind: 'legacy-leave', proto: 'mld', version: 1, group: addrAt(payload, 8, ADDR_MLD) };
      break;
    case MldType.V2_LISTENER_REPORT:
      needLayout(len, REPORT_HEADER, 'report');
      msg = { kind: 'report', proto: 'mld', version: 2, records: readRecords(payload, (payload[6] << 8) | payload[7], ADDR_MLD) };
      break;
    default:
      throw unknownType(type);
  }
  if (from !== undefined && to !== undefined) {
    if (from.length !== ADDR_MLD || to.length !== ADDR_MLD) {
      throw badValue('pseudo-header', 0, 'MLD checksum needs IPv6 source and destination addresses');
    }
    verifyChecksum(payload, pseudoHeaderSum(from, to, len));
  }
  return msg;
}

export function decodeMembership(proto: Proto, payload: Buffer, from?: AddrKey, to?: AddrKey): MembershipMessage {
  return proto === 'igmp' ? decodeIgmp(payload) : decodeMld(payload, from, to);
}

/** Which protocol a message's first byte belongs to, or undefined (used where no IP header tells). */
export function protoOfType(type: number): Proto | undefined {
  switch (type) {
    case IgmpType.MEMBERSHIP_QUERY:
    case IgmpType.V1_MEMBERSHIP_REPORT:
    case IgmpType.V2_MEMBERSHIP_REPORT:
    case IgmpType.V2_LEAVE_GROUP:
    case IgmpType.V3_MEMBERSHIP_REPORT:
      return 'igmp';
    case MldType.LISTENER_QUERY:
    case MldType.V1_LISTENER_REPORT:
    case MldType.V1_LISTENER_DONE:
    case MldType.V2_LISTENER_REPORT:
      return 'mld';
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------- encoding

function checkAddr(key: AddrKey, width: number, field: string, offset: number): void {
  if (typeof key !== 'string' || key.length !== width) {
    throw badValue(field, offset, `needs a ${width}-byte address, got ${typeof key === 'string' ? key.length : typeof key} bytes`);
  }
}

function checkVersion(msg: MembershipMessage, allowed: readonly number[]): void {
  if (!allowed.includes(msg.version)) {
    throw badValue('version', 0, `${msg.proto} ${msg.kind} version ${msg.version}, expected ${allowed.join(' or ')}`);
  }
}

function floatCode(value: number, kind: 'igmp-mrc' | 'mld-mrc' | 'qqic', field: string, offset: number): number {
  try {
    return encodeMaxRespCode(value, kind);
  } catch (err) {
    throw badValue(field, offset, (err as Error).message);
  }
}

/** Byte 24 / 8 of a v3/v2 query: Resv|S|QRV. QRV 0 when robustness exceeds 7 (RFC 9776 §4.1.6). */
function flagsByte(msg: QueryMessage): number {
  const qrv = Number.isInteger(msg.qrv) && msg.qrv >= 0 && msg.qrv <= 7 ? msg.qrv : 0;
  return (msg.suppress ? 0x08 : 0) | qrv;
}

function writeAddrs(buf: Buffer, off: number, addrs: readonly AddrKey[], width: number, what: string): number {
  for (let i = 0; i < addrs.length; i++, off += width) {
    checkAddr(addrs[i], width, `${what} source ${i + 1}`, off);
    buf.write(addrs[i], off, width, 'latin1');
  }
  return off;
}

function recordsLength(records: readonly GroupRecord[], width: number): number {
  let size = 8;
  for (const r of records) size += 4 + width + r.sources.length * width + r.auxWords * 4;
  return size;
}

function writeReport(msg: SourceReport, type: number, width: number): Buffer {
  if (msg.records.length > 0xffff) throw badValue('number of records', 6, `${msg.records.length} records, at most 65535`);
  const buf = Buffer.alloc(recordsLength(msg.records, width));
  buf[0] = type;
  buf.writeUInt16BE(msg.records.length, 6);
  let off = 8;
  for (const [i, r] of msg.records.entries()) {
    const what = `record ${i + 1}`;
    if (!Number.isInteger(r.type) || r.type < 1 || r.type > 6) throw badValue(`${what} type`, off, `record type ${r.type}`);
    if (!Number.isInteger(r.auxWords) || r.auxWords < 0 || r.auxWords > 0xff) throw badValue(`${what} aux data len`, off + 1, `${r.auxWords}`);
    if (r.sources.length > 0xffff) throw badValue(`${what} number of sources`, off + 2, `${r.sources.length}, at most 65535`);
    checkAddr(r.group, width, `${what} multicast address`, off + 4);
    buf[off] = r.type;
    buf[off + 1] = r.auxWords;
    buf.writeUInt16BE(r.sources.length, off + 2);
    buf.write(r.group, off + 4, width, 'latin1');
    off = writeAddrs(buf, off + 4 + width, r.sources, width, what);
    off += r.auxWords * 4; // aux data sent as zeros
  }
  return buf;
}

function checkSourceCount(msg: QueryMessage, offset: number): void {
  if (msg.sources.length > 0xffff) throw badValue('number of sources', offset, `${msg.sources.length}, at most 65535`);
}

/** Encodes an IGMP message with its checksum filled in. */
export function encodeIgmp(msg: MembershipMessage): Buffer {
  if (msg.proto !== 'igmp') throw badValue('proto', 0, `encodeIgmp got a ${msg.proto} message`);
  let buf: Buffer;
  switch (msg.kind) {
    case 'query': {
      checkVersion(msg, [1, 2, 3]);
      checkAddr(msg.group, ADDR_IGMP, 'group address', 4);
      if (msg.version === 3) {
        checkSourceCount(msg, 10);
        buf = Buffer.alloc(12 + msg.sources.length * ADDR_IGMP);
        buf[1] = floatCode(msg.maxRespMs / 100, 'igmp-mrc', 'max resp code', 1);
        buf[8] = flagsByte(msg);
        buf[9] = floatCode(msg.qqicS, 'qqic', 'QQIC', 9);
        buf.writeUInt16BE(msg.sources.length, 10);
        writeAddrs(buf, 12, msg.sources, ADDR_IGMP, 'query');
      } else {
        buf = Buffer.alloc(8);
        if (msg.version === 2) {
          // RFC 2236 §2.2: tenths of a second, literal; 0 would read as an IGMPv1 query.
          const code = Math.ceil(msg.maxRespMs / 100);
          if (!(code >= 1 && code <= 0xff)) throw badValue('max resp code', 1, `IGMPv2 max resp time ${msg.maxRespMs} ms, expected 1..25500`);
          buf[1] = code;
        }
      }
      buf[0] = IgmpType.MEMBERSHIP_QUERY;
      buf.write(msg.group, 4, ADDR_IGMP, 'latin1');
      break;
    }
    case 'legacy-report':
      checkVersion(msg, [1, 2]);
      checkAddr(msg.group, ADDR_IGMP, 'group address', 4);
      buf = Buffer.alloc(8);
      buf[0] = msg.version === 1 ? IgmpType.V1_MEMBERSHIP_REPORT : IgmpType.V2_MEMBERSHIP_REPORT;
      buf[1] = msg.maxRespCode & 0xff;
      buf.write(msg.group, 4, ADDR_IGMP, 'latin1');
      break;
    case 'legacy-leave':
      checkVersion(msg, [2]);
      checkAddr(msg.group, ADDR_IGMP, 'group address', 4);
      buf = Buffer.alloc(8);
      buf[0] = IgmpType.V2_LEAVE_GROUP;
      buf.write(msg.group, 4, ADDR_IGMP, 'latin1');
      break;
    case 'report':
      checkVersion(msg, [3]);
      buf = writeReport(msg, IgmpType.V3_MEMBERSHIP_REPORT, ADDR_IGMP);
      break;
  }
  buf.writeUInt16BE(foldComplement(wordSum(buf)), 2);
  return buf;
}

/** Encodes an MLD message with its ICMPv6 checksum (over the pseudo-header from `from` to `to`). */
export function encodeMld(msg: MembershipMessage, from: AddrKey, to: AddrKey): Buffer {
  if (msg.proto !== 'mld') throw badValue('proto', 0, `encodeMld got a ${msg.proto} message`);
  checkAddr(from, ADDR_MLD, 'pseudo-header source', 0);
  checkAddr(to, ADDR_MLD, 'pseudo-header destination', 0);
  let buf: Buffer;
  switch (msg.kind) {
    case 'query': {
      checkVersion(msg, [1, 2]);
      checkAddr(msg.group, ADDR_MLD, 'multicast address', 8);
      if (msg.version === 2) {
        checkSourceCount(msg, 26);
        buf = Buffer.alloc(28 + msg.sources.length * ADDR_MLD);
        buf.writeUInt16BE(floatCode(msg.maxRespMs, 'mld-mrc', 'max resp code', 4), 4);
        buf[24] = flagsByte(msg);
        buf[25] = floatCode(msg.qqicS, 'qqic', 'QQIC', 25);
        buf.writeUInt16BE(msg.sources.length, 26);
        writeAddrs(buf, 28, msg.sources, ADDR_MLD, 'query');
      } else {
        // RFC 2710 §3.4: Maximum Response Delay in milliseconds, literal.
        const delay = Math.ceil(msg.maxRespMs);
        if (!(delay >= 0 && delay <= 0xffff)) throw badValue('max resp code', 4, `MLDv1 max response delay ${msg.maxRespMs} ms, expected 0..65535`);
        buf = Buffer.alloc(24);
        buf.writeUInt16BE(delay, 4);
      }
      buf[0] = MldType.LISTENER_QUERY;
      buf.write(msg.group, 8, ADDR_MLD, 'latin1');
      break;
    }
    case 'legacy-report':
    case 'legacy-leave':
      checkVersion(msg, [1]);
      checkAddr(msg.group, ADDR_MLD, 'multicast address', 8);
      buf = Buffer.alloc(24);
      buf[0] = msg.kind === 'legacy-report' ? MldType.V1_LISTENER_REPORT : MldType.V1_LISTENER_DONE;
      if (msg.kind === 'legacy-report') buf.writeUInt16BE(msg.maxRespCode & 0xffff, 4);
      buf.write(msg.group, 8, ADDR_MLD, 'latin1');
      break;
    case 'report':
      checkVersion(msg, [2]);
      buf = writeReport(msg, MldType.V2_LISTENER_REPORT, ADDR_MLD);
      break;
  }
  buf.writeUInt16BE(foldComplement(pseudoHeaderSum(from, to, buf.length) + wordSum(buf)), 2);
  return buf;
}

// ---------------------------------------------------------------- JSON

const RECORD_TYPE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(RecordType).map(([name, number]) => [number, name]),
);

export function recordTypeName(type: number): string {
  return RECORD_TYPE_NAMES[type] ?? `UNKNOWN_${type}`;
}

export interface GroupRecordJson {
  type: string;
  typeNumber: number;
  group: string;
  sources: string[];
  auxWords: number;
}

/**
 * A message as plain JSON for people and tools (`headend decode`, simulate):
 * addresses as text, record types by name and number.
 */
export function messageToJson(msg: MembershipMessage): Record<string, unknown> {
  const head = { proto: msg.proto, version: msg.version, kind: msg.kind };
  switch (msg.kind) {
    case 'query':
      return {
        ...head,
        group: formatAddr(msg.group),
        general: isUnspecified(msg.group),
        maxRespMs: msg.maxRespMs,
        suppress: msg.suppress,
        qrv: msg.qrv,
        qqicS: msg.qqicS,
        sources: msg.sources.map(formatAddr),
      };
    case 'report':
      return {
        ...head,
        records: msg.records.map((r): GroupRecordJson => ({
          type: recordTypeName(r.type),
          typeNumber: r.type,
          group: formatAddr(r.group),
          sources: r.sources.map(formatAddr),
          auxWords: r.auxWords,
        })),
      };
    case 'legacy-report':
      return { ...head, group: formatAddr(msg.group), maxRespCode: msg.maxRespCode };
    case 'legacy-leave':
      return { ...head, group: formatAddr(msg.group) };
  }
}

export type { GroupRecord, LegacyLeave, LegacyReport, MembershipMessage, Proto, QueryMessage, SourceReport };
