/**
 * The membership engine: router-side IGMPv3/MLDv2 state for every interface,
 * per-host tracking, the querier, limits and policy, behind one small API.
 *
 * Pure. The caller passes `now` (ms, any monotonic origin, never going back)
 * and gets EngineOutput items back: `active` / `idle` per (interface, group,
 * source), `query` items to encode and send, `rejected` items for dropped
 * input. No sockets, no timers, no clock of its own. A live loop does:
 *
 *   engine.addInterface('lan0', { ipv4, ipv6 }, now)   // startup queries
 *   on packet:  handle(engine.receive(now, pkt))
 *   on timer:   handle(engine.advance(now))
 *   after both: arm ONE timer for engine.nextDeadline()
 *
 * `simulate` drives the same engine from a trace with a replayed clock.
 *
 * What `active` means. Per (interface, group, source):
 * - a group in INCLUDE mode (always so for SSM groups, RFC 4604) announces
 *   each source it forwards: `active` when a source gains its first
 *   listener, `idle` when it loses its last;
 * - a group in EXCLUDE mode (an any-source join, RFC 9776 §6.2.2) announces
 *   the one source '*' for as long as it stays in EXCLUDE, whatever sources
 *   are blocked: the headend sends each group from one source of its own, and
 *   a host blocking some other source still wants the group.
 * On a mode change the new entries are announced before the old ones go
 * idle, so a consumer counting per group never sees the group empty.
 * With `immediateLeave`, an entry is listened to only while a tracked host
 * still wants it or the untracked (older-version) listener is present; so
 * the last tracked host leaving makes it idle at once, while the RFC query
 * and timers still run their course (a host we missed can still answer).
 * A v2 Leave / MLDv1 Done never does that: v2 hosts suppress each other's
 * reports, so the untracked listener waits LMQT for an answer like the RFC.
 *
 * For the live edge:
 * - pass our own query source addresses to addInterface (IPv4 of the
 *   interface, IPv6 link-local); a family without one never queries, and
 *   our own queries heard back are ignored (counted in stats().ignored);
 * - while another router is querier we send nothing, not even the
 *   group-specific queries a leave calls for: its queries lower our timers
 *   (RFC 9776 §6.6.1);
 * - receive() verifies the MLD checksum over the pseudo-header from
 *   pkt.from / pkt.to, so pass the real IPv6 source and destination.
 */
import { formatAddr, inPrefix, isMulticast, isUnspecified, isLinkLocal6, parseAddr, parsePrefix, type AddrKey, type Prefix } from './addr.js';
import { CodecError, decodeMembership } from './codec.js';
import { DeadlineHeap } from './deadlines.js';
import { HostRegistry, applyHostRecord, countListeners, expireHosts, forgetAllHosts, hostAddrs, needsHostSlot } from './hosts.js';
import { QuerierState } from './querier.js';
import {
  EXCLUDE,
  GroupState,
  INCLUDE,
  applyRecord,
  expireRouterTimers,
  lowerForQuery,
  startQueries,
  transmitQueries,
  type QueryActions,
} from './table.js';
import {
  ANY_SOURCE,
  RecordType,
  type EngineOutput,
  type GroupRecord,
  type LegacyLeave,
  type LegacyReport,
  type MembershipMessage,
  type Proto,
  type QueryMessage,
  type ReceivedPacket,
  type SourceReport,
} from './types.js';
import type { MembershipConfig } from '../config.js';

export { ANY_SOURCE };
export type { EngineOutput };

/** One row of `dump()`: the simulate dump contract (ARCHITECTURE.md), times in ms remaining. */
export interface DumpRow {
  iface: string;
  group: string;
  mode: 'include' | 'exclude';
  groupTimerMs: number;
  sources: Array<{ address: string; timerMs: number }>;
  blocked: string[];
  hosts: string[];
  subscribers: number;
}

export interface EngineStats {
  /** Messages received, by "<proto>v<version> <kind>" (e.g. "mldv2 report"). */
  received: Record<string, number>;
  /** Group records applied. */
  records: number;
  /** Rejections by category (the text before ':' in the output's reason). */
  rejected: Record<string, number>;
  /** Query items emitted. */
  queriesSent: number;
  /** Records / reports refused by maxGroups/maxSources/maxHosts limits. */
  limitRefusals: number;
  /** Messages the RFCs say to ignore: link-local groups, IGMPv1-mode leaves, our own queries. */
  ignored: number;
}

