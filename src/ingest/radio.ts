/**
 * One internet radio channel on air: the glue between the resolver, the
 * supervised ffmpeg and the announcer.
 *
 *   resolveStation(url) ──body (ICY stripped)──▶ ffmpeg stdin ──RTP──▶ [group]:5004
 *          │ icy-name, StreamTitle, StreamUrl                     │ -progress on stdout
 *          ▼                                                       ▼
 *   SDP s= i= u= ──────────────── Announcer (SAP [group]:9875) ◀── first bytes out = live
 *
 * The "file descriptor hand-off": ffmpeg never fetches the URL. We resolve it
 * (redirects, playlists, ICY, HTML refused) and pipe the audio into ffmpeg's
 * stdin, telling it the input format so it does not probe. On every restart
 * of ffmpeg the station is resolved again (the old connection is what most
 * likely broke).
 *
 * "Live" means the first RTP packet left: ffmpeg writes `-progress` blocks to
 * stdout every `-stats_period`, and the first block with total_size > 0 says
 * the RTP muxer has written bytes to its socket. The same counter growing is
 * the watchdog's progress signal: a source that stalls stops it growing.
 *
 * Title changes re-announce: a new SDP (o= version + 1, i= the title) gets a
 * new SAP hash from the announcer, sent at once.
 */
