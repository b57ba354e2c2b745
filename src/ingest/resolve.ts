/**
 * From a station URL to audio bytes ffmpeg can read from a pipe.
 *
 * A directory's URL is rarely the stream itself: it redirects, it is a PLS
 * or M3U (or XSPF, ASX) listing the real streams, sometimes a playlist of
 * playlists, sometimes an HTML page. resolveStation() follows all that with
 * bounds (redirects, playlist depth, loops), asks for ICY metadata and strips
 * it out of the body, and names the format from the Content-Type and the
 * first bytes. HLS stations are read segment by segment (http/hls.ts), and
 * SHOUTcast v1 servers answering `ICY 200 OK` get a small client of their own
 * (icy.ts). Everything that can go wrong ends in a ResolveError whose message
 * a person can act on.
 */
import { EventEmitter } from 'node:events';
import { STATUS_CODES } from 'node:http';
import { PassThrough, pipeline, type Readable } from 'node:stream';
import { Agent, request, type Dispatcher } from 'undici';
import type { Logger } from '../log.js';
import { IcyStripper, parseIcyHeaders, requestIcyV1, type IcyHeaders, type StreamMetadata } from './icy.js';
import {
  hlsReader, isMasterPlaylist, parseMasterPlaylist, parseMediaPlaylist, pickVariant, type HlsFetch,
} from './http/hls.js';
import { decodeText, parsePlaylist, playlistKind, type PlaylistKind } from './playlist.js';
import {
  formatFromContentType, hexPreview, isAudioLike, looksLikeHtml, mediaType, sniffFormat, type AudioFormat,
} from './sniff.js';

export type { AudioFormat, IcyHeaders, StreamMetadata };

export type ResolveErrorCode =
  | 'http-status' | 'html' | 'redirect-loop' | 'too-many-redirects' | 'playlist-loop' | 'playlist-too-deep'
  | 'empty-playlist' | 'hls-unsupported' | 'not-audio' | 'timeout' | 'network';

export class ResolveError extends Error {
  constructor(readonly code: ResolveErrorCode, readonly url: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ResolveError';
  }
}

export interface ResolveOptions {
  maxRedirects: number;
  /** How many playlists may wrap one another (station.pls -> list.m3u is 2). */
  maxPlaylistDepth: number;
  /** Bound on each request from connecting until the first bytes of its body are in. */
  connectTimeoutMs: number;
  userAgent: string;
  signal?: AbortSignal;
  logger?: Logger;
  /** undici dispatcher, e.g. an Agent trusting a test CA; the global one by default. */
  dispatcher?: Dispatcher;
}

/** Bytes read before deciding what a response is: enough for two MP3 frames or four TS packets. */
export const SNIFF_BYTES = 4096;
/** A playlist larger than this is not a station playlist. */
export const MAX_PLAYLIST_BYTES = 1 << 20;

export interface ResolvedStation {
  on(event: 'metadata', listener: (m: StreamMetadata) => void): this;
  once(event: 'metadata', listener: (m: StreamMetadata) => void): this;
  off(event: 'metadata', listener: (m: StreamMetadata) => void): this;
  on(event: 'newListener', listener: (event: string | symbol) => void): this;
}

/** A playing stream: audio bytes in `body`, ICY titles as `metadata` events. */
export class ResolvedStation extends EventEmitter {
  private closed = false;
  /**
   * Titles seen before anyone listened (the first blocks often arrive while
   * the first bytes are sniffed): replayed to the first 'metadata' listener.
   */
  private early: StreamMetadata[] | null;

  constructor(
    /** The URL the audio comes from, after redirects and playlists. */
    readonly finalUrl: string,
    readonly contentType: string,
    readonly format: AudioFormat,
    readonly icy: IcyHeaders,
    /** Audio bytes only: ICY blocks removed, the sniffed first bytes included. */
    readonly body: Readable,
    /** Every URL requested on the way, in order (redirects and playlist entries). */
    readonly via: string[],
    private readonly stripper: IcyStripper | undefined,
    private readonly teardown: () => void,
    /** Metadata the stripper emitted before this object existed. */
    early: StreamMetadata[] = [],
  ) {
    super();
    this.early = early.slice(-16);
    stripper?.on('metadata', (m: StreamMetadata) => {
      if (this.early) {
        if (this.early.push(m) > 16) this.early.shift();
        return;
      }
      this.deliver(m);
    });
    this.on('newListener', (event) => {
      if (event !== 'metadata' || !this.early) return;
      queueMicrotask(() => {
        const early = this.early ?? [];
        this.early = null;
        for (const m of early) this.deliver(m);
      });
    });
  }

