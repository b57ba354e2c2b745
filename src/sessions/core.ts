/**
 * The per-group session lifecycle, pure: membership events and stream
 * outcomes in, intended actions out, time from the caller. No timers, no
 * processes, no store: the driver (driver.ts) owns those and obeys.
 *
 *   idle ──join──▶ starting ──first RTP──▶ live ──last leave + linger──▶ stopping ──stopped──▶ idle
 *                     │                                                     ▲
 *                     └──start failed──▶ idle (reason kept; retried with backoff while listeners remain,
 *                                              and at once on the next join)
 *
 * A group is wanted while any (interface, source) pair has listeners: SSM
 * joins for several sources and joins on several interfaces all aggregate
 * into one session per group. The interfaces with listeners decide where the
 * RTP goes (the driver picks the egress address from them).
 *
 * Limits (maxSessions concurrent, maxStartsPerMinute) refuse a join outright:
 * the refusal is an action (logged, put in history) and stays in status; it is
 * never queued. A group with no channel, or a disabled one, is refused the
 * same way.
 */

export type SessionState = 'idle' | 'starting' | 'live' | 'stopping';

export type HistoryEvent = 'start' | 'live' | 'stop' | 'fail' | 'refused';

/** What the lifecycle needs to know about the channel mapped to a group. */
export interface SessionChannel {
  id?: number | string;
  name: string;
  enabled: boolean;
  /** Why this channel cannot be started at all (e.g. "DVB channels are refused: pool not wired"). */
  unavailable?: string;
}

export interface SessionLimits {
  /** Keep a stream up this long after its last listener left; 0 = stop at once. */
  lingerMs: number;
  maxSessions: number;
  maxStartsPerMinute: number;
  /** First retry delay after a failed start while listeners remain; doubles up to retryBackoffMaxMs. */
  retryBackoffMs: number;
  retryBackoffMaxMs: number;
}

/** One membership edge event, as LiveMembership emits it (addresses as text). */
export interface MembershipEdge {
  type: 'active' | 'idle';
  iface: string;
  group: string;
  /** Source address text, or '*' for any-source. */
  source: string;
  /** Listeners on that (iface, group, source) after the event, when known. */
  listeners?: number;
}

export type SessionAction =
  | { type: 'start'; group: string; channel: SessionChannel; ifaces: string[]; attempt: number }
  | { type: 'stop'; group: string; reason: string }
  /** The set of interfaces with listeners changed while the stream runs. */
  | { type: 'ifaces'; group: string; ifaces: string[] }
  | {
      type: 'history';
      group: string;
      event: HistoryEvent;
      reason: string;
      listeners: number;
      channelId?: number | string;
      error?: string;
    };

export interface SessionStatus {
  group: string;
  state: SessionState;
  channel?: string;
  listeners: number;
  /** Interfaces with listeners, in the order they joined. */
  ifaces: string[];
  since: number;
  startedAt?: number;
  liveAt?: number;
  /** Set while the last listener is gone and the stream lingers. */
  lingerUntil?: number;
  /** Set while a failed start waits to be retried. */
  retryAt?: number;
  attempts: number;
  /** Why the last start failed or the stream died, until the next success. */
  lastError?: string;
  /** Why the last join was refused, until the next start. */
  refused?: string;
  starts: number;
  failures: number;
  refusals: number;
}

interface Session {
  group: string;
  state: SessionState;
  since: number;
  /** `${iface}\0${source}` → listeners on that pair (≥ 1 while present). */
  pairs: Map<string, number>;
  channel?: SessionChannel;
  startedAt?: number;
  liveAt?: number;
  lingerUntil?: number;
  retryAt?: number;
  /** Failed attempts in a row; resets on live. */
  attempts: number;
  lastError?: string;
  refused?: string;
  /** Listeners came back while stopping: start again once stopped. */
  restartAfterStop: boolean;
  starts: number;
  failures: number;
  refusals: number;
  lastIfaces: string[];
}

const MINUTE_MS = 60_000;

export class SessionCore {
  private readonly sessions = new Map<string, Session>();
  /** Start times within the last minute, oldest first (the maxStartsPerMinute window). */
  private startTimes: number[] = [];

  constructor(
    private readonly limits: SessionLimits,
    /** The channel mapped to a group, or undefined. Called on every start. */
    private readonly lookup: (group: string) => SessionChannel | undefined,
  ) {}