interface Interface {
  name: string;
  groups: Map<AddrKey, GroupState>;
  hosts: HostRegistry;
  igmp: QuerierState;
  mld: QuerierState;
}

type Owner = GroupState | QuerierState;

const KIND_NAMES = ['report', 'legacy-report', 'legacy-leave', 'query'] as const;
const KIND_SLOT: Record<MembershipMessage['kind'], number> = { report: 0, 'legacy-report': 1, 'legacy-leave': 2, query: 3 };

const ALL_SYSTEMS = parseAddr('224.0.0.1');
const ALL_ROUTERS = parseAddr('224.0.0.2');
const IGMPV3_ROUTERS = parseAddr('224.0.0.22');
const ALL_NODES = parseAddr('ff02::1');
const ALL_ROUTERS6 = parseAddr('ff02::2');
const MLDV2_ROUTERS = parseAddr('ff02::16');
/** Never routed, so never worth state (RFC 9776 §6, RFC 9777 §7: link-scope groups). */
const LINK_SCOPE = [parsePrefix('224.0.0.0/24'), parsePrefix('ff01::/16'), parsePrefix('ff02::/16')];

export class MembershipEngine {
  private readonly ifaces = new Map<string, Interface>();
  private readonly heap = new DeadlineHeap<Owner>();
  private readonly ssm: Prefix[];
  private clock = 0;
  private readonly counters: EngineStats = { received: {}, records: 0, rejected: {}, queriesSent: 0, limitRefusals: 0, ignored: 0 };
  private readonly receivedBySlot = new Array<number>(64).fill(0);
  // Reused per record: the actions the table asks of the querier.
  private readonly actions: QueryActions = { group: false, sources: [] };

  constructor(private readonly cfg: MembershipConfig) {
    // With ssmAnySourceJoins 'accept' (the default, see config.ts) no group
    // gets the RFC 4604 treatment: an any-source join for one of our SSM
    // groups is a listener like any other.
    this.ssm = cfg.ssmAnySourceJoins === 'ignore' ? cfg.ssmRanges.map((r) => parsePrefix(r)) : [];
  }

  /**
   * Starts keeping state on an interface. `own` = the addresses our queries
   * come from (IPv4, IPv6 link-local); a family without one never queries.
   * Startup general queries begin at `now` (default: the latest time seen).
   */
  addInterface(name: string, own: { ipv4?: AddrKey; ipv6?: AddrKey }, now = this.clock): EngineOutput[] {
    if (this.ifaces.has(name)) throw new Error(`interface ${name} already added`);
    const out: EngineOutput[] = [];
    this.advanceInto(now, out);
    const ifc: Interface = {
      name,
      groups: new Map(),
      hosts: new HostRegistry(),
      igmp: new QuerierState(name, 'igmp', this.cfg.ipv4 ? own.ipv4 : undefined, this.cfg),
      mld: new QuerierState(name, 'mld', this.cfg.ipv6 ? own.ipv6 : undefined, this.cfg),
    };
    this.ifaces.set(name, ifc);
    for (const q of [ifc.igmp, ifc.mld]) {
      q.start(this.clock, out);
      this.reschedule(q);
    }
    return this.finish(out);
  }

  /** Drops an interface's state; every entry still active goes idle. */
  removeInterface(name: string): EngineOutput[] {
    const ifc = this.ifaces.get(name);
    const out: EngineOutput[] = [];
    if (ifc === undefined) return out;
    for (const g of ifc.groups.values()) {
      for (const s of g.announced) out.push({ type: 'idle', iface: name, group: g.group, source: s });
      g.announced = [];
      this.kill(g);
    }
    this.kill(ifc.igmp);
    this.kill(ifc.mld);
    this.ifaces.delete(name);
    return out;
  }

