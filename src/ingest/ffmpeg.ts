/**
 * A small typed builder for the ffmpeg command line that turns one source
 * into RTP to one group (not fluent-ffmpeg: archived upstream, and we need
 * only this one shape).
 *
 *   ffmpegArgs({
 *     input: { source: 'pipe:0', format: 'mp3', lowLatency: true },
 *     output: { payload: 'mpa', group: 'ff3e:40:...:8000:1', port: 5004, ttl: 1, localAddress: '2001:db8::1' },
 *   })
 *   -> ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'warning',
 *       '-probesize', '32', '-analyzeduration', '0', '-fflags', 'nobuffer', '-f', 'mp3', '-i', 'pipe:0',
 *       '-map', '0:a:0', '-c:a', 'copy', '-f', 'rtp', '-sdp_file', '/dev/null',
 *       'rtp://[ff3e:40:...:8000:1]:5004?ttl=1&localaddr=2001:db8::1&pkt_size=1316']
 *
 * Facts this relies on (PROTOCOLS.md §3, measured with FFmpeg 5.1):
 * - the RTP URL is `rtp://[group]:port?ttl=N&localaddr=A&pkt_size=P`; there
 *   is no interface option, `localaddr` picks it, and a `%if` on the
 *   destination fails;
 * - MP3/MP2 copied into `-f rtp` goes out as static payload type 14 (RFC 2250),
 *   anything into `-f rtp_mpegts` as 33; ffmpeg also sends RTCP SRs to port+1;
 * - with the input format named, `-probesize 32 -analyzeduration 0 -fflags
 *   nobuffer` is enough for MP3, ADTS AAC and Ogg: the first RTP packet
 *   leaves about 0.2 s after start and ffprobe still decodes the stream.
 *   MPEG-TS input needs real probing (PAT/PMT and codec parameters): with 32
 *   bytes ffmpeg fails with "Could not find codec parameters", so TS gets
 *   256 kB / 0.5 s instead;
 * - without -sdp_file, `-f rtp` prints the SDP on stdout, which would be taken
 *   for progress; so the SDP always goes to a file (/dev/null if unwanted).
 */
import { isIPv6 } from 'node:net';

/** Demuxer names ffmpeg knows; 'adts' is an alias for ffmpeg's 'aac' demuxer. */
export type InputFormat = 'mp3' | 'mp2' | 'aac' | 'adts' | 'ogg' | 'flac' | 'mpegts' | 'hls' | 'wav';

/** How the stream is carried: MPEG audio (PT 14), MPEG-TS (PT 33), or Opus (dynamic PT 96). */
export type RtpPayload = 'mpa' | 'mpegts' | 'opus';

export interface FfmpegInput {
  /** 'pipe:0' when the owner feeds stdin (HTTP through undici), or a URL/file ffmpeg opens itself. */
  source: 'pipe:0' | string;
  /** Name the demuxer so ffmpeg need not probe; omitted: ffmpeg probes. */
  format?: InputFormat;
  /** `-re`: read at the native rate (files, lavfi; live streams pace themselves). */
  realtime?: boolean;
  /** Overrides the probing the low-latency mode picks. */
  probeSize?: number;
  analyzeDurationUs?: number;
  /** Minimal probing and no input buffering (default true). */
  lowLatency?: boolean;
  /** `-user_agent` when ffmpeg opens an HTTP URL itself. */
  userAgent?: string;
}

export interface FfmpegOutput {
  payload: RtpPayload;
  group: string;
  port: number;
  ttl: number;
  /** Source address, which also picks the egress interface (`fe80::1%lan0` works). */
  localAddress?: string;
  /** UDP payload limit; 1316 = 7 TS packets and keeps IPv6 + RTP under a 1500 MTU. */
  pktSize?: number;
  ssrc?: number;
  /** Where ffmpeg writes its own SDP (rtp only); default /dev/null. */
  sdpFile?: string;
  /** MPEG-TS service name / provider (shown by VLC and set-top boxes). */
  serviceName?: string;
  serviceProvider?: string;
}

export interface Transcode {
  codec: 'mp2' | 'mp3' | 'aac' | 'opus';
  bitrateKbps?: number;
  sampleRate?: number;
  channels?: number;
}

export interface FfmpegSpec {
  input: FfmpegInput;
  output: FfmpegOutput;
  /** Re-encode the audio; omitted: streams are copied as they are. */
  transcode?: Transcode;
  /** `-progress pipe:1`: key=value blocks on stdout every periodS, for the supervisor's watchdog. */
  progress?: { periodS?: number };
  logLevel?: 'quiet' | 'error' | 'warning' | 'info' | 'verbose' | 'debug';
}

