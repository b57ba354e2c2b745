/**
 * The daemon: the one place that knows every room and wires them.
 *
 *   LiveMembership ──active/idle/listeners──▶ SessionDriver ──start/stop──▶ runner
 *                                                  │                          ├─ radio: resolve → ffmpeg → RTP, SAP (ingest/radio.ts)
 *                                                  │                          └─ dvb:   TunerPool → dvblast (ingest/dvb/stream.ts)
 *                                                  └─ history ──▶ store ◀── API (/status, /channels/<group>.sdp)
 *
 * Events flow one way (ARCHITECTURE.md): membership tells, sessions decide,
 * ingest and announce obey; nothing reaches back upstream. The API reads the
 * live state through `status()` and `sdp(group)`.
 *
 * close() (SIGTERM/SIGINT in `headend serve`) stops hearing joins, stops
 * every session (each sends its SAP deletion and its ffmpeg is gone), then
 * closes the announcer, the API and the store. Safe to call twice.
 */
import type { EventEmitter } from 'node:events';
import { randomInt } from 'node:crypto';
import { isIPv4 } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { HeadendConfig } from './config.js';
import type { Logger } from './log.js';
import { Announcer } from './announce/announcer.js';
import { buildApi, listenApi } from './api/index.js';
import { ChildRegistry } from './ingest/supervisor.js';
import { payloadOverride, startRadio, type RadioStream } from './ingest/radio.js';
import type { AudioFormat } from './ingest/resolve.js';
import { formatAddr, parseAddr } from './membership/addr.js';
import { SessionDriver, type RunningStream, type StartRequest, type StreamHooks, type StreamRunner } from './sessions/driver.js';
import type { SessionChannel, SessionStatus } from './sessions/core.js';
import { egressFor } from './sessions/egress.js';
import { InterfaceFanout } from './sessions/fanout.js';
import { startDvb, type DvbStream } from './ingest/dvb/stream.js';
import type { TunerPool } from './ingest/dvb/pool.js';
import { openStoreFromConfig, type Store } from './store/index.js';
import { RtcpReceiver } from './rtcp/receiver.js';
import { describeReception, type ChannelReception } from './rtcp/stats.js';
import type { Channel } from './store/types.js';

/** What the headend needs from a membership source (LiveMembership, or a stand-in in tests). */
export interface MembershipSource extends Pick<EventEmitter, 'on'> {
  stats(): object;
  /** The membership table (LiveMembership.dump()), for the status page. */
  dump?(): unknown[];
  close(): void;
}

export interface HeadendOptions {
  logger: Logger;
  /** Replaces the raw-socket LiveMembership (tests, `simulate`-style feeds). */
  membership?: MembershipSource;
  /** Listen for the API (default: config.api.listen); false: no HTTP API. */
  api?: boolean;
}

interface MembershipEventLike { iface: string; group: string; source: string; listeners: number }

export interface HeadendStatus {
  startedAt: string;
  interfaces: string[];
  sessions: Array<SessionStatus & {
    stream?: ReturnType<Stream['status']> & { interfaces: string[] };
    /** What the receivers report by RTCP (RFC 3550 §6.4), while the stream runs. */
    rtcp?: ChannelReception;
    /** "2 listeners by MLD, 2 receivers by RTCP, 0.1 % loss" */
    summary?: string;
  }>;
  dvb?: ReturnType<TunerPool['status']>;
  counters: SessionDriver['counters'];
  announcer: ReturnType<Announcer['stats']>;
  membership?: object & { table?: unknown[] };
}

const NO_TUNERS = 'DVB channels are refused: no tuner configured (dvb.adapters is empty)';

type Stream = RadioStream | DvbStream;

export class Headend {
  private readonly streams = new Map<string, InterfaceFanout<Stream>>();
  private readonly channels = new Map<string, Channel>();
  /** Station URL → the format it resolved to last time (see RadioDeps.formats). */
  private readonly formats = new Map<string, AudioFormat>();
  private readonly startedAt = new Date();
  private closing: Promise<void> | undefined;
  private driver!: SessionDriver;
  private membership: MembershipSource | undefined;
  private app: FastifyInstance | undefined;
  /** DVB tuners, when dvb.adapters lists any. */
  private pool: TunerPool | undefined;
  /** Receivers' reports on [group]:5005 for every running stream. */
  private readonly rtcp: RtcpReceiver;
  /** Where the API listens, once it does. */
  apiAddress: string | undefined;

  private constructor(
    readonly config: HeadendConfig,
    private readonly log: Logger,
    readonly store: Store,
    private readonly announcer: Announcer,
    private readonly registry: ChildRegistry,
  ) {
    this.rtcp = new RtcpReceiver({ logger: log.child({ room: 'rtcp' }) });
  }