  private deliver(m: StreamMetadata): void {
    for (const listener of this.listeners('metadata')) {
      try {
        (listener as (m: StreamMetadata) => void)(m);
      } catch {
        // A listener's bug must not stop the audio nor the other listeners.
      }
    }
  }

  /** The latest ICY metadata, also the one seen before anyone listened. */
  get metadata(): StreamMetadata | undefined {
    return this.stripper?.current;
  }

  /** ICY counters: audio bytes, metadata blocks, blocks we could not read. */
  get icyStats(): IcyStripper['stats'] | undefined {
    return this.stripper?.stats;
  }

  /** Stops reading and drops the connection. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.teardown();
  }
}

interface Context {
  opts: ResolveOptions;
  log: Logger | undefined;
  via: string[];
}

/** Resolves a station URL to a playing audio stream; see the module comment. */
export async function resolveStation(url: string, opts: ResolveOptions): Promise<ResolvedStation> {
  const ctx: Context = { opts, log: opts.logger?.child({ url }), via: [] };
  return open(url, ctx, []);
}

/**
 * Opens one URL; `playlists` is the chain of playlists that led here, for
 * loop and depth checks.
 */
async function open(url: string, ctx: Context, playlists: string[]): Promise<ResolvedStation> {
  const res = await fetchFollowing(url, ctx);
  const { finalUrl, headers } = res;
  const contentType = headerValue(headers['content-type']) ?? '';
  const icy = parseIcyHeaders(headers);
  const { badMetaint, ...icyInfo } = icy;
  if (badMetaint !== undefined) ctx.log?.warn({ finalUrl, metaint: badMetaint }, 'ignoring invalid icy-metaint');

  let stripper: IcyStripper | undefined;
  const early: StreamMetadata[] = [];
  let source: Readable = res.body;
  if (icyInfo.metaint !== undefined) {
    stripper = new IcyStripper(icyInfo.metaint);
    stripper.on('metadata', (m: StreamMetadata) => { if (early.push(m) > 16) early.shift(); });
    res.body.on('error', (err) => stripper!.destroy(err));
    source = res.body.pipe(stripper);
  }
  const teardown = (): void => {
    res.attempt.done();
    stripper?.destroy();
    res.body.destroy();
  };

  let playlist: { kind: PlaylistKind; text: string };
  try {
    res.attempt.phase = 'its first bytes';
    const first = await readUpTo(source, SNIFF_BYTES);
    const head = Buffer.concat(first.chunks);
    const type = mediaType(contentType);

    if (looksLikeHtml(head)) {
      throw new ResolveError('html', finalUrl, type === 'text/html'
        ? `${finalUrl} is a web page (text/html), not a stream`
        : `${finalUrl} is labelled ${type || 'with no Content-Type'} but sends an HTML page, not a stream`);
    }
    const kind = playlistKind(contentType, finalUrl, head);
    if (kind) {
      res.attempt.phase = 'the whole playlist';
      const all = first.ended ? first : await readUpTo(source, MAX_PLAYLIST_BYTES + 1, first.chunks);
      res.attempt.done();
      const bytes = Buffer.concat(all.chunks);
      if (!all.ended || bytes.length > MAX_PLAYLIST_BYTES) {
        throw new ResolveError('not-audio', finalUrl, `${finalUrl} looks like a ${kind.toUpperCase()} playlist but is larger than ${MAX_PLAYLIST_BYTES} bytes`);
      }
      playlist = { kind, text: decodeText(bytes) };
    } else {
      return audioStation(res, contentType, icyInfo, source, first, stripper, early, ctx, teardown);
    }
  } catch (err) {
    teardown();
    throw res.attempt.classify(err);
  }
  teardown();
  return openPlaylist(url, finalUrl, playlist.kind, playlist.text, ctx, playlists);
}

/** The audio path of open(): checks the bytes are audio and hands them out with the sniffed head in front. */
function audioStation(
  res: Fetched, contentType: string, icyInfo: IcyHeaders, source: Readable, first: { chunks: Buffer[]; ended: boolean },
  stripper: IcyStripper | undefined, early: StreamMetadata[], ctx: Context, teardown: () => void,
): ResolvedStation {
  const { finalUrl } = res;
  const head = Buffer.concat(first.chunks);
  const type = mediaType(contentType);
  if (type === 'text/html') throw new ResolveError('html', finalUrl, `${finalUrl} is a web page (text/html), not a stream`);
  if (head.length === 0) throw new ResolveError('not-audio', finalUrl, `${finalUrl} sent an empty body (Content-Type ${type || 'none'})`);

  const format = pickFormat(contentType, head);
  if (!format) {
    throw new ResolveError('not-audio', finalUrl,
      `${finalUrl} is not audio: Content-Type ${type || 'none'}, first bytes ${hexPreview(head)}`);
  }
  res.attempt.done();

  const body = new PassThrough();
  if (first.ended) {
    body.end(head);
  } else {
    body.write(head);
    pipeline(source, body, () => { /* reported by the body's error listener */ });
  }
  // Whoever ends the body (ffmpeg gone, close()) also ends the connection.
  body.once('close', () => res.body.destroy());
  // A station dropping mid-stream is routine: say so in the log; the body
  // then errors and closes, for its consumer to restart.
  body.on('error', (err) => ctx.log?.warn({ finalUrl, err: err.message }, 'station stream failed'));
  ctx.log?.info({ finalUrl, format, contentType, icy: icyInfo }, 'station resolved');
  stripper?.removeAllListeners('metadata');
  return new ResolvedStation(finalUrl, contentType, format, icyInfo, body, ctx.via, stripper, () => {
    teardown();
    body.destroy();
  }, early);
}

/** Largest HLS segment or playlist we fetch whole (a 10 s segment at 320 kb/s is 400 KB). */
export const MAX_SEGMENT_BYTES = 8 << 20;

const FORMAT_TYPES: Partial<Record<AudioFormat, string>> = {
  mp3: 'audio/mpeg', mp2: 'audio/mpeg', aac: 'audio/aac', mpegts: 'video/mp2t', ogg: 'audio/ogg', opus: 'audio/ogg', flac: 'audio/flac',
};

/**
 * An HLS station: master playlist -> variant -> media playlist -> segments
 * in order (see http/hls.ts). `contentType` then names the segments' format.
 */
async function openHls(url: string, text: string, ctx: Context): Promise<ResolvedStation> {
  const stop = new AbortController();
  const signal = ctx.opts.signal ? AbortSignal.any([ctx.opts.signal, stop.signal]) : stop.signal;
  // Segment URLs are not kept in `via`: a live station would grow it forever.
  const fetchWhole: HlsFetch = async (u, sig) => {
    const sub: Context = { ...ctx, opts: { ...ctx.opts, signal: sig }, via: [] };
    const res = await fetchFollowing(u, sub);
    try {
      res.attempt.phase = 'the whole segment or playlist';
      const all = await readUpTo(res.body, MAX_SEGMENT_BYTES + 1);
      const bytes = Buffer.concat(all.chunks);
      if (!all.ended) throw new ResolveError('not-audio', res.finalUrl, `${res.finalUrl} is larger than ${MAX_SEGMENT_BYTES} bytes`);
      return { bytes, finalUrl: res.finalUrl };
    } catch (err) {
      throw res.attempt.classify(err);
    } finally {
      res.attempt.done();
      res.body.destroy();
    }
  };

  let playlistUrl = url;
  let mediaText = text;
  if (isMasterPlaylist(text)) {
    const variant = pickVariant(parseMasterPlaylist(text, url));
    if (!variant) throw new ResolveError('empty-playlist', url, `${url} is an HLS master playlist with no usable variant`);
    ctx.log?.debug({ variant }, 'HLS variant');
    const fetched = await fetchWhole(variant.uri, signal);
    ctx.via.push(variant.uri);
    playlistUrl = fetched.finalUrl;
    mediaText = decodeText(fetched.bytes);
    if (isMasterPlaylist(mediaText)) throw new ResolveError('hls-unsupported', playlistUrl, `${playlistUrl}: an HLS master playlist inside a master playlist`);
  }
  const playlist = parseMediaPlaylist(mediaText, playlistUrl);
  if (playlist.unsupported) {
    throw new ResolveError('hls-unsupported', playlistUrl, `${playlistUrl} is HLS with ${playlist.unsupported}, which is not supported`);
  }
  if (playlist.segments.length === 0) throw new ResolveError('empty-playlist', playlistUrl, `${playlistUrl} is an HLS playlist with no segments`);

  const reader = hlsReader({
    fetch: fetchWhole, playlist, playlistUrl, signal,
    onSkip: (segment, err) => ctx.log?.warn({ segment: segment.uri, err: (err as Error).message }, 'HLS segment skipped'),
  });
  reader.on('error', () => { /* surfaces through the body below */ });
  let first: { chunks: Buffer[]; ended: boolean };
  try {
    first = await readUpTo(reader, SNIFF_BYTES);
  } catch (err) {
    stop.abort();
    reader.destroy();
    throw err instanceof ResolveError || ctx.opts.signal?.aborted ? (ctx.opts.signal?.reason ?? err) : new ResolveError('network', playlistUrl, `${playlistUrl}: ${(err as Error).message}`, { cause: err });
  }
  const head = Buffer.concat(first.chunks);
  const format = sniffFormat(head);
  if (!format) {
    stop.abort();
    reader.destroy();
    throw new ResolveError('not-audio', playlistUrl, `${playlistUrl}: HLS segments are not audio we know (first bytes ${hexPreview(head)})`);
  }
  const body = new PassThrough();
  if (first.ended) body.end(head);
  else {
    body.write(head);
    pipeline(reader, body, () => { /* reported by the body's error listener */ });
  }
  body.once('close', () => stop.abort());
  body.on('error', (err) => ctx.log?.warn({ playlistUrl, err: err.message }, 'HLS stream failed'));
  ctx.log?.info({ playlistUrl, format, live: !playlist.ended }, 'HLS station resolved');
  return new ResolvedStation(playlistUrl, FORMAT_TYPES[format] ?? 'application/octet-stream', format, {}, body, ctx.via, undefined, () => {
    stop.abort();
    reader.destroy();
    body.destroy();
  });
}

/** Magic bytes win; the label decides when they are inconclusive but still says audio. */
function pickFormat(contentType: string, head: Buffer): AudioFormat | null {
  const sniffed = sniffFormat(head);
  const labelled = formatFromContentType(contentType);
  // Joined mid-stream, an Ogg Opus stream has no OpusHead left to see.
  if (sniffed === 'ogg' && labelled === 'opus') return 'opus';
  if (sniffed) return sniffed;
  if (labelled !== 'unknown' || isAudioLike(contentType)) return labelled;
  return null;
}

async function openPlaylist(
  requested: string, finalUrl: string, kind: PlaylistKind, text: string, ctx: Context, playlists: string[],
): Promise<ResolvedStation> {
  const chain = [...playlists, finalUrl];
  if (playlists.includes(finalUrl)) throw new ResolveError('playlist-loop', finalUrl, `playlist loop: ${chain.join(' → ')}`);
  if (chain.length > ctx.opts.maxPlaylistDepth) {
    throw new ResolveError('playlist-too-deep', finalUrl,
      `playlists nested more than ${ctx.opts.maxPlaylistDepth} deep: ${chain.join(' → ')}`);
  }
  const list = parsePlaylist(kind, text, finalUrl);
  if (list.hls) return openHls(finalUrl, text, ctx);
  if (list.dropped.length) ctx.log?.warn({ playlist: finalUrl, dropped: list.dropped }, 'playlist entries skipped');
  if (list.entries.length === 0) {
    throw new ResolveError('empty-playlist', finalUrl, `${finalUrl} is a ${kind.toUpperCase()} playlist with no stream URL in it`
      + (list.dropped.length ? ` (skipped: ${list.dropped.join('; ')})` : ''));
  }
  ctx.log?.debug({ playlist: finalUrl, kind, entries: list.entries }, 'playlist');
  const seen = new Set([...chain, requested]);
  const failures: ResolveError[] = [];
  for (const entry of list.entries) {
    if (seen.has(entry)) {
      failures.push(new ResolveError('playlist-loop', entry, `playlist loop: ${[...chain, entry].join(' → ')}`));
      continue;
    }
    try {
      return await open(entry, ctx, chain);
    } catch (err) {
      if (ctx.opts.signal?.aborted || !(err instanceof ResolveError)) throw err;
      ctx.log?.warn({ playlist: finalUrl, entry, code: err.code, err: err.message }, 'playlist entry does not play');
      failures.push(err);
    }
  }
  if (failures.length === 1) throw failures[0]!;
  throw new ResolveError(failures[0]!.code, finalUrl,
    `no entry of ${finalUrl} plays: ${failures.map((f, i) => `${i + 1}) ${f.message}`).join('; ')}`,
    { cause: failures });
}

