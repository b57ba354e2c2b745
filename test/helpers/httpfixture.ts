/**
 * A local HTTP(S) server for ingest tests: programmable routes on 127.0.0.1
 * (random port), an ICY-speaking route that interleaves metadata into real
 * MP3 bytes, plus generators for the media and the TLS certificate the tests
 * need, made at test time with ffmpeg and openssl (nothing binary committed).
 *
 *   const fx = await startFixture(t);            // closed in t.after
 *   fx.route('/a.pls', { headers: { 'content-type': 'audio/x-scpls' }, body: '...' });
 *   fx.route('/old', { status: 302, redirect: '/a.pls' });
 *   fx.icy('/live.mp3', { audio: await makeMp3(), metaint: 1000, block: (i) => `StreamTitle='Song ${i >> 2}';` });
 *   await resolveStation(fx.url('/old'), ...);
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export interface RouteSpec {
  status?: number;
  headers?: Record<string, string | number>;
  body?: string | Buffer;
  /** Location header (relative paths allowed); status defaults to 302. */
  redirect?: string;
  /** Wait this long before sending the status line and headers. */
  delayMs?: number;
  /** Send headers at once, then wait this long before the first body byte. */
  firstByteDelayMs?: number;
}

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface IcyRoute {
  /** The audio to send (sent once, then the response ends, unless `loop`). */
  audio: Buffer;
  metaint: number;
  /** Metadata text for block i (0-based), or undefined to send an empty block. Default: none. */
  block?: (i: number) => string | undefined;
  contentType?: string;
  /** Extra response headers (icy-name, icy-br ...). */
  headers?: Record<string, string | number>;
  /** Bytes per write, and pause between writes: a live-ish pace. Default: all at once. */
  chunkBytes?: number;
  intervalMs?: number;
  /** Send the audio over and over until the client leaves. */
  loop?: boolean;
  /**
   * Answer with this raw status line instead of HTTP's, as SHOUTcast v1 does
   * (`ICY 200 OK`); the whole response is then written at once.
   */
  statusLine?: string;
}

export interface RequestRecord {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
}

export interface Fixture {
  /** `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`. */
  readonly origin: string;
  readonly port: number;
  url(path: string): string;
  route(path: string, spec: RouteSpec | RouteHandler): void;
  icy(path: string, spec: IcyRoute): void;
  /** Every request seen, in order. */
  readonly requests: RequestRecord[];
  close(): Promise<void>;
}

/** Anything with node:test's `after(fn)`. */
interface HasAfter { after(fn: () => unknown): void }

export async function startFixture(t?: HasAfter, opts: { tls?: { key: string; cert: string } } = {}): Promise<Fixture> {
  const routes = new Map<string, RouteSpec | RouteHandler>();
  const requests: RequestRecord[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void): void => {
    const h = setTimeout(() => { timers.delete(h); fn(); }, ms);
    timers.add(h);
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0]!;
    requests.push({ method: req.method ?? 'GET', path, headers: req.headers });
    const route = routes.get(path);
    if (!route) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    if (typeof route === 'function') return route(req, res);
    const send = (): void => {
      if (res.destroyed) return;
      const headers: Record<string, string | number> = { ...route.headers };
      if (route.redirect !== undefined) headers.location = route.redirect;
      res.writeHead(route.status ?? (route.redirect !== undefined ? 302 : 200), headers);
      if (route.firstByteDelayMs) {
        res.flushHeaders();
        later(route.firstByteDelayMs, () => { if (!res.destroyed) res.end(route.body ?? ''); });
      } else {
        res.end(route.body ?? '');
      }
    };
    if (route.delayMs) later(route.delayMs, send);
    else send();
  };

  const server: Server = opts.tls ? createHttpsServer({ key: opts.tls.key, cert: opts.tls.cert }, handle) : createHttpServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const origin = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  let closed: Promise<void> | undefined;

  const fixture: Fixture = {
    origin,
    port,
    requests,
    url: (path) => origin + path,
    route: (path, spec) => { routes.set(path, spec); },
    icy: (path, spec) => { routes.set(path, icyHandler(spec, later)); },
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        for (const h of timers) clearTimeout(h);
        timers.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
  t?.after(() => fixture.close());
  return fixture;
}

/**
 * An ICY server's answer: with `Icy-MetaData: 1` in the request, `icy-metaint`
 * and a metadata block after every `metaint` audio bytes; without it, the
 * plain audio (as SHOUTcast and Icecast do).
 */
