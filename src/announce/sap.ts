/**
 * SAP, the Session Announcement Protocol (RFC 2974 §5): a pure codec.
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  | V=1 |A|R|T|E|C|   auth len    |         msg id hash           |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  :              originating source (32 or 128 bits)              :
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                 optional authentication data                  |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |        optional payload type ("application/sdp") + NUL        |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  :                            payload                            :
 *
 * A = 1: the origin is IPv6. T = 1: deletion. E / C: encrypted / compressed
 * (refused: nobody we talk to uses them). R is reserved, ignored on receipt.
 * auth len counts 32-bit words.
 */
import { createHash } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { formatAddr, parseAddr } from '../membership/addr.js';

export const SAP_PORT = 9875;
export const SAP_VERSION = 1;
const FLAG_IPV6 = 0x10;
const FLAG_RESERVED = 0x08;
const FLAG_DELETION = 0x04;
const FLAG_ENCRYPTED = 0x02;
const FLAG_COMPRESSED = 0x01;

export interface SapPacket {
  deletion: boolean;
  /** Originating source, as text (IPv4 or IPv6). */
  origin: string;
  /** 16-bit message id hash; with the origin it identifies one version of an announcement. */
  msgIdHash: number;
  /** MIME type; absent when the sender omitted it (SAPv0 style: payload starts with `v=0`). */
  payloadType?: string;
  /** Authentication data (auth len * 4 bytes), kept opaque. */
  auth?: Buffer;
  payload: Buffer;
}

export interface SapEncodeInput {
  deletion: boolean;
  origin: string;
  /** 1..65535: VLC drops hash 0 (PROTOCOLS.md §2). */
  msgIdHash: number;
  /** Default 'application/sdp'; null omits the field. */
  payloadType?: string | null;
  auth?: Buffer;
  payload: string | Buffer;
}

export class SapError extends Error {
  constructor(readonly field: string, readonly offset: number, reason: string) {
    super(`sap ${field} at offset ${offset}: ${reason}`);
    this.name = 'SapError';
  }
}

export function encodeSap(p: SapEncodeInput): Buffer {
  if (!Number.isInteger(p.msgIdHash) || p.msgIdHash < 1 || p.msgIdHash > 0xffff) {
    throw new SapError('msgIdHash', 2, `must be 1..65535, got ${p.msgIdHash}`);
  }
  const v6 = isIPv6(p.origin);
  if (!v6 && !isIPv4(p.origin)) throw new SapError('origin', 4, `not an IP address: ${JSON.stringify(p.origin)}`);
  const auth = p.auth ?? Buffer.alloc(0);
  if (auth.length % 4 !== 0 || auth.length > 255 * 4) throw new SapError('auth', 4, 'length must be a multiple of 4 up to 1020');
  const origin = Buffer.from(parseAddr(p.origin), 'latin1');
  const type = p.payloadType === null ? Buffer.alloc(0) : Buffer.from(`${p.payloadType ?? 'application/sdp'}\0`, 'latin1');
  const payload = typeof p.payload === 'string' ? Buffer.from(p.payload, 'utf8') : p.payload;
  const head = Buffer.alloc(4);
  head[0] = (SAP_VERSION << 5) | (v6 ? FLAG_IPV6 : 0) | (p.deletion ? FLAG_DELETION : 0);
  head[1] = auth.length / 4;
  head.writeUInt16BE(p.msgIdHash, 2);
  return Buffer.concat([head, origin, auth, type, payload]);
}