  static async start(config: HeadendConfig, opts: HeadendOptions): Promise<Headend> {
    const log = opts.logger;
    const store = openStoreFromConfig(config, { logger: log.child({ room: 'store' }) });
    const registry = ChildRegistry.fromConfig(config, log);
    const reaped = registry.reapLeftovers();
    if (reaped.length) log.warn({ pgids: reaped }, 'killed children left over by a previous run');
    const announcer = new Announcer({
      logger: log.child({ room: 'announce' }),
      intervalMs: config.announce.intervalMs,
      port: config.rtp.sapPort,
      ttl: config.announce.ttl,
      scoped: config.announce.scopedAddress,
    });
    const h = new Headend(config, log, store, announcer, registry);
    try {
      await h.wire(opts);
    } catch (err) {
      await h.close();
      throw err;
    }
    return h;
  }

  private async wire(opts: HeadendOptions): Promise<void> {
    const { config } = this;
    if (config.dvb.adapters.length > 0) {
      const { TunerPool } = await import('./ingest/dvb/pool.js');
      // A carrier the pool gives up fails its sessions (the stream listens for it).
      this.pool = TunerPool.fromConfig(config, { logger: this.log, registry: this.registry });
    }
    this.driver = new SessionDriver({
      limits: config.sessions,
      lookup: (group) => this.lookup(group),
      runner: this.runner(),
      history: (e) => this.store.history.add({
        group: e.group, event: e.event, reason: e.reason, listeners: e.listeners,
        ...(typeof e.channelId === 'number' ? { channelId: e.channelId } : {}),
        ...(e.error !== undefined ? { error: e.error } : {}),
      }),
      logger: this.log.child({ room: 'sessions' }),
    });

    if (opts.api !== false) {
      this.app = buildApi({
        store: this.store, config, logger: this.log.child({ room: 'api' }),
        live: { status: () => ({ live: this.status() }), sdp: (group) => this.sdp(group) },
      });
      this.apiAddress = await listenApi(this.app, config.api.listen);
      this.log.info({ address: this.apiAddress }, 'API listening');
    }

    const membership = opts.membership ?? (await this.openMembership());
    this.membership = membership;
    const feed = (type: 'active' | 'idle') => (e: MembershipEventLike) =>
      this.driver.membership({ type, iface: e.iface, group: e.group, source: e.source, listeners: e.listeners });
    membership.on('active', feed('active'));
    // A count change on an active pair is an update of the same pair.
    membership.on('listeners', feed('active'));
    membership.on('idle', feed('idle'));
    this.log.info({ interfaces: config.interfaces, channels: this.store.channels.count() }, 'headend ready');
  }

  private async openMembership(): Promise<MembershipSource> {
    const { LiveMembership } = await import('./membership/live.js');
    return LiveMembership.open({ interfaces: this.config.interfaces, config: this.config.membership, logger: this.log });
  }

  /** The channel mapped to a group, as the session lifecycle needs it. */
  private lookup(group: string): SessionChannel | undefined {
    const ch = this.store.channels.byGroup(group);
    if (!ch) return undefined;
    this.channels.set(group, ch);
    const unavailable =
      ch.kind === 'dvb'
        ? (!this.pool ? NO_TUNERS : !ch.tuning || !ch.serviceId ? `DVB channel "${ch.name}" has no tuning or service id` : undefined)
        : !ch.url ? `channel "${ch.name}" has no url`
        : undefined;
    return { id: ch.id, name: ch.name, enabled: ch.enabled, ...(unavailable ? { unavailable } : {}) };
  }

  private runner(): StreamRunner {
    return {
      start: (req: StartRequest, hooks: StreamHooks): RunningStream => {
        const ch = this.channels.get(req.group);
        if (!ch) throw new Error(`no channel for ${req.group}`);
        // Radio runs one ffmpeg per interface with listeners; the tuner pool
        // outputs a group once, so a DVB stream moves with its listeners.
        const perInterface = ch.kind !== 'dvb';
        // Our SSRC (RFC 3550 §8: random), the same on every interface, so RTCP
        // blocks about our stream are told from others; dvblast picks its own,
        // and undefined lets every report block count.
        const ssrc = ch.kind === 'dvb' ? undefined : randomInt(1, 0xffff_ffff);
        // Jitter comes in RTP timestamp units: 90 kHz for PT 14 and 33, 48 kHz for Opus (RFC 7587 §4.1).
        const clockRate = ch.kind !== 'dvb' && payloadOverride(ch.codec) === 'opus' ? 48_000 : undefined;
        const fanout = new InterfaceFanout<Stream>(
          (iface, h) => this.startOn(ch, req.group, iface, h, ssrc),
          req.ifaces, hooks, perInterface, this.log.child({ room: 'sessions', group: req.group, channel: ch.name }),
          {
            added: (iface) => this.listenRtcp(req.group, iface, ssrc, clockRate),
            // A session started again while this one still stops shares the socket: leave only what it does not serve.
            removed: (iface) => {
              const current = this.streams.get(req.group);
              if (!current || current === fanout || !current.interfaces().includes(iface)) this.rtcp.leave(req.group, iface);
            },
          },
        );
        this.streams.set(req.group, fanout);
        return {
          stop: async (reason) => {
            await fanout.stop(reason);
            if (this.streams.get(req.group) === fanout) {
              this.streams.delete(req.group);
              this.rtcp.close(req.group);
            }
          },
          retarget: (ifaces) => fanout.retarget(ifaces),
        };
      },
    };
  }