  /**
   * A packet from the wire: due timers fire first, then the packet is checked
   * (family, strict framing), decoded and applied. Anything refused is one
   * `rejected` output, counted, and changes no state.
   */
  receive(now: number, pkt: ReceivedPacket): EngineOutput[] {
    const out: EngineOutput[] = [];
    this.advanceInto(now, out);
    now = this.clock;
    const ifc = this.ifaces.get(pkt.iface);
    if (ifc === undefined) return this.finish(this.reject(out, pkt.iface, pkt.from, 'unknown interface', pkt.iface));
    const fromLen = pkt.from.length;
    if ((fromLen !== 4 && fromLen !== 16) || pkt.to.length !== fromLen) {
      return this.finish(this.reject(out, pkt.iface, pkt.from, 'bad address', 'source and destination must both be IPv4 or both IPv6'));
    }
    const proto: Proto = fromLen === 4 ? 'igmp' : 'mld';
    if (proto === 'igmp' ? !this.cfg.ipv4 : !this.cfg.ipv6) {
      return this.finish(this.reject(out, pkt.iface, pkt.from, 'disabled', `${proto === 'igmp' ? 'IGMP' : 'MLD'} is turned off (membership.${proto === 'igmp' ? 'ipv4' : 'ipv6'})`));
    }
    let msg: MembershipMessage;
    try {
      msg = decodeMembership(proto, pkt.payload, pkt.from, pkt.to);
    } catch (err) {
      if (!(err instanceof CodecError)) throw err;
      return this.finish(this.reject(out, pkt.iface, pkt.from, 'malformed', err.message));
    }
    if (this.cfg.strict) {
      const why = strictViolation(pkt, msg);
      if (why !== undefined) return this.finish(this.reject(out, pkt.iface, pkt.from, 'strict', why));
    }
    this.applyTo(ifc, now, pkt.from, msg, out);
    return this.finish(out);
  }

  /** An already decoded message from `from` on `iface` (no framing checks). */
  apply(now: number, iface: string, from: AddrKey, msg: MembershipMessage): EngineOutput[] {
    const out: EngineOutput[] = [];
    this.advanceInto(now, out);
    const ifc = this.ifaces.get(iface);
    if (ifc === undefined) return this.finish(this.reject(out, iface, from, 'unknown interface', iface));
    if (from.length !== (msg.proto === 'igmp' ? 4 : 16)) {
      return this.finish(this.reject(out, iface, from, 'bad address', `sender is not an ${msg.proto === 'igmp' ? 'IPv4' : 'IPv6'} address`));
    }
    this.applyTo(ifc, this.clock, from, msg, out);
    return this.finish(out);
  }

  /** Fires everything due at or before `now`, in time order. */
  advance(now: number): EngineOutput[] {
    const out: EngineOutput[] = [];
    this.advanceInto(now, out);
    return this.finish(out);
  }

  /** When `advance` next has work: arm one timer for it. */
  nextDeadline(): number | undefined {
    return this.heap.peek();
  }

  /** The whole table, sorted by interface, group, address; times in ms remaining at `now`. */
  dump(now: number): DumpRow[] {
    const rows: DumpRow[] = [];
    const left = (t: number) => Math.max(0, t - now);
    for (const name of [...this.ifaces.keys()].sort()) {
      const ifc = this.ifaces.get(name)!;
      for (const key of [...ifc.groups.keys()].sort()) {
        const g = ifc.groups.get(key)!;
        const running = [...g.sources].filter(([, t]) => t !== 0).sort(([a], [b]) => (a < b ? -1 : 1));
        const blocked = [...g.sources].filter(([, t]) => t === 0).map(([s]) => s).sort();
        rows.push({
          iface: name,
          group: formatAddr(key),
          mode: g.mode === EXCLUDE ? 'exclude' : 'include',
          groupTimerMs: g.mode === EXCLUDE ? left(g.groupTimer) : 0,
          sources: running.map(([s, t]) => ({ address: formatAddr(s), timerMs: left(t) })),
          blocked: blocked.map(formatAddr),
          hosts: hostAddrs(g, ifc.hosts).sort().map(formatAddr),
          subscribers: countListeners(g, undefined, now),
        });
      }
    }
    return rows;
  }

  /**
   * Listeners of a group (source undefined), of one source, or of '*'
   * (any-source listeners): tracked hosts wanting it, plus 1 for the
   * untracked older-version listener while present.
   */
  listeners(iface: string, group: AddrKey, source?: AddrKey | typeof ANY_SOURCE): number {
    const g = this.ifaces.get(iface)?.groups.get(group);
    return g === undefined ? 0 : countListeners(g, source, this.clock);
  }

  /** Whether we are the querier for a family on an interface now. */
  isQuerier(iface: string, proto: Proto): boolean {
    const ifc = this.ifaces.get(iface);
    return ifc !== undefined && (proto === 'igmp' ? ifc.igmp : ifc.mld).isQuerier;
  }

