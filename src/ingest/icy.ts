/**
 * ICY (SHOUTcast/Icecast) in-band metadata. A client that sends
 * `Icy-MetaData: 1` may get `icy-metaint: N`; the body is then N audio
 * bytes, one length byte L, L×16 bytes of metadata text padded with NULs,
 * N audio bytes, and so on. L = 0 means "nothing new".
 *
 * The text is `StreamTitle='Artist - Title';StreamUrl='...';`, with no
 * escaping at all: titles contain quotes and semicolons ("Guns N' Roses"),
 * and the charset is whatever the source client sent (UTF-8 from modern
 * encoders, Latin-1 from old ones). The parser here is tolerant and never
 * throws; the Transform strips blocks so that only audio bytes come out.
 *
 * Written here rather than taken from npm: `icy` (2.1.0) depends on
 * readable-stream 1.0 and stream-parser, decodes text with one shared
 * StringDecoder and splits on every ';', so titles with semicolons break.
 */
import { connect } from 'node:net';
import { PassThrough, pipeline, Transform, type Readable, type TransformCallback } from 'node:stream';

export interface StreamMetadata {
  /** StreamTitle, usually "Artist - Title"; '' when the station cleared it. */
  title?: string;
  /** StreamUrl (some stations put artwork or a web page here). */
  url?: string;
  /** The whole decoded block, NUL padding removed. */
  raw: string;
}

export interface IcyHeaders {
  name?: string;
  description?: string;
  genre?: string;
  url?: string;
  bitrate?: number;
  metaint?: number;
}

/** Largest metaint we accept; icecast uses 16000, SHOUTcast 8192 or 32768. */
export const MAX_METAINT = 1 << 20;

