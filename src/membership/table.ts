/**
 * Router-side state of one group on one interface, and the RFC 9776 §6.4 /
 * RFC 9777 §7.4 state table applied to it. Pure: `now` is passed in, timers
 * are absolute deadlines in ms, queries go out as EngineOutput items.
 *
 *   INCLUDE(A):   forward the sources in A while their timers run.
 *   EXCLUDE(X,Y): forward all but Y; X = sources with running timers,
 *                 Y = blocked sources, kept here with timer 0.
 *
 * Per-host tracking (hosts.ts) and the active/idle bookkeeping live on the
 * same object, so one group is one map lookup on the hot path.
 */
import type { AddrKey } from './addr.js';
import type { DeadlineOwner } from './deadlines.js';
import type { IdTable } from './idtable.js';
import type { QuerierState } from './querier.js';
import { RecordType, type EngineOutput } from './types.js';

export const INCLUDE = 0;
export const EXCLUDE = 1;
export type FilterMode = typeof INCLUDE | typeof EXCLUDE;

export class GroupState implements DeadlineOwner {
  wakeAt = 0;
  alive = true;
  readonly kind = 'group' as const;

  mode: FilterMode = INCLUDE;
  /** Meaningful in EXCLUDE only (RFC 9776 §6.2.2). */
  groupTimer = 0;
  /** Source -> deadline; 0 = blocked (EXCLUDE's Y set). */
  readonly sources = new Map<AddrKey, number>();

  // RFC 9776 §6.6.3 retransmissions still owed.
  groupQueriesLeft = 0;
  sourceQueriesLeft: Map<AddrKey, number> | null = null;
  queryTickAt = 0;
  /** What went out at `lastSentAt`: nothing is sent twice in the same ms. */
  lastSentAt = -1;
  lastSentGroup = false;
  lastSentSources: AddrKey[] = [];

  // RFC 9776 §7.3.2 / RFC 9777 §8.3.2: Older Version Host Present timers.
  /** IGMPv1 host heard (its mode ignores leaves). */
  v1HostUntil = 0;
  /** IGMPv2 or MLDv1 host heard. */
  olderHostUntil = 0;
  /**
   * The one "untracked" listener that stands for all v1/v2/MLDv1 hosts (they
   * suppress each other's reports, so they cannot be counted) and for reports
   * from 0.0.0.0 / ::, which several hosts may share (RFC 9776 §4.2.13).
   */
  untrackedUntil = 0;

  // Tracked IGMPv3 / MLDv2 hosts by registry id (layout in hosts.ts).
  /** EXCLUDE-mode hosts: id -> deadline. */
  excl: IdTable | null = null;
  /** The sources an EXCLUDE-mode host excludes, for the few that exclude any. */
  exclLists: Map<number, AddrKey[]> | null = null;
  /** INCLUDE-mode hosts: source -> (id -> deadline). */
  incl: Map<AddrKey, IdTable> | null = null;
  /** Distinct tracked hosts. */
  hostCount = 0;
  /** No membership deadline is earlier than this (0 = none); exact after each expiry scan. */
  hostsDue = 0;

  /** Sources (or '*') announced active and not yet idle. */
  announced: string[] = [];
  /** Something that may change the listened set changed since the last recompute. */
  dirty = false;

  constructor(
    readonly iface: string,
    readonly group: AddrKey,
    /** RFC 4604 source-specific group: never EXCLUDE. */
    readonly ssm: boolean,
    /** The interface's querier for this family: timers, query sending. */
    readonly querier: QuerierState,
  ) {}

  /** Compatibility version for this group now (RFC 9776 §7.3.2, RFC 9777 §8.3.2). */
  compatVersion(now: number): number {
    if (this.querier.proto === 'igmp') {
      if (this.v1HostUntil > now) return 1;
      if (this.olderHostUntil > now) return 2;
      return 3;
    }
    return this.olderHostUntil > now ? 1 : 2;
  }