  stats(): EngineStats {
    const c = this.counters;
    const received: Record<string, number> = {};
    for (let slot = 0; slot < 64; slot++) {
      const n = this.receivedBySlot[slot];
      if (n === 0) continue;
      received[`${slot & 32 ? 'mld' : 'igmp'}v${(slot >> 2) & 7} ${KIND_NAMES[slot & 3]}`] = n;
    }
    return { ...c, received, rejected: { ...c.rejected } };
  }

  // ---- internals ----

  private finish(out: EngineOutput[]): EngineOutput[] {
    for (let i = 0; i < out.length; i++) if (out[i].type === 'query') this.counters.queriesSent++;
    return out;
  }

  private reject(out: EngineOutput[], iface: string, from: AddrKey, category: string, detail: string): EngineOutput[] {
    const rejected = this.counters.rejected;
    rejected[category] = (rejected[category] ?? 0) + 1;
    if (category.startsWith('limit')) this.counters.limitRefusals++;
    out.push({ type: 'rejected', iface, from, reason: `${category}: ${detail}` });
    return out;
  }

  private advanceInto(now: number, out: EngineOutput[]): void {
    // The clock never goes back: a late caller is treated as "now".
    if (now > this.clock) this.clock = now;
    const heap = this.heap;
    for (;;) {
      const at = heap.peek();
      if (at === undefined || at > this.clock) return;
      const owner = heap.takeDue(at)!;
      if (owner.kind === 'querier') {
        owner.fire(at, out);
        this.reschedule(owner, at);
      } else {
        this.fireGroup(owner, at, out);
      }
    }
  }

  /**
   * Schedules the owner's next wake. After a fire at `firedAt` nothing may be
   * due again at that instant (the fire handled it); should a timer still say
   * so, it waits 1 ms rather than spin this loop forever.
   */
  private reschedule(owner: Owner, firedAt = -1): void {
    const at = owner.nextWake();
    if (at !== 0) this.heap.schedule(owner, at > firedAt ? at : firedAt + 1);
  }

  private kill(owner: Owner): void {
    owner.alive = false;
    this.heap.unschedule(owner);
  }

  private fireGroup(g: GroupState, at: number, out: EngineOutput[]): void {
    const ifc = this.ifaces.get(g.iface)!;
    expireHosts(g, ifc.hosts, at);
    expireRouterTimers(g, at);
    if (g.queryTickAt !== 0 && g.queryTickAt <= at) transmitQueries(g, at, out);
    this.settle(ifc, g, at, out);
    if (g.alive) this.reschedule(g, at);
  }

  private applyTo(ifc: Interface, now: number, from: AddrKey, msg: MembershipMessage, out: EngineOutput[]): void {
    // Counted by a small index, not a string built per packet.
    const slot = (msg.proto === 'igmp' ? 0 : 32) | ((msg.version & 7) << 2) | KIND_SLOT[msg.kind];
    this.receivedBySlot[slot]++;
    switch (msg.kind) {
      case 'report':
        this.onReport(ifc, now, from, msg, out);
        return;
      case 'legacy-report':
        this.onLegacyReport(ifc, now, from, msg, out);
        return;
      case 'legacy-leave':
        this.onLegacyLeave(ifc, now, from, msg, out);
        return;
      case 'query':
        this.onQuery(ifc, now, from, msg);
        return;
    }
  }

  /**
   * Whether a group without state may get some: not when it is no multicast
   * address (rejected) or link-scope (ignored quietly, counted).
   */
  private mayKeep(ifc: Interface, group: AddrKey, from: AddrKey, out: EngineOutput[]): boolean {
    if (!isMulticast(group)) {
      this.reject(out, ifc.name, from, 'bad group', `group ${formatAddr(group)} is not a multicast address`);
      return false;
    }
    for (const p of LINK_SCOPE) {
      if (inPrefix(group, p)) {
        this.counters.ignored++;
        return false;
      }
    }
    return true;
  }

  private isSsm(group: AddrKey): boolean {
    for (const p of this.ssm) if (inPrefix(group, p)) return true;
    return false;
  }