  /**
   * Hears the receivers' RTCP for a group on an interface while a stream
   * runs there. The socket's join makes the kernel report membership from our
   * own address; the membership edge drops our own reports, so it never
   * counts the headend as a listener.
   */
  private listenRtcp(group: string, iface: string, ssrc: number | undefined, clockRate: number | undefined): void {
    let ifaceAddress4: string | undefined;
    if (isIPv4(group)) {
      try { ifaceAddress4 = egressFor(group, iface).address; } catch { /* the stream fails on its own for this */ }
    }
    this.rtcp.open({ group, iface, port: this.config.rtp.rtcpPort, ...(ssrc !== undefined ? { ssrc } : {}), ...(clockRate ? { clockRate } : {}), ...(ifaceAddress4 ? { ifaceAddress4 } : {}) })
      .catch((err: unknown) => this.log.warn({ room: 'rtcp', group, iface, err: (err as Error).message }, 'cannot listen for RTCP: no reception figures for this stream'));
  }

  /** One stream of a channel out of one interface. */
  private startOn(ch: Channel, group: string, iface: string, hooks: StreamHooks, ssrc?: number): Stream {
    const logger = this.log.child({ room: 'ingest', iface });
    // dvblast names its interface (ifindex); ffmpeg's is chosen by the address it binds to.
    const egress = egressFor(group, iface, undefined, ch.kind === 'dvb' ? 'ifindex' : 'bind');
    if (ch.kind === 'dvb') {
      if (!this.pool) throw new Error(NO_TUNERS);
      if (!ch.tuning || !ch.serviceId) throw new Error(`DVB channel "${ch.name}" has no tuning or service id`);
      return startDvb(
        { group, channel: { id: ch.id, name: ch.name, serviceId: ch.serviceId, tuning: ch.tuning }, egress },
        { config: this.config, pool: this.pool, announcer: this.announcer, logger },
        hooks,
      );
    }
    if (!ch.url) throw new Error(`channel "${ch.name}" has no url`);
    return startRadio(
      { group, channel: { id: ch.id, name: ch.name, url: ch.url, ...(ch.codec ? { codec: ch.codec } : {}) }, egress, announceKey: `${group}%${iface}`, ...(ssrc !== undefined ? { ssrc } : {}) },
      { config: this.config, announcer: this.announcer, logger, registry: this.registry, formats: this.formats },
      hooks,
    );
  }

  /** The SDP announced for a group while it plays (its first interface's). */
  sdp(group: string): string | undefined {
    return this.streamFor(group)?.sdp();
  }

  /** The running stream of a group on its first interface (tests use its pid). */
  streamFor(group: string): Stream | undefined {
    let key = group;
    try { key = formatAddr(parseAddr(group)); } catch { /* not an address: no stream */ }
    return (this.streams.get(key) ?? this.streams.get(group))?.primary();
  }

  status(): HeadendStatus {
    return {
      startedAt: this.startedAt.toISOString(),
      interfaces: this.config.interfaces,
      sessions: this.driver.status().map((s) => {
        const fanout = this.streams.get(s.group);
        const primary = fanout?.primary();
        if (!fanout || !primary) return s;
        const rtcp = this.rtcp.reception(s.group);
        return {
          ...s,
          stream: { ...primary.status(), interfaces: fanout.interfaces() },
          ...(rtcp ? { rtcp } : {}),
          summary: describeReception(s.listeners, isIPv4(s.group) ? 'IGMP' : 'MLD', rtcp),
        };
      }),
      counters: { ...this.driver.counters },
      announcer: this.announcer.stats(),
      ...(this.pool ? { dvb: this.pool.status() } : {}),
      ...(this.membership ? { membership: { ...this.membership.stats(), ...(this.membership.dump ? { table: this.membership.dump() } : {}) } } : {}),
    };
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.log.info('headend stopping');
      this.membership?.close();
      await this.driver?.close('shutdown');
      this.rtcp.closeAll();
      await this.pool?.close();
      await this.announcer.close();
      await this.app?.close();
      this.store.close();
      this.log.info('headend stopped');
    })();
    return this.closing;
  }
}