  /** Earliest deadline this group has, or 0. */
  nextWake(): number {
    let min = this.mode === EXCLUDE ? this.groupTimer : 0;
    for (const t of this.sources.values()) if (t !== 0 && (min === 0 || t < min)) min = t;
    for (const t of [this.queryTickAt, this.v1HostUntil, this.olderHostUntil, this.untrackedUntil, this.hostsDue]) {
      if (t !== 0 && (min === 0 || t < min)) min = t;
    }
    return min;
  }

  /** Nothing left to keep: INCLUDE({}) with no hosts or timers of interest. */
  get empty(): boolean {
    return this.mode === INCLUDE && this.sources.size === 0;
  }
}

/**
 * The "Send Q(G)" and "Send Q(G,X)" actions a record asked for. The querier
 * acts on them (RFC 9776 §6.6.3); a non-querier does not, and lowers its
 * timers only when it hears the querier's query (§6.6.1).
 */
export interface QueryActions {
  group: boolean;
  sources: AddrKey[];
}

/**
 * Applies one group record to the router state: every row of RFC 9776 §6.4.1
 * (router in INCLUDE) and §6.4.2 (router in EXCLUDE); RFC 9777 §7.4 is the
 * same table. `type` is already translated for compatibility mode. Marks the
 * group dirty when the source set or mode may have changed.
 */
export function applyRecord(
  g: GroupState,
  type: RecordType,
  list: readonly AddrKey[],
  now: number,
  gmi: number,
  q: QueryActions,
): void {
  const sources = g.sources;
  if (g.mode === INCLUDE) {
    switch (type) {
      case RecordType.MODE_IS_INCLUDE:
      case RecordType.ALLOW_NEW_SOURCES:
        // INC(A) + IS_IN(B) / ALLOW(B) -> INC(A+B); (B)=GMI
        setAll(g, list, now + gmi);
        return;
      case RecordType.CHANGE_TO_INCLUDE_MODE: {
        // INC(A) + TO_IN(B) -> INC(A+B); (B)=GMI; Send Q(G,A-B)
        for (const a of sources.keys()) if (!list.includes(a)) q.sources.push(a);
        setAll(g, list, now + gmi);
        return;
      }
      case RecordType.BLOCK_OLD_SOURCES:
        // INC(A) + BLOCK(B) -> INC(A); Send Q(G,A*B)
        for (const b of list) if (sources.has(b) && !q.sources.includes(b)) q.sources.push(b);
        return;
      case RecordType.MODE_IS_EXCLUDE:
      case RecordType.CHANGE_TO_EXCLUDE_MODE: {
        // INC(A) + IS_EX(B) -> EXC(A*B, B-A); (B-A)=0; Delete (A-B); GT=GMI
        // INC(A) + TO_EX(B) -> the same, and Send Q(G,A*B)
        for (const a of sources.keys()) if (!list.includes(a)) sources.delete(a);
        for (const b of list) {
          if (sources.has(b)) {
            if (type === RecordType.CHANGE_TO_EXCLUDE_MODE && !q.sources.includes(b)) q.sources.push(b);
          } else {
            sources.set(b, 0);
          }
        }
        g.mode = EXCLUDE;
        g.groupTimer = now + gmi;
        g.dirty = true;
        return;
      }
    }
    return;
  }
  // Router in EXCLUDE(X,Y).
  switch (type) {
    case RecordType.MODE_IS_INCLUDE:
    case RecordType.ALLOW_NEW_SOURCES:
      // EXC(X,Y) + IS_IN(A) / ALLOW(A) -> EXC(X+A, Y-A); (A)=GMI
      setAll(g, list, now + gmi);
      return;
    case RecordType.CHANGE_TO_INCLUDE_MODE:
      // EXC(X,Y) + TO_IN(A) -> EXC(X+A, Y-A); (A)=GMI; Send Q(G,X-A); Send Q(G)
      for (const [x, t] of sources) if (t !== 0 && !list.includes(x)) q.sources.push(x);
      setAll(g, list, now + gmi);
      q.group = true;
      return;
    case RecordType.BLOCK_OLD_SOURCES:
      // EXC(X,Y) + BLOCK(A) -> EXC(X+(A-Y), Y); (A-X-Y)=GT; Send Q(G,A-Y)
      for (const a of list) {
        const t = sources.get(a);
        if (t === 0) continue;
        if (t === undefined) {
          sources.set(a, g.groupTimer);
          g.dirty = true;
        }
        if (!q.sources.includes(a)) q.sources.push(a);
      }
      return;
    case RecordType.MODE_IS_EXCLUDE:
    case RecordType.CHANGE_TO_EXCLUDE_MODE: {
      // EXC(X,Y) + IS_EX(A) -> EXC(A-Y, Y*A); (A-X-Y)=GMI; Delete (X-A),(Y-A); GT=GMI
      // EXC(X,Y) + TO_EX(A) -> EXC(A-Y, Y*A); (A-X-Y)=GT; Delete (X-A),(Y-A);
      //                        Send Q(G,A-Y); GT=GMI
      const toEx = type === RecordType.CHANGE_TO_EXCLUDE_MODE;
      const fresh = toEx ? g.groupTimer : now + gmi; // GT before it is reset below
      for (const x of sources.keys()) if (!list.includes(x)) sources.delete(x);
      for (const a of list) {
        const t = sources.get(a);
        if (t === undefined) sources.set(a, fresh);
        if (toEx && t !== 0 && !q.sources.includes(a)) q.sources.push(a);
      }
      g.groupTimer = now + gmi;
      return;
    }
  }
}