/** Decodes one SAP packet; throws SapError naming the field and offset. */
export function decodeSap(buf: Buffer): SapPacket {
  if (buf.length < 4) throw new SapError('header', 0, `truncated: ${buf.length} bytes, need 4`);
  const b0 = buf[0]!;
  const version = b0 >> 5;
  if (version !== SAP_VERSION) throw new SapError('version', 0, `must be 1, got ${version}`);
  if (b0 & FLAG_ENCRYPTED) throw new SapError('encrypted', 0, 'encrypted payloads are not supported');
  if (b0 & FLAG_COMPRESSED) throw new SapError('compressed', 0, 'compressed payloads are not supported');
  void FLAG_RESERVED; // RFC 2974 §5: R is ignored by receivers.
  const authLen = buf[1]! * 4;
  const msgIdHash = buf.readUInt16BE(2);
  const originLen = b0 & FLAG_IPV6 ? 16 : 4;
  let off = 4;
  if (buf.length < off + originLen) throw new SapError('origin', off, `truncated: need ${originLen} bytes, have ${buf.length - off}`);
  const origin = formatAddr(buf.subarray(off, off + originLen).toString('latin1'));
  off += originLen;
  if (buf.length < off + authLen) throw new SapError('auth', off, `truncated: need ${authLen} bytes, have ${buf.length - off}`);
  const auth = authLen ? Buffer.from(buf.subarray(off, off + authLen)) : undefined;
  off += authLen;
  let payloadType: string | undefined;
  // RFC 2974 §5: the payload type may be omitted, then the payload is SDP
  // and starts with "v=0" (SAPv0 senders, some older tools).
  if (!buf.subarray(off, off + 3).equals(Buffer.from('v=0'))) {
    const nul = buf.indexOf(0, off);
    if (nul < 0) throw new SapError('payloadType', off, 'missing: no NUL-terminated MIME type and the payload is not SDP');
    payloadType = buf.subarray(off, nul).toString('latin1');
    if (!/^[\x21-\x7e]+\/[\x21-\x7e]+$/.test(payloadType)) throw new SapError('payloadType', off, `not a MIME type: ${JSON.stringify(payloadType)}`);
    off = nul + 1;
  }
  if (off >= buf.length) throw new SapError('payload', off, 'missing');
  return {
    deletion: (b0 & FLAG_DELETION) !== 0,
    origin,
    msgIdHash,
    ...(payloadType !== undefined ? { payloadType } : {}),
    ...(auth ? { auth } : {}),
    payload: Buffer.from(buf.subarray(off)),
  };
}

/**
 * A 16-bit message id hash for an SDP text: never 0 (VLC drops it), and a
 * different SDP almost always gives a different hash (the Announcer also
 * makes sure an update never reuses the previous one).
 */
export function sapHash(sdp: string): number {
  const h = createHash('sha1').update(sdp, 'utf8').digest().readUInt16BE(0);
  return h === 0 ? 1 : h;
}

/**
 * The well-known SAP address for the scope of `group` (RFC 2974 §3, as VLC
 * and minisapserver apply it): IPv6 ffXY:: -> ff0Y::2:7ffe; IPv4
 * 224.0.0/24 -> 224.0.0.255, 239.255/16 -> 239.255.255.255,
 * 239.192/14 -> 239.195.255.255, otherwise the global 224.2.127.254.
 */
export function sapScopeAddress(group: string): string {
  if (isIPv6(group)) {
    const b = Buffer.from(parseAddr(group), 'latin1');
    if (b[0] !== 0xff) throw new RangeError(`sapScopeAddress: ${group} is not a multicast group`);
    const scope = b[1]! & 0x0f;
    return `ff0${scope.toString(16)}::2:7ffe`;
  }
  if (isIPv4(group)) {
    const [a, b, c] = group.split('.').map(Number) as [number, number, number];
    if (a < 224 || a > 239) throw new RangeError(`sapScopeAddress: ${group} is not a multicast group`);
    if (a === 224 && b === 0 && c === 0) return '224.0.0.255';
    if (a === 239 && b === 255) return '239.255.255.255';
    if (a === 239 && b >= 192 && b <= 195) return '239.195.255.255';
    return '224.2.127.254';
  }
  throw new RangeError(`sapScopeAddress: not an IP address: ${JSON.stringify(group)}`);
}