function icyHandler(spec: IcyRoute, later: (ms: number, fn: () => void) => void): RouteHandler {
  return (req, res) => {
    const wantsMeta = req.headers['icy-metadata'] === '1';
    const headers: Record<string, string | number> = {
      'content-type': spec.contentType ?? 'audio/mpeg',
      'cache-control': 'no-cache',
      ...spec.headers,
    };
    if (wantsMeta) headers['icy-metaint'] = spec.metaint;
    const encoder = new IcyEncoder(spec.metaint, spec.block);
    const once = (): Buffer => (wantsMeta ? encoder.encode(spec.audio) : spec.audio);
    if (spec.statusLine) {
      // Past node's HTTP writer: straight onto the socket.
      const head = [spec.statusLine, ...Object.entries(headers).map(([k, v]) => `${k}:${v}`), '', ''].join('\r\n');
      req.socket.end(Buffer.concat([Buffer.from(head, 'latin1'), once()]));
      return;
    }
    res.writeHead(200, headers);
    if (!spec.chunkBytes) {
      if (!spec.loop) { res.end(once()); return; }
    }
    const chunkBytes = spec.chunkBytes ?? 64 * 1024;
    let pending = once();
    const pump = (): void => {
      if (res.destroyed) return;
      if (pending.length === 0) {
        if (!spec.loop) { res.end(); return; }
        pending = once();
      }
      const ok = res.write(pending.subarray(0, chunkBytes));
      pending = pending.subarray(chunkBytes);
      const next = (): void => { if (spec.intervalMs) later(spec.intervalMs, pump); else setImmediate(pump); };
      if (ok) next(); else res.once('drain', next);
    };
    pump();
  };
}

/** Interleaves ICY metadata blocks into audio; stateful across calls, like a live server. */
export class IcyEncoder {
  private audioLeft: number;
  private block = 0;

  constructor(readonly metaint: number, private readonly text: (i: number) => string | undefined = () => undefined, private readonly encoding: BufferEncoding = 'utf8') {
    this.audioLeft = metaint;
  }

  encode(audio: Buffer): Buffer {
    const parts: Buffer[] = [];
    let i = 0;
    while (i < audio.length) {
      const n = Math.min(this.audioLeft, audio.length - i);
      parts.push(audio.subarray(i, i + n));
      i += n;
      this.audioLeft -= n;
      if (this.audioLeft === 0) {
        parts.push(icyBlock(this.text(this.block++), this.encoding));
        this.audioLeft = this.metaint;
      }
    }
    return Buffer.concat(parts);
  }
}

/** One metadata block: length byte, text NUL-padded to a multiple of 16 (at most 4080 bytes). */
export function icyBlock(text: string | undefined, encoding: BufferEncoding = 'utf8'): Buffer {
  if (!text) return Buffer.from([0]);
  const bytes = Buffer.from(text, encoding).subarray(0, 255 * 16);
  const blocks = Math.ceil(bytes.length / 16);
  const out = Buffer.alloc(1 + blocks * 16);
  out[0] = blocks;
  bytes.copy(out, 1);
  return out;
}

const mediaCache = new Map<string, Promise<Buffer>>();

/**
 * Encodes a tone with ffmpeg and returns the bytes (cached per process).
 * `args` are ffmpeg's output options, `ext` names the container.
 */