  /** A membership edge: the first listener of a pair came, or the last one left. */
  membership(ev: MembershipEdge, now: number): SessionAction[] {
    const s = this.session(ev.group, now);
    const key = `${ev.iface}\0${ev.source}`;
    const wasWanted = s.pairs.size > 0;
    const before = s.pairs.get(key) ?? 0;
    // A join is a new (iface, source) pair or more listeners on one; a repeated
    // report with the same count is not a join and must not re-trigger a refused start.
    const count = Math.max(1, ev.listeners ?? before);
    const joined = ev.type === 'active' && count > before;
    if (ev.type === 'active') s.pairs.set(key, count);
    else s.pairs.delete(key);
    const wanted = s.pairs.size > 0;
    const out: SessionAction[] = [];

    if (wanted) {
      s.lingerUntil = undefined;
      switch (s.state) {
        case 'idle':
          // A fresh join (or another listener after a failure or refusal) tries at once.
          if (joined) {
            s.retryAt = undefined;
            this.tryStart(s, now, out, wasWanted ? 'join (retry)' : 'join');
          }
          break;
        case 'stopping':
          s.restartAfterStop = true;
          break;
        case 'starting':
        case 'live':
          this.ifacesChanged(s, out);
          break;
      }
    } else if (wasWanted) {
      s.retryAt = undefined;
      if (s.state === 'starting' || s.state === 'live') {
        if (this.limits.lingerMs === 0) this.stop(s, now, out, 'last listener left');
        else s.lingerUntil = now + this.limits.lingerMs;
      } else if (s.state === 'stopping') {
        s.restartAfterStop = false;
      }
    }
    this.forgetIfDone(s);
    return out;
  }

  /** The stream's first RTP packet left: the session is live. */
  live(group: string, now: number): SessionAction[] {
    const s = this.sessions.get(group);
    if (!s || s.state !== 'starting') return [];
    s.state = 'live';
    s.since = now;
    s.liveAt = now;
    s.attempts = 0;
    s.lastError = undefined;
    return [this.history(s, 'live', `first RTP after ${now - (s.startedAt ?? now)} ms`)];
  }

  /**
   * The stream could not start, or died for good (the supervisor gave up).
   * The session returns to idle with the reason; while listeners remain a
   * retry is scheduled with backoff.
   */
  failed(group: string, error: string, now: number): SessionAction[] {
    const s = this.sessions.get(group);
    if (!s || (s.state !== 'starting' && s.state !== 'live')) return [];
    const out: SessionAction[] = [];
    s.failures++;
    s.attempts++;
    s.lastError = error;
    out.push(this.history(s, 'fail', s.state === 'starting' ? 'start failed' : 'stream died', error));
    this.toIdle(s, now);
    if (s.pairs.size > 0 && s.lingerUntil === undefined) {
      const delay = Math.min(this.limits.retryBackoffMaxMs, this.limits.retryBackoffMs * 2 ** (s.attempts - 1));
      s.retryAt = now + delay;
    }
    s.lingerUntil = undefined;
    this.forgetIfDone(s);
    return out;
  }

  /** The stream the driver was stopping is gone. */
  stopped(group: string, now: number): SessionAction[] {
    const s = this.sessions.get(group);
    if (!s || s.state !== 'stopping') return [];
    const out: SessionAction[] = [];
    this.toIdle(s, now);
    if (s.restartAfterStop && s.pairs.size > 0) {
      s.restartAfterStop = false;
      this.tryStart(s, now, out, 'join during stop');
    }
    this.forgetIfDone(s);
    return out;
  }

  /** Fires what is due at `now`: linger expiries and retries. */
  tick(now: number): SessionAction[] {
    const out: SessionAction[] = [];
    for (const s of [...this.sessions.values()]) {
      if (s.lingerUntil !== undefined && now >= s.lingerUntil && (s.state === 'starting' || s.state === 'live')) {
        s.lingerUntil = undefined;
        this.stop(s, now, out, `no listener for ${this.limits.lingerMs} ms`);
      }
      if (s.retryAt !== undefined && now >= s.retryAt && s.state === 'idle') {
        s.retryAt = undefined;
        if (s.pairs.size > 0) this.tryStart(s, now, out, 'retry');
      }
      this.forgetIfDone(s);
    }
    return out;
  }

  /** The earliest time tick() has something to do, if any. */
  nextDeadline(): number | undefined {
    let next: number | undefined;
    for (const s of this.sessions.values()) {
      for (const t of [s.lingerUntil, s.retryAt]) {
        if (t !== undefined && (next === undefined || t < next)) next = t;
      }
    }
    return next;
  }

  status(): SessionStatus[] {
    return [...this.sessions.values()].map((s) => ({
      group: s.group,
      state: s.state,
      channel: s.channel?.name,
      listeners: listenersOf(s),
      ifaces: ifacesOf(s),
      since: s.since,
      startedAt: s.startedAt,
      liveAt: s.liveAt,
      lingerUntil: s.lingerUntil,
      retryAt: s.retryAt,
      attempts: s.attempts,
      lastError: s.lastError,
      refused: s.refused,
      starts: s.starts,
      failures: s.failures,
      refusals: s.refusals,
    }));
  }