export class FfmpegSpecError extends Error {
  constructor(readonly field: string, reason: string) {
    super(`ffmpeg ${field}: ${reason}`);
    this.name = 'FfmpegSpecError';
  }
}

/** RTP payload type each payload kind goes out with (RFC 3551 §6; 96 = ffmpeg's first dynamic type). */
export function payloadTypeOf(payload: RtpPayload): number {
  return payload === 'mpa' ? 14 : payload === 'mpegts' ? 33 : 96;
}

const ENCODER: Record<Transcode['codec'], string> = { mp2: 'mp2', mp3: 'libmp3lame', aac: 'aac', opus: 'libopus' };
const DEMUXER: Record<InputFormat, string> = {
  mp3: 'mp3', mp2: 'mp3', aac: 'aac', adts: 'aac', ogg: 'ogg', flac: 'flac', mpegts: 'mpegts', hls: 'hls', wav: 'wav',
};
/** Elementary audio streams whose first frame header says all: 32 bytes of probing do. */
const SELF_DESCRIBING = new Set<InputFormat>(['mp3', 'mp2', 'aac', 'adts', 'ogg', 'flac', 'wav']);

/** The RTP URL (PROTOCOLS.md §3): brackets for IPv6, no %if on the destination. */
export function rtpUrl(o: Pick<FfmpegOutput, 'group' | 'port' | 'ttl' | 'localAddress' | 'pktSize'>): string {
  if (o.group.includes('%')) throw new FfmpegSpecError('output.group', 'no %interface on the destination: pick the interface with localAddress');
  const host = isIPv6(o.group) ? `[${o.group}]` : o.group;
  const q = [`ttl=${o.ttl}`];
  if (o.localAddress) q.push(`localaddr=${o.localAddress}`);
  q.push(`pkt_size=${o.pktSize ?? 1316}`);
  return `rtp://${host}:${o.port}?${q.join('&')}`;
}

function checkInt(field: string, v: number | undefined, min: number, max: number): void {
  if (v !== undefined && (!Number.isInteger(v) || v < min || v > max)) throw new FfmpegSpecError(field, `must be an integer ${min}..${max}, got ${v}`);
}

/**
 * ffmpeg declares its RTP `ssrc` option as a C int (INT_MIN..INT_MAX) and
 * refuses 2^31 and above ("out of range", the muxer never starts), yet writes
 * the 32 bits as they are; so an SSRC (RFC 3550 §5.1, any 32-bit value) goes
 * over as the signed int with the same bits.
 */
const ffmpegSsrc = (ssrc: number): number => ssrc | 0;