function setAll(g: GroupState, list: readonly AddrKey[], deadline: number): void {
  const sources = g.sources;
  // What is announced changes only when INCLUDE gains a source (in EXCLUDE
  // the group is '*' whatever X and Y hold), which the size shows: one map
  // operation per source on the hottest path.
  const before = sources.size;
  for (let i = 0; i < list.length; i++) sources.set(list[i], deadline);
  if (sources.size !== before) g.dirty = true;
}

/**
 * The querier's side of "Send Q(G)" / "Send Q(G,X)" (RFC 9776 §6.6.3.1,
 * §6.6.3.2): lower the group timer / the listed source timers to LMQT, owe
 * [LMQC] transmissions of each, and send the first one now.
 */
export function startQueries(g: GroupState, q: QueryActions, now: number, out: EngineOutput[]): void {
  const t = g.querier.timers;
  const lmqt = now + t.lastMemberQueryTimeMs;
  if (q.group && g.mode === EXCLUDE) {
    if (g.groupTimer > lmqt) g.groupTimer = lmqt;
    // The untracked listener is what a v2 host's Leave asked about: it lasts
    // exactly as long as the group timer would without an answer.
    if (g.untrackedUntil > lmqt) g.untrackedUntil = lmqt;
    g.groupQueriesLeft = t.lastMemberQueryCount;
  }
  if (q.sources.length > 0) {
    const left = (g.sourceQueriesLeft ??= new Map());
    for (const s of q.sources) {
      const timer = g.sources.get(s);
      if (timer === undefined || timer === 0) continue;
      if (timer > lmqt) g.sources.set(s, lmqt);
      left.set(s, t.lastMemberQueryCount);
    }
  }
  transmitQueries(g, now, out);
}

/**
 * Sends what is owed now and schedules the next transmission LMQI later.
 * The S flag ("suppress router-side processing") is set where the timer is
 * still above LMQT, i.e. a report refreshed it since the query began
 * (RFC 9776 §6.6.3.1, §6.6.3.2): two messages when sources differ.
 */