  get(group: string): SessionStatus | undefined {
    return this.status().find((s) => s.group === group);
  }

  /** Sessions holding resources (anything but idle). */
  running(): number {
    let n = 0;
    for (const s of this.sessions.values()) if (s.state !== 'idle') n++;
    return n;
  }

  /** Stops every running session (shutdown). */
  stopAll(now: number, reason: string): SessionAction[] {
    const out: SessionAction[] = [];
    for (const s of this.sessions.values()) {
      s.retryAt = undefined;
      s.restartAfterStop = false;
      if (s.state === 'starting' || s.state === 'live') this.stop(s, now, out, reason);
    }
    return out;
  }

  private session(group: string, now: number): Session {
    let s = this.sessions.get(group);
    if (!s) {
      s = {
        group, state: 'idle', since: now, pairs: new Map(), attempts: 0, restartAfterStop: false,
        starts: 0, failures: 0, refusals: 0, lastIfaces: [],
      };
      this.sessions.set(group, s);
    }
    return s;
  }

  private tryStart(s: Session, now: number, out: SessionAction[], why: string): void {
    const channel = this.lookup(s.group);
    const refusal =
      !channel ? 'no channel mapped to this group'
      : !channel.enabled ? `channel "${channel.name}" is disabled`
      : channel.unavailable ? channel.unavailable
      : this.running() >= this.limits.maxSessions ? `limit: ${this.limits.maxSessions} sessions already running (sessions.maxSessions)`
      : this.startsInLastMinute(now) >= this.limits.maxStartsPerMinute ? `limit: ${this.limits.maxStartsPerMinute} starts in the last minute (sessions.maxStartsPerMinute)`
      : undefined;
    if (refusal) {
      s.channel = channel;
      s.refused = refusal;
      s.refusals++;
      out.push(this.history(s, 'refused', refusal));
      return;
    }
    s.channel = channel!;
    s.refused = undefined;
    s.state = 'starting';
    s.since = now;
    s.startedAt = now;
    s.liveAt = undefined;
    s.starts++;
    this.startTimes.push(now);
    s.lastIfaces = ifacesOf(s);
    out.push(this.history(s, 'start', why));
    out.push({ type: 'start', group: s.group, channel: channel!, ifaces: s.lastIfaces, attempt: s.attempts + 1 });
  }

  private stop(s: Session, now: number, out: SessionAction[], reason: string): void {
    s.state = 'stopping';
    s.since = now;
    s.lingerUntil = undefined;
    out.push({ type: 'stop', group: s.group, reason });
    out.push(this.history(s, 'stop', reason));
  }

  private toIdle(s: Session, now: number): void {
    s.state = 'idle';
    s.since = now;
    s.lingerUntil = undefined;
  }

  private ifacesChanged(s: Session, out: SessionAction[]): void {
    const now = ifacesOf(s);
    const same = now.length === s.lastIfaces.length && now.every((i) => s.lastIfaces.includes(i));
    if (!same) {
      s.lastIfaces = now;
      out.push({ type: 'ifaces', group: s.group, ifaces: now });
    }
  }

  private startsInLastMinute(now: number): number {
    while (this.startTimes.length > 0 && this.startTimes[0]! <= now - MINUTE_MS) this.startTimes.shift();
    return this.startTimes.length;
  }

  /** An idle session with no listener and nothing to report is dropped; one with a reason stays visible. */
  private forgetIfDone(s: Session): void {
    if (s.state === 'idle' && s.pairs.size === 0 && s.lastError === undefined && s.refused === undefined) {
      this.sessions.delete(s.group);
    }
  }

  private history(s: Session, event: HistoryEvent, reason: string, error?: string): SessionAction {
    return {
      type: 'history', group: s.group, event, reason, listeners: listenersOf(s),
      ...(s.channel?.id !== undefined ? { channelId: s.channel.id } : {}),
      ...(error !== undefined ? { error } : {}),
    };
  }
}

function ifacesOf(s: Session): string[] {
  const seen: string[] = [];
  for (const key of s.pairs.keys()) {
    const iface = key.slice(0, key.indexOf('\0'));
    if (!seen.includes(iface)) seen.push(iface);
  }
  return seen;
}

/**
 * Listeners per interface are the most any one source has there (a host
 * joining (S1,G) and (S2,G) is one listener), summed over interfaces.
 */
function listenersOf(s: Session): number {
  const perIface = new Map<string, number>();
  for (const [key, n] of s.pairs) {
    const iface = key.slice(0, key.indexOf('\0'));
    perIface.set(iface, Math.max(perIface.get(iface) ?? 0, n));
  }
  let total = 0;
  for (const n of perIface.values()) total += n;
  return total;
}