interface Fetched {
  finalUrl: string;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
  /** The deadline still running until the first body bytes are in. */
  attempt: Attempt;
}

/** GETs `url`, following redirects itself (bounded, loops named); 2xx only. */
async function fetchFollowing(url: string, ctx: Context): Promise<Fetched> {
  const { opts } = ctx;
  const hops: string[] = [];
  let current = url;
  for (;;) {
    let parsed: URL;
    try {
      parsed = new URL(current);
    } catch {
      throw new ResolveError('network', current, `${JSON.stringify(current)} is not a URL`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new ResolveError('network', current, `${current}: only http and https stations are supported`);
    }
    hops.push(current);
    ctx.via.push(current);
    const attempt = startAttempt(current, ctx);
    let res: Answer;
    try {
      res = await get(current, ctx, attempt);
    } catch (err) {
      attempt.done();
      throw attempt.classify(err);
    }
    const status = res.statusCode;
    const location = headerValue(res.headers.location);
    if (status >= 300 && status < 400 && location) {
      attempt.done();
      res.discard();
      let next: string;
      try {
        next = new URL(location, current).href;
      } catch {
        throw new ResolveError('network', current, `${current} redirects to ${JSON.stringify(location)}, which is not a URL`);
      }
      if (hops.includes(next)) throw new ResolveError('redirect-loop', url, `redirect loop: ${[...hops, next].join(' → ')}`);
      if (hops.length > opts.maxRedirects) {
        throw new ResolveError('too-many-redirects', url, `${url}: more than ${opts.maxRedirects} redirects (${[...hops, next].join(' → ')})`);
      }
      ctx.log?.debug({ from: current, to: next, status }, 'redirect');
      current = next;
      continue;
    }
    if (status < 200 || status >= 300) {
      attempt.done();
      res.discard();
      const from = hops.length > 1 ? ` (redirected from ${url})` : '';
      throw new ResolveError('http-status', current, `${current} returned ${status} ${STATUS_CODES[status] ?? ''}`.trimEnd() + from);
    }
    return { finalUrl: current, headers: res.headers, body: res.body, attempt };
  }
}

interface Answer {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
  /** Drops a body we will not read (redirects, errors). */
  discard(): void;
}

const isIcyStatusLine = (err: unknown): boolean =>
  (err as Error)?.name === 'HTTPParserError' && /^(?:ICY|CY|Y) \d{3}/.test(String((err as { data?: unknown }).data ?? ''));

/**
 * One GET through undici; a SHOUTcast v1 server's `ICY 200 OK`, which
 * undici refuses, is asked again with the small ICY client.
 */
async function get(url: string, ctx: Context, attempt: Attempt): Promise<Answer> {
  const headers = { 'user-agent': ctx.opts.userAgent, 'icy-metadata': '1', accept: '*/*' };
  try {
    const pending = request(url, {
      method: 'GET',
      dispatcher: ctx.opts.dispatcher ?? agentFor(ctx.opts.connectTimeoutMs),
      signal: attempt.signal,
      headersTimeout: ctx.opts.connectTimeoutMs,
      headers,
    });
    // undici notices an abort only once its connect attempt ends (10 s by
    // default): the deadline must not wait for that.
    pending.then((late) => { if (attempt.signal.aborted) late.body.destroy(); }, () => {});
    const res = await Promise.race([pending, rejectOnAbort(attempt.signal)]);
    return { statusCode: res.statusCode, headers: res.headers, body: res.body, discard: () => { res.body.dump().catch(() => {}); } };
  } catch (err) {
    if (!isIcyStatusLine(err) || !url.startsWith('http:')) throw err;
    ctx.log?.debug({ url }, 'ICY status line: asking again as an ICY v1 client');
    const res = await requestIcyV1(url, headers, attempt.signal);
    return { ...res, discard: () => { res.body.destroy(); } };
  }
}

/** One undici Agent per connect timeout, so that undici gives up connecting when we do. */
const agents = new Map<number, Agent>();
function agentFor(connectTimeoutMs: number): Agent {
  let agent = agents.get(connectTimeoutMs);
  if (!agent) {
    agent = new Agent({ connect: { timeout: connectTimeoutMs } });
    agents.set(connectTimeoutMs, agent);
  }
  return agent;
}

function rejectOnAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

interface Attempt {
  signal: AbortSignal;
  /** What the timer is waiting for, for its message. */
  phase: string;
  /** Disarms the timer. */
  done(): void;
  /** Turns whatever was thrown while this request was in use into a ResolveError (or the caller's abort reason). */
  classify(err: unknown): unknown;
}

/**
 * One request's deadline: connectTimeoutMs from the request until its first
 * body bytes are read (undici's own connect timeout is per dispatcher, and
 * the caller may bring the dispatcher).
 */
function startAttempt(url: string, ctx: Context): Attempt {
  const ms = ctx.opts.connectTimeoutMs;
  const timer = new AbortController();
  const attempt: Attempt = {
    signal: ctx.opts.signal ? AbortSignal.any([ctx.opts.signal, timer.signal]) : timer.signal,
    phase: 'the response headers',
    done: () => clearTimeout(handle),
    classify: (err) => {
      if (err instanceof ResolveError) return err;
      if (ctx.opts.signal?.aborted) return ctx.opts.signal.reason ?? err;
      if (timer.signal.aborted) return timer.signal.reason;
      const e = err as Error & { code?: string };
      if (e?.code === 'UND_ERR_HEADERS_TIMEOUT' || e?.code === 'UND_ERR_CONNECT_TIMEOUT' || e?.code === 'UND_ERR_BODY_TIMEOUT') {
        return new ResolveError('timeout', url, `${url} did not send ${attempt.phase} within ${ms} ms`, { cause: err });
      }
      const detail = e?.code && !String(e.message).includes(e.code) ? `${e.message} (${e.code})` : e?.message ?? String(err);
      return new ResolveError('network', url, `${url} could not be read: ${detail}`, { cause: err });
    },
  };
  const handle = setTimeout(() => {
    timer.abort(new ResolveError('timeout', url, `${url} did not send ${attempt.phase} within ${ms} ms`));
  }, ms);
  return attempt;
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Reads from `src` until `want` bytes (counting `chunks` already held) or its
 * end, then pauses it. The stream's error rejects.
 */
function readUpTo(src: Readable, want: number, chunks: Buffer[] = []): Promise<{ chunks: Buffer[]; ended: boolean }> {
  let have = chunks.reduce((n, c) => n + c.length, 0);
  return new Promise((resolve, reject) => {
    const off = (): void => {
      src.off('data', onData);
      src.off('end', onEnd);
      src.off('error', onError);
      src.off('close', onClose);
    };
    const onData = (c: Buffer): void => {
      chunks.push(c);
      have += c.length;
      if (have >= want) {
        src.pause();
        off();
        resolve({ chunks, ended: false });
      }
    };
    const onEnd = (): void => { off(); resolve({ chunks, ended: true }); };
    const onError = (err: Error): void => { off(); reject(err); };
    const onClose = (): void => { off(); reject(new Error('connection closed')); };
    if (have >= want) return resolve({ chunks, ended: false });
    src.on('data', onData);
    src.once('end', onEnd);
    src.once('error', onError);
    src.once('close', onClose);
    src.resume();
  });
}