/** `KEY='` at a sticky position. */
const KEY = /([A-Za-z][\w-]*)=(['"])/y;
/** What closes a value after its quote: `;`, then the end of text or the next key. */
const VALUE_END = /\s*;\s*(?:$|[A-Za-z][\w-]*=['"])/y;

/**
 * Parses `Key='value';Key2='value2';` into a map. A value ends at a quote,
 * a semicolon (blanks allowed between) and then the next `Key='` or the end;
 * any other quote or semicolon belongs to the value. Unparseable rest is ignored.
 */
export function parseIcyText(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < text.length) {
    while (pos < text.length && /[\s;]/.test(text[pos]!)) pos++;
    KEY.lastIndex = pos;
    const m = KEY.exec(text);
    if (!m) break;
    const key = m[1]!;
    const quote = m[2]!;
    const start = KEY.lastIndex;
    let end = -1;
    for (let j = text.indexOf(quote, start); j !== -1; j = text.indexOf(quote, j + 1)) {
      VALUE_END.lastIndex = j + 1;
      if (VALUE_END.test(text)) { end = j; break; }
    }
    if (end === -1) {
      // Unterminated (truncated block or a missing ';'): keep what is there.
      const rest = text.slice(start).trimEnd();
      out[key] = rest.endsWith(quote) ? rest.slice(0, -1) : rest;
      break;
    }
    out[key] = text.slice(start, end);
    pos = text.indexOf(';', end) + 1;
  }
  return out;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes one metadata block: up to the first NUL; UTF-8 if valid, else Latin-1. */
export function decodeIcyBlock(block: Buffer): string {
  const nul = block.indexOf(0);
  const bytes = nul === -1 ? block : block.subarray(0, nul);
  try {
    return utf8.decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}

/** Parses a metadata block's text into title / url. Never throws. */
export function parseIcyMetadata(raw: string): StreamMetadata {
  const fields = parseIcyText(raw);
  const meta: StreamMetadata = { raw };
  for (const [k, v] of Object.entries(fields)) {
    const key = k.toLowerCase();
    if (key === 'streamtitle' && meta.title === undefined) meta.title = v;
    else if (key === 'streamurl' && meta.url === undefined) meta.url = v;
  }
  return meta;
}

/**
 * One header's text. undici decodes header bytes as UTF-8, which is what
 * current servers send; Latin-1 names from old servers arrive with U+FFFD in
 * place of their accented letters, and there are no raw bytes left to retry.
 */
function headerText(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  return v?.trim();
}

/** The icy-* response headers. An invalid icy-metaint is reported as `badMetaint`, not used. */
export function parseIcyHeaders(headers: Record<string, string | string[] | undefined>): IcyHeaders & { badMetaint?: string } {
  const out: IcyHeaders & { badMetaint?: string } = {};
  const set = (key: 'name' | 'description' | 'genre' | 'url', header: string): void => {
    const v = headerText(headers[header]);
    if (v) out[key] = v;
  };
  set('name', 'icy-name');
  set('description', 'icy-description');
  set('genre', 'icy-genre');
  set('url', 'icy-url');
  // icy-br is "128" or, from some servers, "128,128" (one per quality).
  const br = /^\s*(\d{1,6})/.exec(headerText(headers['icy-br']) ?? '');
  if (br) out.bitrate = Number(br[1]);
  const metaint = headerText(headers['icy-metaint']);
  if (metaint !== undefined) {
    const n = /^\d{1,8}$/.test(metaint) ? Number(metaint) : NaN;
    if (n >= 1 && n <= MAX_METAINT) out.metaint = n;
    else out.badMetaint = metaint;
  }
  return out;
}

export interface IcyStats {
  audioBytes: number;
  /** Blocks with L > 0. */
  metadataBlocks: number;
  /** Blocks whose text had no StreamTitle / StreamUrl we could read. */
  unparsedBlocks: number;
}

const enum State { Audio, Length, Metadata }

/**
 * Strips ICY metadata blocks from a byte stream. Emits `metadata` with a
 * StreamMetadata whenever the block text changes; `current` holds the latest.
 * A listener that throws is reported through `listenerError`, never into the
 * stream.
 */
export class IcyStripper extends Transform {
  readonly stats: IcyStats = { audioBytes: 0, metadataBlocks: 0, unparsedBlocks: 0 };
  current: StreamMetadata | undefined;
  private state = State.Audio;
  private audioLeft: number;
  private metaLeft = 0;
  private metaParts: Buffer[] = [];

  constructor(readonly metaint: number) {
    super();
    if (!Number.isInteger(metaint) || metaint < 1 || metaint > MAX_METAINT) {
      throw new RangeError(`icy-metaint must be an integer in 1..${MAX_METAINT}, got ${metaint}`);
    }
    this.audioLeft = metaint;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.state === State.Audio) {
        const n = Math.min(this.audioLeft, chunk.length - i);
        this.push(chunk.subarray(i, i + n));
        this.stats.audioBytes += n;
        i += n;
        this.audioLeft -= n;
        if (this.audioLeft === 0) this.state = State.Length;
      } else if (this.state === State.Length) {
        this.metaLeft = chunk[i++]! * 16;
        if (this.metaLeft === 0) this.startAudio();
        else this.state = State.Metadata;
      } else {
        const n = Math.min(this.metaLeft, chunk.length - i);
        this.metaParts.push(chunk.subarray(i, i + n));
        i += n;
        this.metaLeft -= n;
        if (this.metaLeft === 0) {
          this.onBlock(Buffer.concat(this.metaParts));
          this.metaParts = [];
          this.startAudio();
        }
      }
    }
    done();
  }

  private startAudio(): void {
    this.state = State.Audio;
    this.audioLeft = this.metaint;
  }

  private onBlock(block: Buffer): void {
    this.stats.metadataBlocks++;
    const raw = decodeIcyBlock(block);
    if (this.current?.raw === raw) return;
    const meta = parseIcyMetadata(raw);
    if (meta.title === undefined && meta.url === undefined) this.stats.unparsedBlocks++;
    this.current = meta;
    try {
      this.emit('metadata', meta);
    } catch (err) {
      this.emit('listenerError', err);
    }
  }
}

export interface IcyV1Response {
  statusCode: number;
  statusText: string;
  headers: Record<string, string>;
  /** The body, starting with the first byte after the header block. */
  body: Readable;
}

/** The most header bytes an ICY v1 server may send before the blank line. */
const MAX_ICY_HEADER_BYTES = 16 * 1024;

/**
 * A GET for SHOUTcast v1 servers, which answer `ICY 200 OK` instead of an
 * HTTP status line; undici (llhttp) refuses that response, so the resolver
 * retries here. Plain TCP only (those servers never spoke TLS), HTTP/1.0,
 * `Connection: close`. Rejects with the signal's reason when it aborts.
 */
export function requestIcyV1(url: string, headers: Record<string, string>, signal: AbortSignal): Promise<IcyV1Response> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const socket = connect({ host: target.hostname.replace(/^\[|\]$/g, ''), port: Number(target.port || 80) });
    const onAbort = (): void => { socket.destroy(signal.reason as Error); };
    signal.addEventListener('abort', onAbort, { once: true });
    let head = Buffer.alloc(0);
    const fail = (err: Error): void => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(signal.aborted ? signal.reason : err);
    };
    socket.once('error', fail);
    socket.once('end', () => fail(new Error('connection closed before the end of the response headers')));
    socket.on('connect', () => {
      const lines = [`GET ${target.pathname}${target.search} HTTP/1.0`, `Host: ${target.host}`,
        ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), 'Connection: close', '', ''];
      socket.write(lines.join('\r\n'));
    });
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) {
        if (head.length > MAX_ICY_HEADER_BYTES) fail(new Error(`no end of headers within ${MAX_ICY_HEADER_BYTES} bytes`));
        return;
      }
      socket.off('data', onData);
      socket.removeAllListeners('end');
      socket.pause();
      const [statusLine = '', ...fields] = head.toString('latin1', 0, end).split('\r\n');
      const status = /^(?:ICY|HTTP\/1\.[01])\s+(\d{3})\s*(.*)$/.exec(statusLine);
      if (!status) return fail(new Error(`not an ICY or HTTP status line: ${JSON.stringify(statusLine.slice(0, 80))}`));
      const out: Record<string, string> = {};
      for (const field of fields) {
        const colon = field.indexOf(':');
        if (colon > 0) out[field.slice(0, colon).trim().toLowerCase()] = Buffer.from(field.slice(colon + 1).trim(), 'latin1').toString('utf8');
      }
      const body = new PassThrough();
      body.write(head.subarray(end + 4));
      socket.removeListener('error', fail);
      pipeline(socket, body, () => { signal.removeEventListener('abort', onAbort); });
      body.once('close', () => socket.destroy());
      resolve({ statusCode: Number(status[1]), statusText: status[2] ?? '', headers: out, body });
    };
    socket.on('data', onData);
  });
}