/** Builds ffmpeg's argument vector (without the program name). Throws FfmpegSpecError naming the field. */
export function ffmpegArgs(spec: FfmpegSpec): string[] {
  const { input, output, transcode } = spec;
  checkInt('output.port', output.port, 1, 65535);
  checkInt('output.ttl', output.ttl, 0, 255);
  checkInt('output.pktSize', output.pktSize, 188, 65507);
  checkInt('output.ssrc', output.ssrc, 0, 0xffffffff);
  checkInt('input.probeSize', input.probeSize, 32, 2 ** 31);
  checkInt('input.analyzeDurationUs', input.analyzeDurationUs, 0, 2 ** 31);
  if (!input.source) throw new FfmpegSpecError('input.source', 'required');
  if (output.payload === 'mpa' && transcode && transcode.codec !== 'mp2' && transcode.codec !== 'mp3') {
    throw new FfmpegSpecError('transcode.codec', `payload 'mpa' carries MPEG audio only (mp2, mp3), not ${transcode.codec}`);
  }
  if (output.payload === 'opus' && transcode && transcode.codec !== 'opus') {
    throw new FfmpegSpecError('transcode.codec', `payload 'opus' needs codec opus, not ${transcode.codec}`);
  }

  const args = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', spec.logLevel ?? 'warning'];
  if (spec.progress) args.push('-progress', 'pipe:1', '-stats_period', String(spec.progress.periodS ?? 1));

  // ---- input
  const low = input.lowLatency ?? true;
  if (low) {
    const elementary = input.format !== undefined && SELF_DESCRIBING.has(input.format);
    args.push('-probesize', String(input.probeSize ?? (elementary ? 32 : 262_144)));
    args.push('-analyzeduration', String(input.analyzeDurationUs ?? (elementary ? 0 : 500_000)));
    args.push('-fflags', 'nobuffer');
  } else {
    if (input.probeSize !== undefined) args.push('-probesize', String(input.probeSize));
    if (input.analyzeDurationUs !== undefined) args.push('-analyzeduration', String(input.analyzeDurationUs));
  }
  if (input.userAgent) args.push('-user_agent', input.userAgent);
  if (input.format) args.push('-f', DEMUXER[input.format]);
  if (input.realtime) args.push('-re');
  args.push('-i', input.source);

  // ---- streams and codecs
  if (output.payload === 'mpegts') {
    // A TS carries everything: first video (if any) and all audio; no data or subtitles.
    args.push('-map', '0:v?', '-map', '0:a?', '-dn', '-sn', '-c:v', 'copy');
  } else {
    args.push('-map', '0:a:0', '-vn');
  }
  if (transcode) {
    args.push('-c:a', ENCODER[transcode.codec]);
    if (transcode.bitrateKbps) args.push('-b:a', `${transcode.bitrateKbps}k`);
    if (transcode.sampleRate) args.push('-ar', String(transcode.sampleRate));
    if (transcode.channels) args.push('-ac', String(transcode.channels));
  } else {
    args.push('-c:a', 'copy');
  }

  // ---- muxer
  if (output.payload === 'mpegts') {
    if (output.serviceName) args.push('-metadata', `service_name=${output.serviceName}`);
    if (output.serviceProvider) args.push('-metadata', `service_provider=${output.serviceProvider}`);
    // Start sending at once rather than after the default 0.7 s mux delay.
    args.push('-muxdelay', '0', '-muxpreload', '0');
    if (output.ssrc !== undefined) args.push('-rtp_muxer_options', `ssrc=${ffmpegSsrc(output.ssrc)}`);
    args.push('-f', 'rtp_mpegts');
  } else {
    if (output.ssrc !== undefined) args.push('-ssrc', String(ffmpegSsrc(output.ssrc)));
    if (output.payload === 'opus') args.push('-payload_type', '96');
    args.push('-f', 'rtp', '-sdp_file', output.sdpFile ?? '/dev/null');
  }
  args.push(rtpUrl(output));
  return args;
}

export interface PayloadChoice {
  /** Demuxer to name on the command line; undefined = let ffmpeg probe. */
  format?: InputFormat;
  payload: RtpPayload;
  /** Set when the source cannot be carried as it is. */
  transcode?: Transcode;
}

/**
 * Chooses how to carry a source, from its Content-Type or a format name:
 * MP3/MP2 go out as they are in payload type 14 (every client plays it, no
 * re-encoding); AAC (ADTS) and MPEG-TS are copied into MPEG-TS (PT 33);
 * Ogg, FLAC and WAV cannot ride in TS as they are (Vorbis has no TS
 * mapping), so they are re-encoded to AAC in TS; anything else is probed and
 * copied into TS.
 */
export function payloadFor(contentTypeOrFormat: string): PayloadChoice {
  const t = contentTypeOrFormat.toLowerCase().split(';')[0]!.trim();
  switch (t) {
    case 'audio/mpeg': case 'audio/mp3': case 'audio/mpeg3': case 'audio/x-mpeg': case 'audio/x-mp3': case 'mp3':
      return { format: 'mp3', payload: 'mpa' };
    case 'audio/mp2': case 'audio/mpa': case 'audio/x-mp2': case 'mp2':
      return { format: 'mp2', payload: 'mpa' };
    case 'audio/aac': case 'audio/aacp': case 'audio/x-aac': case 'audio/x-aacp': case 'aac': case 'adts':
      return { format: 'aac', payload: 'mpegts' };
    case 'video/mp2t': case 'video/mpeg': case 'mpegts':
      return { format: 'mpegts', payload: 'mpegts' };
    case 'application/vnd.apple.mpegurl': case 'application/x-mpegurl': case 'audio/x-mpegurl': case 'audio/mpegurl': case 'hls':
      return { format: 'hls', payload: 'mpegts' };
    case 'audio/ogg': case 'application/ogg': case 'audio/opus': case 'audio/vorbis': case 'ogg':
      return { format: 'ogg', payload: 'mpegts', transcode: { codec: 'aac', bitrateKbps: 128 } };
    case 'audio/flac': case 'audio/x-flac': case 'flac':
      return { format: 'flac', payload: 'mpegts', transcode: { codec: 'aac', bitrateKbps: 192 } };
    case 'audio/wav': case 'audio/x-wav': case 'audio/wave': case 'wav':
      return { format: 'wav', payload: 'mpegts', transcode: { codec: 'aac', bitrateKbps: 192 } };
    default:
      return { payload: 'mpegts' };
  }
}
