/**
 * Prometheus metrics for the headend, read on scrape from the same live
 * status the API's `/status` shows, plus the session history (the event log)
 * for starts, stops, failures and refusals by reason.
 *
 *   const metrics = createMetrics({ status: () => live.status(), history: store.history });
 *   reply.type(metrics.contentType).send(await metrics.scrape());
 *
 * Nothing here holds a reference into the rooms: every figure comes through
 * the provider functions, so a scrape sees exactly what `/status` would, and
 * the metrics work with whatever the daemon passes the API.
 *
 * Label cardinality stays bounded on purpose (a join for any group is network
 * input): per-group series exist only for running sessions (at most
 * sessions.maxSessions, and never more than `maxGroups`); reasons come from a
 * fixed list (`classifyReason`); names taken from counters maps (message
 * kinds, rejection categories) are admitted up to `maxLabelValues` and the
 * rest are counted under "other".
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { HistoryEvent } from './sessions/core.js';

/** The session history as the store keeps it (`store.history`). */
export interface HistorySource {
  recent(limit?: number, group?: string): Array<{ id: number; event: string; reason?: string }>;
}

export interface MetricsSources {
  /** The live status: `/status`'s body or its `live` part (HeadendStatus). Called once per scrape. */
  status(): unknown;
  /** Session history; new rows since the last scrape feed the event counters. */
  history?: HistorySource;
}

export interface MetricsOptions {
  /** Most groups given their own series (default 64). */
  maxGroups?: number;
  /** Most distinct values admitted per open-ended label (default 32). */
  maxLabelValues?: number;
  /** Process metrics (CPU, memory, event loop, GC) from prom-client (default true). */
  processMetrics?: boolean;
  /** Metric name prefix (default "headend_"). */
  prefix?: string;
}

export interface HeadendMetrics {
  readonly registry: Registry;
  readonly contentType: string;
  /** Reads the providers and renders the Prometheus text format. */
  scrape(): Promise<string>;
  /** Counts one session event (also fed from `history` on scrape). */
  sessionEvent(entry: { event: string; reason?: string }): void;
}

const SESSION_STATES = ['idle', 'starting', 'live', 'stopping'] as const;
const TUNER_STATES = ['free', 'tuned', 'releasing'] as const;
const HISTORY_EVENTS: readonly HistoryEvent[] = ['start', 'live', 'stop', 'fail', 'refused'];
/** Rows read per scrape; more events than this between two scrapes are undercounted. */
const HISTORY_BATCH = 1000;

/**
 * A history reason in a fixed vocabulary: the core's reasons carry channel
 * names and numbers (sessions/core.ts), which must not become label values.
 */
export function classifyReason(event: string, reason = ''): string {
  const r = reason.toLowerCase();
  switch (event) {
    case 'start':
      return r.includes('retry') ? 'retry' : r.includes('during stop') ? 'rejoin' : r.startsWith('join') ? 'join' : 'other';
    case 'live':
      return 'first-rtp';
    case 'stop':
      return r.includes('last listener') ? 'last-leave'
        : r.startsWith('no listener for') ? 'linger-expired'
        : r.includes('shutdown') ? 'shutdown'
        : 'other';
    case 'fail':
      return r.includes('start failed') ? 'start-failed' : r.includes('died') ? 'stream-died' : 'other';
    case 'refused':
      return r.includes('no channel') ? 'no-channel'
        : r.includes('disabled') ? 'disabled'
        : r.includes('maxsessions') ? 'max-sessions'
        : r.includes('maxstartsperminute') ? 'max-starts'
        : 'unavailable';
    default:
      return 'other';
  }
}

// ---------------------------------------------------------------- reading the status defensively

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** `/status` nests the daemon's status under `live`; accept either. */
export function liveStatusOf(status: unknown): Obj {
  if (!isObj(status)) return {};
  return isObj(status.live) ? status.live : status;
}

/** RTCP figures of a session, wherever the daemon puts them (ChannelReception shape). */
function receptionOf(session: Obj): Obj | undefined {
  for (const v of [session.rtcp, session.reception, isObj(session.stream) ? session.stream.rtcp : undefined]) {
    if (isObj(v)) return v;
  }
  return undefined;
}

/** Admits up to `cap` distinct values, then answers "other". */
class BoundedLabels {
  private readonly seen = new Set<string>();
  constructor(private readonly cap: number) {}
  of(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.cap) return 'other';
    this.seen.add(value);
    return value;
  }
}