  /** The group's state, created if allowed; undefined (and a rejection) over the limit. */
  private groupFor(ifc: Interface, group: AddrKey, from: AddrKey, out: EngineOutput[]): GroupState | undefined {
    let g = ifc.groups.get(group);
    if (g !== undefined) return g;
    if (ifc.groups.size >= this.cfg.maxGroupsPerInterface) {
      this.reject(out, ifc.name, from, 'limit groups', `${ifc.name} already has ${ifc.groups.size} groups (membership.maxGroupsPerInterface)`);
      return undefined;
    }
    g = new GroupState(ifc.name, group, this.isSsm(group), group.length === 4 ? ifc.igmp : ifc.mld);
    ifc.groups.set(group, g);
    return g;
  }

  private onReport(ifc: Interface, now: number, from: AddrKey, msg: SourceReport, out: EngineOutput[]): void {
    const tracked = !isUnspecified(from);
    const records = msg.records;
    for (let i = 0; i < records.length; i++) {
      this.counters.records++;
      this.onRecord(ifc, now, from, tracked, records[i], out);
    }
  }

  private onRecord(ifc: Interface, now: number, from: AddrKey, tracked: boolean, rec: GroupRecord, out: EngineOutput[]): void {
    const cfg = this.cfg;
    const group = rec.group;
    let g = ifc.groups.get(group);
    if (g === undefined && !this.mayKeep(ifc, group, from, out)) return;
    const type = rec.type;
    const isExclude = type === RecordType.MODE_IS_EXCLUDE || type === RecordType.CHANGE_TO_EXCLUDE_MODE;
    if (isExclude && (g !== undefined ? g.ssm : this.isSsm(group))) {
      // RFC 4604 §2.2.1 / §2.2.2: a router ignores EXCLUDE records for SSM
      // groups; the other records of the report still count.
      this.reject(out, ifc.name, from, 'ssm', `${type === RecordType.MODE_IS_EXCLUDE ? 'IS_EX' : 'TO_EX'} for source-specific group ${formatAddr(group)} ignored (RFC 4604)`);
      return;
    }
    const list = rec.sources;
    if (list.length > cfg.maxSourcesPerGroup) {
      this.reject(out, ifc.name, from, 'limit sources', `record lists ${list.length} sources (membership.maxSourcesPerGroup ${cfg.maxSourcesPerGroup})`);
      return;
    }
    const created = g === undefined;
    if (g === undefined) {
      g = this.groupFor(ifc, group, from, out);
      if (g === undefined) return;
    }
    // Limits first, so a refused record changes nothing.
    if (list.length > 0 && type !== RecordType.BLOCK_OLD_SOURCES && g.sources.size + list.length > cfg.maxSourcesPerGroup) {
      let fresh = 0;
      for (let i = 0; i < list.length; i++) if (!g.sources.has(list[i])) fresh++;
      if (fresh > 0 && g.sources.size + fresh > cfg.maxSourcesPerGroup) {
        this.refuseRecord(ifc, g, created, from, 'limit sources', `group ${formatAddr(group)} would keep ${g.sources.size + fresh} sources (membership.maxSourcesPerGroup ${cfg.maxSourcesPerGroup})`, out);
        return;
      }
    }
    const t = g.querier.timers;
    const gmi = t.groupMembershipMs;
    if (tracked) {
      if (needsHostSlot(ifc.hosts, from) && ifc.hosts.size >= cfg.maxHostsPerInterface && type !== RecordType.BLOCK_OLD_SOURCES) {
        this.refuseRecord(ifc, g, created, from, 'limit hosts', `${ifc.name} already tracks ${ifc.hosts.size} hosts (membership.maxHostsPerInterface)`, out);
        return;
      }
      if (!applyHostRecord(g, ifc.hosts, from, type, list, now + gmi, cfg.maxSourcesPerGroup)) {
        this.refuseRecord(ifc, g, created, from, 'limit sources', `host ${formatAddr(from)} would exclude more than ${cfg.maxSourcesPerGroup} sources`, out);
        return;
      }
    } else if (isExclude || list.length > 0) {
      // From 0.0.0.0 / :: several hosts may speak as one: the untracked listener.
      if (!(g.untrackedUntil > now)) g.dirty = true;
      g.untrackedUntil = now + gmi;
    }
    // RFC 9776 §7.3.2 / RFC 9777 §8.3.2: while older hosts are present,
    // BLOCK is ignored and TO_EX(x) counts as TO_EX({}).
    let sources = list;
    let ignoredByRouter = false;
    if (g.compatVersion(now) < g.querier.version) {
      if (type === RecordType.BLOCK_OLD_SOURCES) ignoredByRouter = true;
      else if (type === RecordType.CHANGE_TO_EXCLUDE_MODE) sources = [];
    }
    if (!ignoredByRouter) this.applyRouter(g, type, sources, now, gmi, out);
    this.settle(ifc, g, now, out);
    if (g.alive) this.heap.schedule(g, now + gmi);
  }