export function transmitQueries(g: GroupState, now: number, out: EngineOutput[]): void {
  const querier = g.querier;
  const t = querier.timers;
  g.queryTickAt = 0;
  if (!querier.isQuerier) {
    // Lost the election meanwhile: the new querier does the asking.
    g.groupQueriesLeft = 0;
    g.sourceQueriesLeft = null;
    return;
  }
  const lmqtFromNow = now + t.lastMemberQueryTimeMs;
  const compat = g.compatVersion(now);
  // A second action in the same ms (a retransmission fired, then a new
  // record asked again) must not repeat what just went out: what was sent
  // this ms counts as one of the [LMQC] transmissions.
  const again = g.lastSentAt === now;
  if (!again) {
    g.lastSentAt = now;
    g.lastSentGroup = false;
    if (g.lastSentSources.length > 0) g.lastSentSources.length = 0;
  }
  if (g.groupQueriesLeft > 0 && again && g.lastSentGroup) {
    g.groupQueriesLeft--;
  } else if (g.groupQueriesLeft > 0) {
    if (g.mode === EXCLUDE) {
      // There is no IGMPv1 group-specific query; a v2 one reaches v1 hosts as a query.
      const version = compat === 1 && querier.proto === 'igmp' ? 2 : compat;
      out.push(querier.query(g.group, [], g.groupTimer > lmqtFromNow, t.lastMemberQueryIntervalMs, version));
      g.groupQueriesLeft--;
      g.lastSentGroup = true;
    } else {
      g.groupQueriesLeft = 0;
    }
  }
  const left = g.sourceQueriesLeft;
  if (left !== null) {
    // Allocated only when used: each goes out in its query.
    let above: AddrKey[] | null = null;
    let below: AddrKey[] | null = null;
    for (const [s, n] of left) {
      const timer = g.sources.get(s);
      if (timer === undefined || timer === 0) {
        left.delete(s);
        continue;
      }
      if (!(again && g.lastSentSources.includes(s))) {
        if (timer > lmqtFromNow) (above ??= []).push(s);
        else (below ??= []).push(s);
        g.lastSentSources.push(s);
      }
      if (n <= 1) left.delete(s);
      else left.set(s, n - 1);
    }
    // Source lists need v3 / MLDv2; older hosts read these as group queries.
    const version = querier.version;
    if (above !== null) out.push(querier.query(g.group, above, true, t.lastMemberQueryIntervalMs, version));
    if (below !== null) out.push(querier.query(g.group, below, false, t.lastMemberQueryIntervalMs, version));
    if (left.size === 0) g.sourceQueriesLeft = null;
  }
  if (g.groupQueriesLeft > 0 || g.sourceQueriesLeft !== null) g.queryTickAt = now + t.lastMemberQueryIntervalMs;
}

/**
 * A query heard from the querier with the S flag clear (RFC 9776 §6.6.1):
 * lower the group timer (group-specific) or the listed source timers
 * (group-and-source-specific) to LMQT.
 */
export function lowerForQuery(g: GroupState, sources: readonly AddrKey[], now: number): void {
  const lmqt = now + g.querier.timers.lastMemberQueryTimeMs;
  if (sources.length === 0) {
    if (g.mode === EXCLUDE && g.groupTimer > lmqt) g.groupTimer = lmqt;
    if (g.untrackedUntil > lmqt) g.untrackedUntil = lmqt;
    return;
  }
  for (const s of sources) {
    const timer = g.sources.get(s);
    if (timer !== undefined && timer > lmqt) g.sources.set(s, lmqt);
  }
}

/**
 * Router-state timers due at `now` (RFC 9776 §6.3, §6.5): an expired source
 * in INCLUDE is deleted, in EXCLUDE it becomes blocked; an expired group
 * timer in EXCLUDE turns the group to INCLUDE with the sources still running
 * (blocked ones deleted). Older-host timers just stop.
 */
export function expireRouterTimers(g: GroupState, now: number): void {
  for (const [s, t] of g.sources) {
    if (t === 0 || t > now) continue;
    if (g.mode === INCLUDE) g.sources.delete(s);
    else g.sources.set(s, 0);
    g.dirty = true;
  }
  if (g.mode === EXCLUDE && g.groupTimer <= now) {
    for (const [s, t] of g.sources) if (t === 0) g.sources.delete(s);
    g.mode = INCLUDE;
    g.groupTimer = 0;
    g.groupQueriesLeft = 0;
    g.dirty = true;
  }
  if (g.v1HostUntil !== 0 && g.v1HostUntil <= now) g.v1HostUntil = 0;
  if (g.olderHostUntil !== 0 && g.olderHostUntil <= now) g.olderHostUntil = 0;
  if (g.untrackedUntil !== 0 && g.untrackedUntil <= now) {
    g.untrackedUntil = 0;
    g.dirty = true;
  }
}
