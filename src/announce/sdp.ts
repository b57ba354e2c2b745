/**
 * The SDP (RFC 8866) that describes one stream: one group, one m= block.
 * Written with sdp-transform (one grammar table for parse and write), in the
 * shape VLC 4's SAP path accepts (PROTOCOLS.md §2): lines in RFC order
 * v o s i u e p c b t r z k a, then exactly one m= block; RTP/AVP; a session
 * c= line (IPv4 carries /ttl, RFC 8866 §5.7); no a=control; static payload
 * types where possible (14 MPA, 33 MP2T: RFC 3551 §6); RTCP port in a=rtcp
 * (RFC 3605); for SSM an RFC 4570 source filter `incl IN IP6 <group> <source>`.
 *
 * Example (IPv6 SSM, MP3 passthrough):
 *
 *   v=0
 *   o=- 2147483649 3 IN IP6 2001:db8::1
 *   s=Tone
 *   c=IN IP6 ff3e:40:2001:db8:1:0:8000:1
 *   t=0 0
 *   a=recvonly
 *   a=source-filter: incl IN IP6 ff3e:40:2001:db8:1:0:8000:1 2001:db8::1
 *   a=tool:mcast-headend 0.1.0
 *   a=type:broadcast
 *   m=audio 5004 RTP/AVP 14
 *   a=rtcp:5005
 */
import { isIPv4, isIPv6 } from 'node:net';
import { parse, write, type MediaDescription, type SessionDescription } from 'sdp-transform';

export { parse as parseSdp };

/** Static payload types (RFC 3551 §6) the headend sends. */
export const PT_MPA = 14;
export const PT_MP2T = 33;

export interface SdpOptions {
  /** The multicast group the RTP goes to. */
  group: string;
  /** SSM source address: adds `a=source-filter: incl IN IP6|IP4 <group> <source>`. */
  source?: string;
  port: number;
  rtcpPort: number;
  /** 14 (MPA), 33 (MP2T), or a dynamic type 96..127 with `rtpmap`. */
  payloadType: number;
  /** Required for dynamic payload types: `a=rtpmap:<pt> <codec>/<rate>[/<channels>]`. */
  rtpmap?: { codec: string; rate: number; channels?: number };
  /** `a=fmtp:<pt> <config>` for dynamic payload types. */
  fmtp?: string;
  /** m= media type; default audio for PT 14 and dynamic, video for PT 33. */
  media?: 'audio' | 'video';
  /** s= line: the channel name. */
  name: string;
  /** i= line. */
  info?: string;
  /** u= line. */
  url?: string;
  /** b=AS: in kbit/s. */
  bandwidthKbps?: number;
  /** o= session id and version (RFC 8866 §5.2): same id for the life of the session, version up on change. */
  sessionId: number | string;
  sessionVersion: number;
  /** o= unicast address of the originating host. */
  originAddress: string;
  /** a=tool: */
  tool: string;
  /** IPv4 c= TTL (default 1); ignored for IPv6, whose scope is in the address. */
  ttl?: number;
}

export class SdpError extends Error {
  constructor(readonly field: string, reason: string) {
    super(`sdp ${field}: ${reason}`);
    this.name = 'SdpError';
  }
}

/** SDP text fields cannot carry CR/LF (RFC 8866 §5); names come from directories. */
function textField(field: string, value: string, max = 200): string {
  const clean = value.replace(/[\x00-\x1f\x7f]+/g, ' ').trim().slice(0, max);
  if (clean === '') throw new SdpError(field, 'must not be empty');
  return clean;
}

function ipVer(field: string, addr: string): 4 | 6 {
  if (isIPv6(addr)) return 6;
  if (isIPv4(addr)) return 4;
  throw new SdpError(field, `not an IP address: ${JSON.stringify(addr)}`);
}

function port(field: string, value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > 65535) throw new SdpError(field, `not a port: ${value}`);
  return value;
}

/** Builds the SDP for one stream; throws SdpError naming the bad option. */
export function buildSdp(opts: SdpOptions): string {
  const v = ipVer('group', opts.group);
  const originVer = ipVer('originAddress', opts.originAddress);
  if (opts.source !== undefined && ipVer('source', opts.source) !== v) throw new SdpError('source', 'address family differs from the group');
  const pt = opts.payloadType;
  if (!Number.isInteger(pt) || pt < 0 || pt > 127) throw new SdpError('payloadType', `not 0..127: ${pt}`);
  const dynamic = pt >= 96;
  if (dynamic && !opts.rtpmap) throw new SdpError('rtpmap', `required for dynamic payload type ${pt}`);
  if (!Number.isInteger(opts.sessionVersion) || opts.sessionVersion < 0) throw new SdpError('sessionVersion', 'must be an integer >= 0');
  if (!/^\d{1,20}$/.test(String(opts.sessionId))) throw new SdpError('sessionId', 'must be a decimal number');
  const ttl = opts.ttl ?? 1;
  if (v === 4 && (!Number.isInteger(ttl) || ttl < 0 || ttl > 255)) throw new SdpError('ttl', `not 0..255: ${ttl}`);

  const media: MediaDescription = {
    type: opts.media ?? (pt === PT_MP2T ? 'video' : 'audio'),
    port: port('port', opts.port),
    protocol: 'RTP/AVP',
    payloads: String(pt),
    rtp: opts.rtpmap ? [{ payload: pt, codec: opts.rtpmap.codec, rate: opts.rtpmap.rate, encoding: opts.rtpmap.channels }] : [],
    fmtp: opts.fmtp ? [{ payload: pt, config: opts.fmtp }] : [],
    rtcp: { port: port('rtcpPort', opts.rtcpPort) },
  };
  const session: SessionDescription = {
    version: 0,
    origin: {
      username: '-',
      sessionId: opts.sessionId,
      sessionVersion: opts.sessionVersion,
      netType: 'IN',
      ipVer: originVer,
      address: opts.originAddress,
    },
    name: textField('name', opts.name),
    ...(opts.info ? { description: textField('info', opts.info, 1000) } : {}),
    ...(opts.url ? { uri: textField('url', opts.url, 1000).replace(/\s/g, '%20') } : {}),
    connection: { version: v, ip: v === 4 ? `${opts.group}/${ttl}` : opts.group },
    ...(opts.bandwidthKbps ? { bandwidth: [{ type: 'AS', limit: Math.round(opts.bandwidthKbps) }] } : {}),
    timing: { start: 0, stop: 0 },
    direction: 'recvonly',
    ...(opts.source
      ? { sourceFilter: { filterMode: 'incl', netType: 'IN', addressTypes: `IP${v}`, destAddress: opts.group, srcList: opts.source } }
      : {}),
    // a=tool and a=type have no sdp-transform grammar entry; 'invalid' is how
    // it keeps (and writes back) attributes it does not know.
    invalid: [{ value: `tool:${textField('tool', opts.tool)}` }, { value: 'type:broadcast' }],
    media: [media],
  };
  return write(session);
}