export function makeMedia(name: string, seconds: number, outArgs: string[]): Promise<Buffer> {
  const key = `${name}:${seconds}:${outArgs.join(' ')}`;
  let p = mediaCache.get(key);
  if (!p) {
    p = (async () => {
      const dir = await mkdtemp(join(tmpdir(), 'headend-media-'));
      try {
        const file = join(dir, name);
        await execFileP('ffmpeg', [
          '-nostdin', '-hide_banner', '-loglevel', 'error',
          '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=44100:duration=${seconds}`,
          ...outArgs, '-y', file,
        ], { timeout: 30_000 });
        return await readFile(file);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    })();
    mediaCache.set(key, p);
  }
  return p;
}

/** A constant-bitrate MP3 (128 kb/s, 44.1 kHz), without ID3 tags. */
export function makeMp3(seconds = 2): Promise<Buffer> {
  return makeMedia('tone.mp3', seconds, ['-c:a', 'libmp3lame', '-b:a', '128k', '-write_xing', '0', '-id3v2_version', '0', '-f', 'mp3']);
}

/** A self-signed certificate for 127.0.0.1 (EC P-256, one day), made with openssl. */
export async function makeSelfSignedCert(): Promise<{ key: string; cert: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'headend-tls-'));
  try {
    await execFileP('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    ], { timeout: 30_000 });
    return { key: await readFile(join(dir, 'key.pem'), 'utf8'), cert: await readFile(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface HlsFiles {
  /** The media playlist text, segment URIs relative to it. */
  playlist: string;
  segments: Array<{ name: string; bytes: Buffer }>;
}

const hlsCache = new Map<string, Promise<HlsFiles>>();

/** A finished (VOD) HLS stream of AAC in MPEG-TS segments, made by ffmpeg's hls muxer. */
export function makeHlsTs(seconds = 3, segmentSeconds = 1): Promise<HlsFiles> {
  const key = `${seconds}:${segmentSeconds}`;
  let p = hlsCache.get(key);
  if (!p) {
    p = (async () => {
      const dir = await mkdtemp(join(tmpdir(), 'headend-hls-'));
      try {
        await execFileP('ffmpeg', [
          '-nostdin', '-hide_banner', '-loglevel', 'error',
          '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=44100:duration=${seconds}`,
          '-c:a', 'aac', '-b:a', '64k', '-f', 'hls', '-hls_time', String(segmentSeconds), '-hls_list_size', '0',
          '-hls_playlist_type', 'vod', '-hls_segment_filename', join(dir, 'seg%d.ts'), join(dir, 'index.m3u8'),
        ], { timeout: 30_000 });
        const playlist = await readFile(join(dir, 'index.m3u8'), 'utf8');
        const names = playlist.split('\n').filter((l) => l.endsWith('.ts'));
        const segments = await Promise.all(names.map(async (name) => ({ name, bytes: await readFile(join(dir, name)) })));
        return { playlist, segments };
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    })();
    hlsCache.set(key, p);
  }
  return p;
}

/**
 * HLS "packed audio" (RFC 8216 §3.4): ADTS segments, each opening with an
 * ID3 tag holding its timestamp, cut from an ffmpeg AAC file at frame
 * boundaries. `audio` is the ADTS stream the segments add up to.
 */
export async function makePackedAudioHls(parts = 3): Promise<HlsFiles & { audio: Buffer }> {
  const adts = await makeMedia('packed.aac', 2, ['-c:a', 'aac', '-b:a', '64k', '-f', 'adts']);
  const frames: number[] = [];
  for (let at = 0; at + 7 <= adts.length;) {
    frames.push(at);
    at += ((adts[at + 3]! & 3) << 11) | (adts[at + 4]! << 3) | (adts[at + 5]! >> 5);
  }
  const per = Math.ceil(frames.length / parts);
  const segments: HlsFiles['segments'] = [];
  for (let i = 0; i < parts; i++) {
    const start = frames[i * per];
    if (start === undefined) break;
    const end = frames[(i + 1) * per] ?? adts.length;
    segments.push({ name: `part${i}.aac`, bytes: Buffer.concat([id3Timestamp(i * 90_000), adts.subarray(start, end)]) });
  }
  const playlist = ['#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-TARGETDURATION:1', '#EXT-X-MEDIA-SEQUENCE:0',
    ...segments.flatMap((s) => ['#EXTINF:0.7,', s.name]), '#EXT-X-ENDLIST', ''].join('\n');
  return { playlist, segments, audio: adts };
}

/** ID3v2.4 tag with the PRIV frame HLS packed audio carries (a 33-bit 90 kHz timestamp). */
function id3Timestamp(pts: number): Buffer {
  const owner = Buffer.from('com.apple.streaming.transportStreamTimestamp\0', 'latin1');
  const ts = Buffer.alloc(8);
  ts.writeBigUInt64BE(BigInt(pts));
  const frameBody = Buffer.concat([owner, ts]);
  const syncsafe = (n: number): Buffer => Buffer.from([(n >> 21) & 0x7f, (n >> 14) & 0x7f, (n >> 7) & 0x7f, n & 0x7f]);
  const frame = Buffer.concat([Buffer.from('PRIV', 'latin1'), syncsafe(frameBody.length), Buffer.from([0, 0]), frameBody]);
  return Buffer.concat([Buffer.from([0x49, 0x44, 0x33, 4, 0, 0]), syncsafe(frame.length), frame]);
}

/** Serves an HLS stream's playlist and segments under `dir` (e.g. '/hls'). */
export function serveHls(fx: Fixture, dir: string, files: HlsFiles, segmentType = 'video/mp2t'): void {
  fx.route(`${dir}/index.m3u8`, { headers: { 'content-type': 'application/vnd.apple.mpegurl' }, body: files.playlist });
  for (const s of files.segments) fx.route(`${dir}/${s.name}`, { headers: { 'content-type': segmentType }, body: s.bytes });
}

/**
 * A TCP port whose connects hang: a listener with backlog 0 that never
 * accepts, its queue already full, so the kernel drops further SYNs. Node
 * accepts every connection by itself, hence the few lines of Python.
 */
export async function startBlackhole(t?: HasAfter): Promise<{ url: string; close(): void }> {
  const script = [
    'import socket, sys, time',
    's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)',
    'held = []',
    'for _ in range(4):',
    '    c = socket.socket(); c.setblocking(False)',
    '    try: c.connect(s.getsockname())',
    '    except BlockingIOError: pass',
    '    held.append(c)',
    'time.sleep(0.1)',
    'print(s.getsockname()[1], flush=True)',
    'sys.stdin.read()',
  ].join('\n');
  // stdin stays open until close(): the script lives exactly as long as we need it.
  const child = spawn('python3', ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`blackhole helper exited (${code})`)));
    child.stdout.setEncoding('utf8').once('data', (d: string) => resolve(Number(d.trim())));
  });
  const close = (): void => { child.stdin.end(); child.kill('SIGTERM'); };
  t?.after(close);
  return { url: `http://127.0.0.1:${port}/`, close };
}