  private refuseRecord(ifc: Interface, g: GroupState, created: boolean, from: AddrKey, category: string, detail: string, out: EngineOutput[]): void {
    if (created) {
      ifc.groups.delete(g.group);
      this.kill(g);
    }
    this.reject(out, ifc.name, from, category, detail);
  }

  /** The RFC table, then the querier's actions it calls for. */
  private applyRouter(g: GroupState, type: RecordType, sources: readonly AddrKey[], now: number, gmi: number, out: EngineOutput[]): void {
    const q = this.actions;
    q.group = false;
    // Setting length is a runtime call even when it changes nothing.
    if (q.sources.length > 0) q.sources.length = 0;
    applyRecord(g, type, sources, now, gmi, q);
    if ((q.group || q.sources.length > 0) && g.querier.isQuerier) {
      startQueries(g, q, now, out);
      this.heap.schedule(g, now + g.querier.timers.lastMemberQueryTimeMs);
      if (g.queryTickAt !== 0) this.heap.schedule(g, g.queryTickAt);
    }
  }

  private onLegacyReport(ifc: Interface, now: number, from: AddrKey, msg: LegacyReport, out: EngineOutput[]): void {
    this.counters.records++;
    const group = msg.group;
    let g = ifc.groups.get(group);
    if (g === undefined && !this.mayKeep(ifc, group, from, out)) return;
    if (g !== undefined ? g.ssm : this.isSsm(group)) {
      // RFC 4604 §2.2.3: older-version reports for SSM groups are ignored.
      this.reject(out, ifc.name, from, 'ssm', `${legacyName(msg)} report for source-specific group ${formatAddr(group)} ignored (RFC 4604)`);
      return;
    }
    g ??= this.groupFor(ifc, group, from, out);
    if (g === undefined) return;
    const t = g.querier.timers;
    // RFC 9776 §7.3.2: start the Older Version Host Present timer.
    if (msg.proto === 'igmp' && msg.version === 1) g.v1HostUntil = now + t.olderHostPresentMs;
    else g.olderHostUntil = now + t.olderHostPresentMs;
    if (!(g.untrackedUntil > now)) g.dirty = true;
    g.untrackedUntil = now + t.groupMembershipMs;
    // An older-version report counts as IS_EX({}).
    this.applyRouter(g, RecordType.MODE_IS_EXCLUDE, [], now, t.groupMembershipMs, out);
    this.settle(ifc, g, now, out);
    if (g.alive) this.heap.schedule(g, now + Math.min(t.groupMembershipMs, t.olderHostPresentMs));
  }

  private onLegacyLeave(ifc: Interface, now: number, from: AddrKey, msg: LegacyLeave, out: EngineOutput[]): void {
    this.counters.records++;
    const g = ifc.groups.get(msg.group);
    if (g === undefined) return; // nobody to leave
    if (g.ssm) {
      this.reject(out, ifc.name, from, 'ssm', `${legacyName(msg)} leave for source-specific group ${formatAddr(msg.group)} ignored (RFC 4604)`);
      return;
    }
    // RFC 9776 §7.3.2: in IGMPv1 mode leaves are ignored (a v1 host would not answer).
    if (g.compatVersion(now) === 1 && msg.proto === 'igmp') {
      this.counters.ignored++;
      return;
    }
    // A Leave / Done counts as TO_IN({}).
    this.applyRouter(g, RecordType.CHANGE_TO_INCLUDE_MODE, [], now, g.querier.timers.groupMembershipMs, out);
    this.settle(ifc, g, now, out);
  }

  private onQuery(ifc: Interface, now: number, from: AddrKey, msg: QueryMessage): void {
    const querier = msg.proto === 'igmp' ? ifc.igmp : ifc.mld;
    if (from === querier.own) {
      this.counters.ignored++; // our own query looped back
      return;
    }
    if (querier.heard(now, from, msg)) this.reschedule(querier);
    // RFC 9776 §6.6.1: a query with the S flag clear lowers our timers too.
    if (msg.suppress || isUnspecified(msg.group)) return;
    const g = ifc.groups.get(msg.group);
    if (g === undefined) return;
    lowerForQuery(g, msg.sources, now);
    this.heap.schedule(g, now + g.querier.timers.lastMemberQueryTimeMs);
  }

