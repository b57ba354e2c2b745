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
import { buildSdp } from '../announce/sdp.js';
import type { Announcer } from '../announce/announcer.js';
import type { Egress } from '../sessions/egress.js';
import type { RunningStream, StreamHooks } from '../sessions/driver.js';
import { ChildSupervisor, type ChildRegistry } from './supervisor.js';
import { resolveStation, ResolveError, type AudioFormat, type ResolvedStation, type StreamMetadata } from './resolve.js';
import { ffmpegArgs, payloadFor, payloadTypeOf } from './ffmpeg.js';

export interface RadioChannel {
  id?: number;
  name: string;
  url: string;
  /** Directory hint ('MP3', 'audio/aac' ...): only a guess, the resolver decides. */
  codec?: string;
}

export interface RadioRequest {
  group: string;
  channel: RadioChannel;
  egress: Egress;
  /** The announcer's key for this stream's SAP (default: the group); one per interface when a group is served on several. */
  announceKey?: string;
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

/** True for source-specific groups (RFC 4607 §1: 232/8, ff3x::/32): the SDP then carries a source filter. */
export function isSsmGroup(group: string): boolean {
  if (group.includes(':')) return /^ff3[0-9a-f]:/i.test(group);
  return group.startsWith('232.');
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
  private announced = false;
  private everLive = false;
  private readonly sessionId = String(Math.floor(Date.now() / 1000) + 2_208_988_800); // NTP seconds, RFC 8866 §5.2
  private sdpVersion = 1;
  private currentSdp: string | undefined;
  private meta: { title?: string; url?: string } = {};
  private format: AudioFormat | undefined;
  private payloadType: number | undefined;
  private bytesOut = 0;
  /** The first ffmpeg's stdin while the station is still resolving. */
  private pending: { child: ChildProcess; stdin: NodeJS.WritableStream } | undefined;

  constructor(private readonly req: RadioRequest, private readonly deps: RadioDeps, private readonly hooks: StreamHooks) {
    this.log = deps.logger.child({ group: req.group, channel: req.channel.name });
    void this.run();
  }

  get pid(): number | undefined {
    return this.sup?.pid;
  }

  private get announceKey(): string {
    return this.req.announceKey ?? this.req.group;
  }

  status(): RadioStatus {
    return {
      pid: this.sup?.pid, spawns: this.sup?.spawns ?? 0, format: this.format, payloadType: this.payloadType,
      finalUrl: this.station?.finalUrl, title: this.meta.title, sdpVersion: this.sdpVersion, bytesOut: this.bytesOut,
    };
  }

  sdp(): string | undefined {
    return this.currentSdp;
  }

  async stop(reason: string): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.log.info({ reason }, 'stopping radio stream');
    // Deletion first: FFmpeg's sap demuxer ends playback on it (RFC 2974 §3.2),
    // and the stream ends right after, so the client sees both together.
    const withdrawn = this.announced ? this.deps.announcer.withdraw(this.announceKey) : Promise.resolve();
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
    let sup = this.supervise(guess);
    let started = sup.start();
    started.catch(() => undefined); // awaited below, or replaced
    let station: ResolvedStation;
    try {
      station = await resolve(url, this.resolveOpts());
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
      this.log.info({ guessed: guess, format: station.format }, 'station format differs from the guess: starting ffmpeg again');
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
    const choice = payloadFor(format === 'unknown' ? '' : format);
    this.payloadType = payloadTypeOf(choice.payload);
    const args = ffmpegArgs({
      // No -re: a live station paces itself; only icecast's connect burst leaves early.
      input: { source: 'pipe:0', ...(choice.format ? { format: choice.format } : {}) },
      output: { payload: choice.payload, group, port: config.rtp.port, ttl: config.rtp.ttl, localAddress: egress.localaddr },
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
      backoff: { initialMs: config.ingest.restartBackoffMs, maxMs: config.ingest.restartBackoffMaxMs, maxRestarts: config.ingest.maxRestarts },
      registry,
      onSpawn: (child, attempt) => this.onSpawn(child, attempt),
    });
    this.sup = sup;
    sup.on('up', ({ attempt }) => {
      if (sup !== this.sup) return;
      if (!this.everLive) {
        this.everLive = true;
        this.announce();
        this.hooks.live();
      } else {
        this.log.info({ attempt }, 'ffmpeg back up after a restart');
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
          this.log.warn({ was: this.format, now: station.format }, 'station changed format; ffmpeg keeps the old input format until the next start');
        }
        this.station = station;
        this.watchMetadata(station);
        station.body.pipe(stdin);
      },
      (err: unknown) => {
        // ffmpeg sees end of input, exits, and the supervisor backs off and tries again.
        this.log.warn({ err: describeFailure(err), attempt }, 'resolving again after a restart failed');
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
      this.log.info({ title: next.title }, 'stream title');
      if (this.announced) {
        this.sdpVersion += 1;
        this.currentSdp = this.buildSdp();
        this.deps.announcer.update(this.announceKey, this.currentSdp);
      }
    };
    apply(station.metadata);
    station.on('metadata', apply);
  }

  private buildSdp(): string {
    const { config } = this.deps;
    const { group, egress, channel } = this.req;
    return buildSdp({
      group,
      ...(isSsmGroup(group) ? { source: egress.address } : {}),
      port: config.rtp.port,
      rtcpPort: config.rtp.rtcpPort,
      payloadType: this.payloadType ?? 33,
      // s= is what the station calls itself; the admin's name when it does not say.
      name: this.station?.icy.name || channel.name,
      ...(this.meta.title ? { info: this.meta.title } : {}),
      ...(this.meta.url ? { url: this.meta.url } : {}),
      ...(this.station?.icy.bitrate ? { bandwidthKbps: this.station.icy.bitrate } : {}),
      sessionId: this.sessionId,
      sessionVersion: this.sdpVersion,
      originAddress: egress.address,
      tool: 'mcast-headend 0.1.0',
      ttl: config.rtp.ttl,
    });
  }

  private announce(): void {
    const { config, announcer } = this.deps;
    this.currentSdp = this.buildSdp();
    announcer.announce(this.announceKey, {
      group: this.req.group,
      sdp: this.currentSdp,
      iface: this.req.egress.iface,
      originAddress: this.req.egress.address,
      ttl: config.announce.ttl,
      alsoScoped: config.announce.scopedAddress,
    });
    this.announced = true;
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
