/**
 * HLS radio (RFC 8216) turned into one byte stream ffmpeg reads from a pipe.
 *
 * Many stations now publish only HLS: a master playlist naming variants, each
 * a media playlist of short segments (MPEG-TS, or "packed audio": ADTS/MP3
 * with an ID3 timestamp tag in front, §3.4). We pick a variant, then fetch
 * the segments in order, reloading a live playlist as it slides, and write
 * the segment bytes one after another. TS segments concatenate into a valid
 * TS; packed-audio segments do once their leading ID3 tag is dropped.
 *
 * Refused (a ResolveError 'hls-unsupported' from the caller): encrypted
 * segments (#EXT-X-KEY with a method other than NONE) and fMP4 segments
 * (#EXT-X-MAP), which a plain concatenation would not make playable.
 *
 * The parsers are pure; the reader takes its HTTP fetch as a function.
 */
import { Readable } from 'node:stream';
import { id3Length } from '../sniff.js';

export interface HlsVariant {
  uri: string;
  bandwidth: number;
  codecs?: string;
}

export interface HlsSegment {
  uri: string;
  /** Media sequence number (§4.3.3.2): position in the stream, never reused. */
  sequence: number;
  durationS: number;
}

export interface HlsMediaPlaylist {
  targetDurationS: number;
  segments: HlsSegment[];
  /** #EXT-X-ENDLIST: no more segments will come (§4.3.3.4). */
  ended: boolean;
  /** Why plain concatenation cannot play this playlist, if it cannot. */
  unsupported?: string;
}

/** Attributes of a tag line: `BANDWIDTH=64000,CODECS="mp4a.40.2"` (§4.2). */
export function parseAttributes(list: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /\s*([A-Z0-9-]+)=("[^"]*"|[^,]*)\s*(?:,|$)/gy;
  for (let m = re.exec(list); m && m[0] !== ''; m = re.exec(list)) {
    out[m[1]!] = m[2]!.startsWith('"') ? m[2]!.slice(1, -1) : m[2]!.trim();
  }
  return out;
}

const lines = (text: string): string[] => text.split(/\r\n|\r|\n/).map((l) => l.trim()).filter(Boolean);