  /**
   * Recomputes what the group is listened to for (if anything changed) and
   * emits the difference; deletes the group when its state is empty.
   */
  private settle(ifc: Interface, g: GroupState, now: number, out: EngineOutput[]): void {
    if (g.dirty) {
      g.dirty = false;
      this.announce(g, now, out);
    }
    if (g.mode === INCLUDE && g.sources.size === 0) {
      // RFC 9776 §6.5: INCLUDE({}) is no state at all. Its hosts go with it.
      for (const s of g.announced) out.push({ type: 'idle', iface: g.iface, group: g.group, source: s });
      g.announced = [];
      forgetAllHosts(g, ifc.hosts);
      ifc.groups.delete(g.group);
      this.kill(g);
    }
  }

  private announce(g: GroupState, now: number, out: EngineOutput[]): void {
    const filter = this.cfg.immediateLeave && !(g.untrackedUntil > now);
    if (!filter && g.mode === INCLUDE && sameKeys(g.sources, g.announced)) return;
    const before = g.announced;
    let wanted: string[];
    if (g.mode === EXCLUDE) {
      const any = !filter || (g.excl !== null && g.excl.size > 0);
      // Most dirty EXCLUDE groups (a host joining or leaving) still want just
      // '*': nothing to emit, and no array to allocate per record.
      if (any && before.length === 1 && before[0] === ANY_SOURCE) return;
      if (!any && before.length === 0) return;
      wanted = any ? ANY_ONLY : NOTHING;
    } else {
      wanted = [];
      const anyExcl = g.excl !== null && g.excl.size > 0;
      for (const s of g.sources.keys()) {
        if (!filter || anyExcl || (g.incl !== null && g.incl.has(s))) wanted.push(s);
      }
    }
    for (const s of wanted) if (!before.includes(s)) out.push({ type: 'active', iface: g.iface, group: g.group, source: s });
    for (const s of before) if (!wanted.includes(s)) out.push({ type: 'idle', iface: g.iface, group: g.group, source: s });
    g.announced = wanted;
  }
}

// Shared values of GroupState.announced, which is replaced, never changed in place.
const ANY_ONLY: string[] = [ANY_SOURCE];
const NOTHING: string[] = [];

/** Whether `announced` lists exactly the map's keys (order aside). */
function sameKeys(map: Map<string, number>, announced: string[]): boolean {
  if (map.size !== announced.length) return false;
  for (let i = 0; i < announced.length; i++) if (!map.has(announced[i])) return false;
  return true;
}

function legacyName(msg: LegacyReport | LegacyLeave): string {
  return msg.proto === 'igmp' ? `IGMPv${msg.version}` : `MLDv${msg.version}`;
}

/**
 * Strict mode (PROTOCOLS.md §1): the framing the RFCs prescribe. Real
 * senders (the kernel selftests) skip some of it, so this is opt-in.
 */
function strictViolation(pkt: ReceivedPacket, msg: MembershipMessage): string | undefined {
  const v4 = pkt.from.length === 4;
  if (pkt.ttl !== 1) return `${v4 ? 'TTL' : 'hop limit'} ${pkt.ttl ?? 'unknown'}, must be 1`;
  if (pkt.routerAlert !== true) return 'no Router Alert option';
  // RFC 9777 §5: MLD messages come from a link-local source.
  if (!v4 && !isLinkLocal6(pkt.from) && !isUnspecified(pkt.from)) return `source ${formatAddr(pkt.from)} is not link-local`;
  let want: AddrKey;
  switch (msg.kind) {
    case 'report':
      want = v4 ? IGMPV3_ROUTERS : MLDV2_ROUTERS;
      break;
    case 'legacy-report':
      want = msg.group;
      break;
    case 'legacy-leave':
      want = v4 ? ALL_ROUTERS : ALL_ROUTERS6;
      break;
    case 'query':
      want = isUnspecified(msg.group) ? (v4 ? ALL_SYSTEMS : ALL_NODES) : msg.group;
      break;
  }
  if (pkt.to !== want) return `destination ${formatAddr(pkt.to)}, must be ${formatAddr(want)}`;
  return undefined;
}