import type { ChildProcess } from 'node:child_process';
import type { HeadendConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { Announcer } from '../announce/announcer.js';
import { ChannelAnnouncement, type ChannelDescription, type SdpPayload } from '../announce/channel.js';
import type { Egress } from '../sessions/egress.js';
import type { RunningStream, StreamHooks } from '../sessions/driver.js';
import { backoffFromConfig, ChildSupervisor, type ChildRegistry } from './supervisor.js';
import { resolveStation, ResolveError, type AudioFormat, type ResolvedStation, type StreamMetadata } from './resolve.js';
import { ffmpegArgs, payloadFor, payloadTypeOf, type PayloadChoice, type RtpPayload } from './ffmpeg.js';

export interface RadioChannel {
  id?: number;
  name: string;
  url: string;
  /**
   * Directory hint ('MP3', 'audio/aac' ...): only a guess, the resolver
   * decides. Or the admin's choice of RTP payload: 'mpa', 'mpegts' or 'opus'
   * (see payloadOverride).
   */
  codec?: string;
}

export interface RadioRequest {
  group: string;
  channel: RadioChannel;
  egress: Egress;
  /** The announcer's key for this stream's SAP (default: the group); one per interface when a group is served on several. */
  announceKey?: string;
  /** Our RTP SSRC (RFC 3550 §8), so RTCP reports about this stream can be told from others; default: ffmpeg's random one. */
  ssrc?: number;
}

export interface RadioDeps {
  config: HeadendConfig;
  announcer: Announcer;
  logger: Logger;
  registry?: ChildRegistry;
  /** Resolver, replaceable in tests; defaults to resolveStation. */
  resolve?: typeof resolveStation;
  /**
   * The format each station URL resolved to last time (kept by the owner
   * across sessions; a few bytes per channel, nothing running when idle).
   * It lets ffmpeg start while the station is still being resolved.
   */
  formats?: Map<string, AudioFormat>;
}

/** What the API shows about a running radio stream. */
export interface RadioStatus {
  pid?: number;
  spawns: number;
  format?: AudioFormat;
  payloadType?: number;
  finalUrl?: string;
  title?: string;
  sdpVersion: number;
  bytesOut: number;
}

export interface RadioStream extends RunningStream {
  status(): RadioStatus;
  /** The SDP currently announced (undefined before live). */
  sdp(): string | undefined;
  /** PID of the running ffmpeg (for tests that kill it). */
  readonly pid: number | undefined;
}

export { isSsmGroup } from '../announce/channel.js';

/**
 * The payload a channel's codec field asks for, if it names one (issue 3:
 * "per-channel override"): 'mpa' (PT 14), 'mpegts' (PT 33) or 'opus'
 * (dynamic PT 96, RFC 7587). Any other value is a directory's codec hint.
 */
export function payloadOverride(codec: string | undefined): RtpPayload | undefined {
  const c = codec?.trim().toLowerCase();
  return c === 'mpa' || c === 'mpegts' || c === 'opus' ? c : undefined;
}

/** Opus over RTP is always 48 kHz in the rtpmap (RFC 7587 §4.1); 2 channels so stereo sources stay stereo. */
const OPUS = { codec: 'opus', sampleRate: 48_000, channels: 2, bitrateKbps: 96 } as const;

/**
 * How to carry a source of `format` when the channel asks for `override`:
 * what can ride as it is does (MP3/MP2 in MPA, anything in TS); the rest is
 * re-encoded (to MP3 for MPA, to Opus for Opus).
 */
export function choosePayload(format: string, override?: RtpPayload): PayloadChoice {
  const choice = payloadFor(format);
  if (!override || override === choice.payload && !choice.transcode) return choice;
  const input = choice.format ? { format: choice.format } : {};
  switch (override) {
    case 'opus':
      return { ...input, payload: 'opus', transcode: { codec: 'opus', bitrateKbps: OPUS.bitrateKbps, sampleRate: OPUS.sampleRate, channels: OPUS.channels } };
    case 'mpa':
      return choice.payload === 'mpa' ? choice : { ...input, payload: 'mpa', transcode: { codec: 'mp3', bitrateKbps: 128 } };
    case 'mpegts':
      // MP3 rides in TS as it is; sources that needed a transcode keep it.
      return { ...choice, payload: 'mpegts' };
  }
}

/** The SDP's payload lines for a payload kind (RFC 3551 §6 static types; RFC 7587 §7 for Opus). */
export function sdpPayloadOf(payload: RtpPayload): SdpPayload {
  const payloadType = payloadTypeOf(payload);
  return payload === 'opus'
    ? { payloadType, rtpmap: { codec: 'opus', rate: OPUS.sampleRate, channels: OPUS.channels } }
    : { payloadType };
}

/** ffmpeg's progress period: how late "live" can be noticed after the first packet. */
const STATS_PERIOD_S = 0.02;

export function startRadio(req: RadioRequest, deps: RadioDeps, hooks: StreamHooks): RadioStream {
  return new RadioRunner(req, deps, hooks);
}

class RadioRunner implements RadioStream {
  private readonly log: Logger;
  private readonly abort = new AbortController();
  private sup: ChildSupervisor | undefined;
  private station: ResolvedStation | undefined;
  private stopped = false;
  private everLive = false;
  private readonly announcement: ChannelAnnouncement;
  private meta: { title?: string; url?: string } = {};
  private format: AudioFormat | undefined;
  private payload: RtpPayload | undefined;
  private bytesOut = 0;
  /** The first ffmpeg's stdin while the station is still resolving. */
  private pending: { child: ChildProcess; stdin: NodeJS.WritableStream } | undefined;

  constructor(private readonly req: RadioRequest, private readonly deps: RadioDeps, private readonly hooks: StreamHooks) {
    this.log = deps.logger.child({ group: req.group, channel: req.channel.name });
    this.announcement = new ChannelAnnouncement({ config: deps.config, announcer: deps.announcer, group: req.group, egress: req.egress, key: req.announceKey ?? req.group });
    void this.run();
  }

  get pid(): number | undefined {
    return this.sup?.pid;
  }

  status(): RadioStatus {
    return {
      pid: this.sup?.pid, spawns: this.sup?.spawns ?? 0, format: this.format,
      payloadType: this.payload ? payloadTypeOf(this.payload) : undefined,
      finalUrl: this.station?.finalUrl, title: this.meta.title, sdpVersion: this.announcement.sdpVersion, bytesOut: this.bytesOut,
    };
  }

  sdp(): string | undefined {
    return this.announcement.sdp();
  }

  async stop(reason: string): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.log.info({ reason, pid: this.pid }, 'stopping radio stream');
    // Deletion first: FFmpeg's sap demuxer ends playback on it (RFC 2974 §3.2),
    // and the stream ends right after, so the client sees both together.
    const withdrawn = this.announcement.withdraw();
    const exited = this.sup ? stopFfmpeg(this.sup) : undefined;
    this.abort.abort();
    this.station?.close();
    await Promise.all([withdrawn, exited]);
  }

  private resolveOpts() {
    const c = this.deps.config.ingest;
    return {
      maxRedirects: c.maxRedirects, maxPlaylistDepth: c.maxPlaylistDepth, connectTimeoutMs: c.connectTimeoutMs,
      userAgent: c.userAgent, signal: this.abort.signal, logger: this.log,
    };
  }

  /**
   * ffmpeg takes about as long to start (exec, libraries, muxer set-up) as a
   * station takes to answer, so both start at once: ffmpeg with the format the
   * station had last time (or the directory's codec hint, or MP3), fed as soon
   * as the body is there. A wrong guess costs one respawn.
   */
  private async run(): Promise<void> {
    const resolve = this.deps.resolve ?? resolveStation;
    const url = this.req.channel.url;
    const guess = this.deps.formats?.get(url) ?? hintedFormat(this.req.channel.codec) ?? 'mp3';
    const resolving = resolve(url, this.resolveOpts());
    resolving.catch(() => undefined); // awaited below
    // Spawning ffmpeg blocks the event loop for 5-10 ms: let undici send its
    // SYN first (measured: session start -> SYN 10 ms -> 2 ms).
    await new Promise((r) => setImmediate(r));
    if (this.stopped) {
      resolving.then((st) => st.close(), () => undefined);
      return;
    }
    let sup = this.supervise(guess);
    let started = sup.start();
    started.catch(() => undefined); // awaited below, or replaced
    let station: ResolvedStation;
    try {
      station = await resolving;
    } catch (err) {
      if (!this.stopped) {
        await stopFfmpeg(sup);
        this.hooks.failed(describeFailure(err));
      }
      return;
    }
    if (this.stopped) {
      station.close();
      return;
    }
    this.station = station;
    this.format = station.format;
    this.deps.formats?.set(url, station.format);
    this.watchMetadata(station);
    if (station.format !== guess) {
      this.log.info({ guessed: guess, format: station.format, pid: sup.pid }, 'station format differs from the guess: starting ffmpeg again');
      this.pending = undefined;
      await stopFfmpeg(sup);
      if (this.stopped) return;
      sup = this.supervise(station.format);
      started = sup.start();
    } else if (this.pending) {
      const { child, stdin } = this.pending;
      this.pending = undefined;
      if (child.exitCode === null && child.signalCode === null) station.body.pipe(stdin);
    }
    try {
      await started;
    } catch (err) {
      if (!this.stopped && sup === this.sup) this.hooks.failed(describeFailure(err));
    }
  }

  private supervise(format: AudioFormat): ChildSupervisor {
    const { config, registry } = this.deps;
    const { egress, group } = this.req;
    // The resolver's format names the demuxer (no probing); 'unknown' lets ffmpeg probe.
    const choice = choosePayload(format === 'unknown' ? '' : format, payloadOverride(this.req.channel.codec));
    this.payload = choice.payload;
    const args = ffmpegArgs({
      // No -re: a live station paces itself; only icecast's connect burst leaves early.
      input: { source: 'pipe:0', ...(choice.format ? { format: choice.format } : {}) },
      output: {
        payload: choice.payload, group, port: config.rtp.port, ttl: config.rtp.ttl, localAddress: egress.localaddr,
        ...(this.req.ssrc !== undefined ? { ssrc: this.req.ssrc } : {}),
      },
      ...(choice.transcode ? { transcode: choice.transcode } : {}),
      progress: { periodS: STATS_PERIOD_S },
    });
    const sup = new ChildSupervisor({
      name: 'ffmpeg',
      command: config.ingest.ffmpeg,
      args,
      stdin: 'pipe',
      stdout: 'pipe',
      logger: this.log,
      stderrLevel: 'warn',
      // Up = the first RTP bytes left (see the progress parser below).
      startupCheck: { kind: 'custom', timeoutMs: config.ingest.connectTimeoutMs + config.ingest.stallTimeoutMs },
      watchdog: { stallMs: config.ingest.stallTimeoutMs, progress: 'custom' },
      backoff: backoffFromConfig(config.ingest),
      registry,
      onSpawn: (child, attempt) => this.onSpawn(child, attempt),
    });
    this.sup = sup;
    sup.on('up', ({ attempt }) => {
      if (sup !== this.sup) return;
      if (!this.everLive) {
        this.everLive = true;
        this.announcement.announce(this.describe());
        this.hooks.live();
      } else {
        this.log.info({ attempt, pid: sup.pid }, 'ffmpeg back up after a restart');
      }
    });
    sup.on('failed', ({ reason }) => {
      if (!this.stopped && this.everLive && sup === this.sup) this.hooks.failed(`ffmpeg: ${reason}`);
    });
    return sup;
  }

  /** Attaches the audio (and a progress reader) to each fresh ffmpeg. */
  private onSpawn(child: ChildProcess, attempt: number): void {
    this.readProgress(child);
    const stdin = child.stdin!;
    if (attempt === 1) {
      // Started before the station answered: fed once it does (run()).
      if (this.station) this.station.body.pipe(stdin);
      else this.pending = { child, stdin };
      return;
    }
    // A restart: the old connection is most likely what broke; resolve again.
    this.station?.close();
    this.station = undefined;
    const resolve = this.deps.resolve ?? resolveStation;
    resolve(this.req.channel.url, this.resolveOpts()).then(
      (station) => {
        if (this.stopped || child.exitCode !== null || child.signalCode !== null) {
          station.close();
          return;
        }
        if (station.format !== this.format) {
          this.log.warn({ was: this.format, now: station.format, pid: child.pid }, 'station changed format; ffmpeg keeps the old input format until the next start');
        }
        this.station = station;
        this.watchMetadata(station);
        station.body.pipe(stdin);
      },
      (err: unknown) => {
        // ffmpeg sees end of input, exits, and the supervisor backs off and tries again.
        this.log.warn({ err: describeFailure(err), attempt, pid: child.pid }, 'resolving again after a restart failed');
        stdin.end();
      },
    );
  }

  /** `-progress pipe:1`: key=value lines, a block ends with progress=continue|end. */
  private readProgress(child: ChildProcess): void {
    let rest = '';
    let upSignalled = false;
    let last = 0;
    child.stdout?.on('data', (chunk: Buffer) => {
      rest += chunk.toString('latin1');
      const lines = rest.split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.startsWith('total_size=')) continue;
        const size = Number(line.slice('total_size='.length));
        if (!Number.isFinite(size) || size <= 0) continue;
        if (size > last) {
          this.bytesOut += size - last;
          last = size;
          this.sup?.progress();
        }
        if (!upSignalled) {
          upSignalled = true;
          this.sup?.markUp();
        }
      }
    });
  }

  private watchMetadata(station: ResolvedStation): void {
    const apply = (m: StreamMetadata | undefined): void => {
      if (!m) return;
      const next = { title: m.title || undefined, url: m.url || undefined };
      if (next.title === this.meta.title && next.url === this.meta.url) return;
      this.meta = next;
      this.log.info({ title: next.title, pid: this.pid }, 'stream title');
      if (this.announcement.isAnnounced) this.announcement.announce(this.describe());
    };
    apply(station.metadata);
    station.on('metadata', apply);
  }

  private describe(): ChannelDescription {
    return {
      // s= is what the station calls itself; the admin's name when it does not say.
      name: this.station?.icy.name || this.req.channel.name,
      ...(this.meta.title ? { info: this.meta.title } : {}),
      ...(this.meta.url ? { url: this.meta.url } : {}),
      ...(this.station?.icy.bitrate ? { bandwidthKbps: this.station.icy.bitrate } : {}),
      payload: sdpPayloadOf(this.payload ?? 'mpegts'),
    };
  }
}

/**
 * SIGTERM, and close ffmpeg's stdin: ffmpeg blocked reading an idle pipe
 * would never see its SIGTERM (the read restarts) and wait for SIGKILL;
 * with its stdin closed it wakes and exits without sending what is still
 * buffered.
 */
function stopFfmpeg(sup: ChildSupervisor): Promise<void> {
  const stdin = sup.stdin as (NodeJS.WritableStream & { destroy?: () => void }) | null;
  const exited = sup.stop(); // sends SIGTERM synchronously
  stdin?.destroy?.();
  return exited;
}

/** The demuxer a directory's codec hint ('MP3', 'audio/aacp' ...) suggests, if any. */
function hintedFormat(codec: string | undefined): AudioFormat | undefined {
  if (!codec) return undefined;
  const f = payloadFor(codec).format;
  return f === 'mp3' || f === 'mp2' || f === 'aac' || f === 'ogg' || f === 'flac' || f === 'mpegts' ? f : undefined;
}

/** One line a person can act on: the resolver's code and message, or the child's failure. */
export function describeFailure(err: unknown): string {
  if (err instanceof ResolveError) return `resolve ${err.code}: ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}
