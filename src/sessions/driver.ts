/**
 * The thin edge around SessionCore: one timer for the core's next deadline,
 * streams started and stopped through a StreamRunner, history written to a
 * sink, every decision logged with its group. The core decides; this obeys.
 *
 * A stream reports back through hooks (live / failed). Hooks of a stream the
 * driver already replaced or stopped are ignored, so a late "failed" from an
 * old ffmpeg can never knock down its successor.
 */
import type { Logger } from '../log.js';
import {
  SessionCore,
  type HistoryEvent,
  type MembershipEdge,
  type SessionAction,
  type SessionChannel,
  type SessionLimits,
  type SessionStatus,
} from './core.js';

export interface StartRequest {
  group: string;
  channel: SessionChannel;
  /** Interfaces with listeners, first joined first: the RTP goes out of ifaces[0]. */
  ifaces: string[];
  attempt: number;
}

export interface StreamHooks {
  /** The first RTP packet left. */
  live(): void;
  /** The stream could not start or died for good (supervisor gave up); the reason names what failed. */
  failed(error: string): void;
}

export interface RunningStream {
  /** Stops the stream; resolves once its processes are gone and its SAP deletion is sent. */
  stop(reason: string): Promise<void>;
  /** The interfaces with listeners changed while running. */
  retarget?(ifaces: string[]): void;
}

/** Starts channels of every kind (radio, DVB); the headend dispatches by channel kind. */
export interface StreamRunner {
  start(req: StartRequest, hooks: StreamHooks): RunningStream;
}

export interface HistoryEntry {
  group: string;
  channelId?: number | string;
  event: HistoryEvent;
  reason: string;
  listeners: number;
  error?: string;
}

export interface SessionDriverOptions {
  limits: SessionLimits;
  lookup: (group: string) => SessionChannel | undefined;
  runner: StreamRunner;
  history?: (entry: HistoryEntry) => void;
  logger: Logger;
  now?: () => number;
}

interface Current {
  stream: RunningStream;
  /** Resolves once the stop completed (set while stopping). */
  stopping?: Promise<void>;
}

export class SessionDriver {
  readonly core: SessionCore;
  private readonly now: () => number;
  private readonly streams = new Map<string, Current>();
  /** Group → the name of the channel last started on it (for log lines). */
  private readonly channelNames = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Figures for status: joins refused, starts, failures since the daemon started. */
  readonly counters = { joins: 0, leaves: 0, starts: 0, refused: 0, failed: 0, stops: 0 };

  constructor(private readonly opts: SessionDriverOptions) {
    this.core = new SessionCore(opts.limits, opts.lookup);
    this.now = opts.now ?? Date.now;
  }

  /** Feed one membership edge (LiveMembership's `active` / `idle`). */
  membership(ev: MembershipEdge): void {
    if (this.closed) return;
    if (ev.type === 'active') this.counters.joins++;
    else this.counters.leaves++;
    this.opts.logger.debug({ ...this.about(ev.group), iface: ev.iface, source: ev.source, listeners: ev.listeners }, `membership ${ev.type}`);
    this.apply(this.core.membership(ev, this.now()));
  }

  status(): SessionStatus[] {
    return this.core.status();
  }

  /** Stops every session and waits for their streams to be gone. Safe to call twice. */
  async close(reason = 'shutdown'): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      if (this.timer) clearTimeout(this.timer);
      this.apply(this.core.stopAll(this.now(), reason), true);
    }
    await Promise.all([...this.streams.values()].map((c) => c.stopping));
  }

  /**
   * What every log line about a group carries: the group and its channel's
   * name (kept past the session's end, so the stop line names it too; one
   * short string per channel that ever played).
   */
  private about(group: string): { group: string; channel?: string } {
    const channel = this.core.get(group)?.channel ?? this.channelNames.get(group);
    return channel !== undefined ? { group, channel } : { group };
  }

  private apply(actions: SessionAction[], closing = false): void {
    for (const a of actions) {
      try {
        this.perform(a);
      } catch (err) {
        this.opts.logger.error({ ...this.about(a.group), err }, `session action ${a.type} failed`);
      }
    }
    if (!closing) this.schedule();
  }

  private perform(a: SessionAction): void {
    const log = this.opts.logger;
    switch (a.type) {
      case 'history':
        if (a.event === 'refused') {
          this.counters.refused++;
          log.warn({ ...this.about(a.group), listeners: a.listeners }, `join refused: ${a.reason}`);
        } else if (a.event === 'fail') {
          this.counters.failed++;
          log.error({ ...this.about(a.group), error: a.error }, `session failed: ${a.reason}: ${a.error}`);
        } else {
          log.info({ ...this.about(a.group), listeners: a.listeners }, `session ${a.event}: ${a.reason}`);
        }
        try {
          this.opts.history?.({
            group: a.group, event: a.event, reason: a.reason, listeners: a.listeners,
            ...(a.channelId !== undefined ? { channelId: a.channelId } : {}),
            ...(a.error !== undefined ? { error: a.error } : {}),
          });
        } catch (err) {
          log.error({ ...this.about(a.group), err }, 'history write failed');
        }
        return;
      case 'start':
        return this.startStream(a);
      case 'stop':
        return this.stopStream(a.group, a.reason);
      case 'ifaces':
        this.streams.get(a.group)?.stream.retarget?.(a.ifaces);
        return;
    }
  }

  private startStream(a: Extract<SessionAction, { type: 'start' }>): void {
    this.channelNames.set(a.group, a.channel.name);
    this.counters.starts++;
    const group = a.group;
    let current: Current | undefined;
    const mine = () => this.streams.get(group) === current && current !== undefined && !current.stopping;
    // Hooks run on a later microtask so a runner that reports synchronously
    // (before start() returned) is still matched to its stream.
    const hooks: StreamHooks = {
      live: () => queueMicrotask(() => {
        if (mine()) this.apply(this.core.live(group, this.now()));
      }),
      failed: (error) => queueMicrotask(() => {
        if (!mine()) return;
        const failed = current!;
        this.streams.delete(group);
        // Whatever is left of the stream is torn down; the core already went idle.
        failed.stream.stop('failed').catch((err) => this.opts.logger.error({ ...this.about(group), err }, 'stop after failure'));
        this.apply(this.core.failed(group, error, this.now()));
      }),
    };
    let stream: RunningStream;
    try {
      stream = this.opts.runner.start({ group, channel: a.channel, ifaces: a.ifaces, attempt: a.attempt }, hooks);
    } catch (err) {
      this.apply(this.core.failed(group, (err as Error).message ?? String(err), this.now()));
      return;
    }
    current = { stream };
    this.streams.set(group, current);
  }

  private stopStream(group: string, reason: string): void {
    const current = this.streams.get(group);
    this.counters.stops++;
    if (!current) {
      // Nothing running (the start threw): the core is told at once.
      queueMicrotask(() => this.apply(this.core.stopped(group, this.now()), this.closed));
      return;
    }
    current.stopping = current.stream
      .stop(reason)
      .catch((err) => this.opts.logger.error({ ...this.about(group), err }, 'stream stop failed'))
      .then(() => {
        if (this.streams.get(group) === current) this.streams.delete(group);
        this.apply(this.core.stopped(group, this.now()), this.closed);
      });
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.closed) return;
    const next = this.core.nextDeadline();
    if (next === undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.apply(this.core.tick(this.now()));
    }, Math.max(0, next - this.now()));
  }
}