export function createMetrics(sources: MetricsSources, opts: MetricsOptions = {}): HeadendMetrics {
  const p = opts.prefix ?? 'headend_';
  const maxGroups = opts.maxGroups ?? 64;
  const maxLabelValues = opts.maxLabelValues ?? 32;
  const registry = new Registry();
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: p });

  const reg = { registers: [registry] };
  const sessions = new Gauge({ name: `${p}sessions`, help: 'Sessions by state', labelNames: ['state'], ...reg });
  const sessionEvents = new Counter({
    name: `${p}session_events_total`, help: 'Session starts, first RTP, stops, failures and refused joins, by reason', labelNames: ['event', 'reason'], ...reg,
  });
  const edges = new Counter({ name: `${p}membership_edges_total`, help: 'Membership edges fed to the sessions (active: a pair gained listeners or changed count; idle: lost its last)', labelNames: ['edge'], ...reg });
  const listeners = new Gauge({ name: `${p}listeners`, help: 'Listeners of a running session, all interfaces', labelNames: ['group'], ...reg });
  const listenerIfaces = new Gauge({ name: `${p}listener_interfaces`, help: 'Interfaces with listeners of a running session', labelNames: ['group'], ...reg });
  const rtcpReceivers = new Gauge({ name: `${p}rtcp_receivers`, help: 'Receivers seen by RTCP (RFC 3550 §6.4), per running channel', labelNames: ['group'], ...reg });
  const rtcpLoss = new Gauge({ name: `${p}rtcp_fraction_lost`, help: 'Mean fraction lost reported by the receivers, 0..1', labelNames: ['group'], ...reg });
  const rtcpCumLoss = new Gauge({ name: `${p}rtcp_cumulative_lost`, help: 'Largest cumulative packets lost among the receivers', labelNames: ['group'], ...reg });
  const rtcpJitter = new Gauge({ name: `${p}rtcp_jitter_seconds`, help: 'Worst interarrival jitter among the receivers', labelNames: ['group'], ...reg });
  const received = new Counter({ name: `${p}membership_messages_received_total`, help: 'IGMP/MLD messages received, by protocol, version and kind', labelNames: ['kind'], ...reg });
  const rejected = new Counter({ name: `${p}membership_messages_rejected_total`, help: 'IGMP/MLD messages dropped, by reason', labelNames: ['reason'], ...reg });
  const queries = new Counter({ name: `${p}membership_queries_sent_total`, help: 'Membership queries sent', ...reg });
  const limitRefusals = new Counter({ name: `${p}membership_limit_refusals_total`, help: 'Records or reports refused by the membership limits (maxGroups, maxSources, maxHosts)', ...reg });
  const childRestarts = new Counter({ name: `${p}child_restarts_total`, help: 'Restarts of supervised children (ffmpeg per stream, dvblast per carrier)', labelNames: ['kind'], ...reg });
  const tuners = new Gauge({ name: `${p}tuners`, help: 'DVB tuners by state', labelNames: ['state'], ...reg });
  const carriers = new Gauge({ name: `${p}dvb_carriers`, help: 'DVB carriers tuned, by lock state', labelNames: ['lock'], ...reg });
  const sapSent = new Counter({ name: `${p}sap_announcements_sent_total`, help: 'SAP packets sent (announcements and deletions)', ...reg });

  const receivedLabels = new BoundedLabels(maxLabelValues);
  const rejectedLabels = new BoundedLabels(maxLabelValues);
  const lockLabels = new BoundedLabels(8);
  // Restarts are summed from children's spawn counts, which vanish with their session.
  const spawnsSeen = new Map<string, number>();
  let lastHistoryId = 0;
  if (sources.history) {
    try {
      lastHistoryId = sources.history.recent(1)[0]?.id ?? 0;
    } catch { /* store closed or unreadable: count from the first scrape */ }
  }

  const sessionEvent = (entry: { event: string; reason?: string }): void => {
    const event = (HISTORY_EVENTS as readonly string[]).includes(entry.event) ? entry.event : 'other';
    sessionEvents.inc({ event, reason: classifyReason(event, entry.reason) });
  };

  /** Mirrors a cumulative figure the daemon keeps into a counter. */
  const mirror = (c: Counter<string>, value: unknown, labels?: Record<string, string>): void => {
    const v = num(value);
    if (v === undefined || v < 0) return;
    if (labels) c.inc(labels, v);
    else c.inc(v);
  };

  const countRestarts = (kind: string, key: string, spawnsOrRestarts: number, isSpawns: boolean): void => {
    const restarts = isSpawns ? Math.max(0, spawnsOrRestarts - 1) : spawnsOrRestarts;
    const k = `${kind}\0${key}`;
    const before = spawnsSeen.get(k) ?? 0;
    // Lower than before: a new child for the same key; its restarts all count.
    const delta = restarts >= before ? restarts - before : restarts;
    if (delta > 0) childRestarts.inc({ kind }, delta);
    spawnsSeen.set(k, restarts);
  };

  const readHistory = (): void => {
    if (!sources.history) return;
    let rows: Array<{ id: number; event: string; reason?: string }>;
    try {
      rows = sources.history.recent(HISTORY_BATCH);
    } catch {
      return;
    }
    const fresh = rows.filter((r) => r.id > lastHistoryId).sort((a, b) => a.id - b.id);
    for (const r of fresh) sessionEvent(r);
    if (fresh.length) lastHistoryId = fresh[fresh.length - 1]!.id;
  };

  const refresh = (): void => {
    readHistory();
    const status = sources.status();
    const live = liveStatusOf(status);

    for (const g of [sessions, listeners, listenerIfaces, rtcpReceivers, rtcpLoss, rtcpCumLoss, rtcpJitter, tuners, carriers]) g.reset();
    for (const c of [edges, received, rejected, queries, limitRefusals, sapSent]) c.reset();

    for (const state of SESSION_STATES) sessions.set({ state }, 0);
    let labelled = 0;
    const liveKeys = new Set<string>();
    for (const raw of arr(live.sessions)) {
      if (!isObj(raw)) continue;
      const state = typeof raw.state === 'string' && (SESSION_STATES as readonly string[]).includes(raw.state) ? raw.state : 'idle';
      sessions.inc({ state });
      const group = typeof raw.group === 'string' ? raw.group : undefined;
      if (!group) continue;
      if (isObj(raw.stream) && num(raw.stream.spawns) !== undefined) {
        countRestarts('ffmpeg', group, raw.stream.spawns as number, true);
        liveKeys.add(`ffmpeg\0${group}`);
      }
      if (state === 'idle' || labelled >= maxGroups) continue;
      labelled++;
      listeners.set({ group }, num(raw.listeners) ?? 0);
      listenerIfaces.set({ group }, arr(raw.ifaces).length);
      const rx = receptionOf(raw);
      if (rx) {
        rtcpReceivers.set({ group }, num(rx.receivers) ?? 0);
        if (num(rx.fractionLost) !== undefined) rtcpLoss.set({ group }, rx.fractionLost as number);
        if (num(rx.cumulativeLost) !== undefined) rtcpCumLoss.set({ group }, rx.cumulativeLost as number);
        if (num(rx.jitterMs) !== undefined) rtcpJitter.set({ group }, (rx.jitterMs as number) / 1000);
      }
    }

    if (isObj(live.counters)) {
      mirror(edges, live.counters.joins, { edge: 'active' });
      mirror(edges, live.counters.leaves, { edge: 'idle' });
    }

    const membership = isObj(live.membership) ? live.membership : undefined;
    const engine = membership && isObj(membership.engine) ? membership.engine : membership;
    if (engine) {
      if (isObj(engine.received)) for (const [k, v] of Object.entries(engine.received)) mirror(received, v, { kind: receivedLabels.of(k) });
      if (isObj(engine.rejected)) for (const [k, v] of Object.entries(engine.rejected)) mirror(rejected, v, { reason: rejectedLabels.of(k) });
      // The engine counts query items it emitted; the edge counts datagrams it sent. Prefer what left.
      const edge = membership && isObj(membership.live) ? membership.live : undefined;
      mirror(queries, edge?.queriesSent ?? engine.queriesSent);
      mirror(limitRefusals, engine.limitRefusals);
    }

    if (isObj(live.announcer)) mirror(sapSent, live.announcer.sent);

    // The tuner pool's status: `dvb` next to `live`, or inside it.
    const dvb = isObj(live.dvb) ? live.dvb : isObj(status) && isObj(status.dvb) ? status.dvb : undefined;
    if (dvb) {
      for (const state of TUNER_STATES) tuners.set({ state }, 0);
      for (const t of arr(dvb.tuners)) {
        if (!isObj(t) || typeof t.state !== 'string' || !(TUNER_STATES as readonly string[]).includes(t.state)) continue;
        tuners.inc({ state: t.state });
      }
      for (const c of arr(dvb.carriers)) {
        if (!isObj(c)) continue;
        carriers.inc({ lock: lockLabels.of(typeof c.lock === 'string' ? c.lock : 'unknown') });
        if (typeof c.carrier === 'string' && num(c.restarts) !== undefined) {
          countRestarts('dvblast', c.carrier, c.restarts as number, false);
          liveKeys.add(`dvblast\0${c.carrier}`);
        }
      }
    }
    // Forget children that are gone, so the map stays as small as what runs.
    for (const k of spawnsSeen.keys()) if (!liveKeys.has(k)) spawnsSeen.delete(k);
  };

  return {
    registry,
    contentType: registry.contentType,
    sessionEvent,
    async scrape() {
      refresh();
      return registry.metrics();
    },
  };
}