function absolute(uri: string, base: string): string | undefined {
  try {
    const url = new URL(uri, base);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

/** True for a master playlist (variants), false for a media playlist (segments). */
export function isMasterPlaylist(text: string): boolean {
  return /^#EXT-X-STREAM-INF:/m.test(text);
}

/** Variants of a master playlist (§4.3.4.2), in playlist order. */
export function parseMasterPlaylist(text: string, baseUrl: string): HlsVariant[] {
  const variants: HlsVariant[] = [];
  let pending: Record<string, string> | undefined;
  for (const line of lines(text)) {
    if (line.startsWith('#EXT-X-STREAM-INF:')) pending = parseAttributes(line.slice('#EXT-X-STREAM-INF:'.length));
    else if (line.startsWith('#')) continue;
    else if (pending) {
      const uri = absolute(line, baseUrl);
      if (uri) variants.push({ uri, bandwidth: Number(pending.BANDWIDTH) || 0, ...(pending.CODECS ? { codecs: pending.CODECS } : {}) });
      pending = undefined;
    }
  }
  return variants;
}

/**
 * The variant to play: the best audio a headend can send on. Variants whose
 * CODECS name video are skipped when audio-only ones exist.
 */
export function pickVariant(variants: HlsVariant[]): HlsVariant | undefined {
  const audioOnly = variants.filter((v) => v.codecs !== undefined && !/avc1|hvc1|hev1|vp09|av01/.test(v.codecs));
  const pool = audioOnly.length ? audioOnly : variants;
  return [...pool].sort((a, b) => b.bandwidth - a.bandwidth)[0];
}

/** A media playlist (§4.3.2, §4.3.3); unusable lines are skipped. */
export function parseMediaPlaylist(text: string, baseUrl: string): HlsMediaPlaylist {
  const out: HlsMediaPlaylist = { targetDurationS: 10, segments: [], ended: false };
  let sequence = 0;
  let duration = 0;
  for (const line of lines(text)) {
    if (line.startsWith('#EXT-X-TARGETDURATION:')) {
      const n = Number(line.slice(22));
      if (n > 0) out.targetDurationS = n;
    } else if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) {
      const n = Number(line.slice(22));
      if (Number.isSafeInteger(n) && n >= 0) sequence = n;
    } else if (line.startsWith('#EXTINF:')) {
      duration = Number.parseFloat(line.slice(8)) || 0;
    } else if (line === '#EXT-X-ENDLIST') {
      out.ended = true;
    } else if (line.startsWith('#EXT-X-KEY:')) {
      const method = parseAttributes(line.slice(11)).METHOD ?? '';
      if (method !== 'NONE') out.unsupported = `encrypted segments (METHOD=${method})`;
    } else if (line.startsWith('#EXT-X-MAP:')) {
      out.unsupported = 'fMP4 segments (#EXT-X-MAP)';
    } else if (!line.startsWith('#')) {
      const uri = absolute(line, baseUrl);
      if (uri) out.segments.push({ uri, sequence, durationS: duration });
      sequence++;
      duration = 0;
    }
  }
  return out;
}

export interface HlsFetch {
  /** GETs a URL whole (segment or playlist); rejects with a ResolveError-like error. */
  (url: string, signal: AbortSignal): Promise<{ bytes: Buffer; finalUrl: string }>;
}

export interface HlsReaderOptions {
  fetch: HlsFetch;
  /** The media playlist as already fetched, and where it came from. */
  playlist: HlsMediaPlaylist;
  playlistUrl: string;
  signal: AbortSignal;
  /** Reload failures in a row before giving up. */
  maxReloadFailures?: number;
  /** Waits between reloads; injectable so tests need not sleep. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  onSkip?: (segment: HlsSegment, err: unknown) => void;
}

const defaultSleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = (): void => { clearTimeout(t); reject(signal.reason); };
    signal.addEventListener('abort', onAbort, { once: true });
  });

/**
 * The segments' bytes in order, as a Readable. Live playlists start three
 * target durations from the end (§6.3.3) and are reloaded every target
 * duration, half that when nothing changed (§6.3.4). A segment that fails
 * (already rolled off the server) is skipped and reported; reloads that
 * fail `maxReloadFailures` times in a row end the stream with the error.
 */
export function hlsReader(opts: HlsReaderOptions): Readable {
  const sleep = opts.sleep ?? defaultSleep;
  const maxFailures = opts.maxReloadFailures ?? 3;
  async function* segments(): AsyncGenerator<Buffer> {
    let playlist = opts.playlist;
    let next = firstSequence(playlist);
    let failures = 0;
    for (;;) {
      let fresh = false;
      for (const segment of playlist.segments) {
        if (segment.sequence < next) continue;
        next = segment.sequence + 1;
        fresh = true;
        let bytes: Buffer;
        try {
          bytes = (await opts.fetch(segment.uri, opts.signal)).bytes;
        } catch (err) {
          if (opts.signal.aborted) throw err;
          opts.onSkip?.(segment, err);
          continue;
        }
        // Packed audio opens each segment with an ID3 timestamp tag (§3.4).
        const skip = bytes[0] === 0x47 ? 0 : Math.min(bytes.length, id3Length(bytes));
        if (bytes.length > skip) yield bytes.subarray(skip);
      }
      if (playlist.ended) return;
      await sleep((fresh ? 1 : 0.5) * playlist.targetDurationS * 1000, opts.signal);
      try {
        const { bytes, finalUrl } = await opts.fetch(opts.playlistUrl, opts.signal);
        playlist = parseMediaPlaylist(bytes.toString('utf8'), finalUrl);
        failures = 0;
      } catch (err) {
        if (opts.signal.aborted || ++failures >= maxFailures) throw err;
      }
    }
  }
  return Readable.from(segments(), { objectMode: false });
}

/** Where a client joins (§6.3.3): the start of a finished playlist, near the live edge of a live one. */
function firstSequence(playlist: HlsMediaPlaylist): number {
  const segs = playlist.segments;
  if (segs.length === 0) return 0;
  if (playlist.ended) return segs[0]!.sequence;
  let covered = 0;
  for (let i = segs.length - 1; i >= 0; i--) {
    covered += segs[i]!.durationS || playlist.targetDurationS;
    if (covered >= 3 * playlist.targetDurationS) return segs[i]!.sequence;
  }
  return segs[0]!.sequence;
}
