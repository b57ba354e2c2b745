/**
 * Explicit per-host tracking (PROTOCOLS.md §1 "Counting subscribers").
 *
 * The protocol only says "someone on this link wants (S,G)". IGMPv3 and
 * MLDv2 hosts do not suppress each other's reports (RFC 9776 §5.1, RFC 9777
 * §6.1), so every host's records reach us and we can keep each host's own
 * filter state, applying its records the way the host itself does:
 *
 *   IS_IN(B), TO_IN(B)  -> INCLUDE(B)        (INCLUDE({}) = not a member)
 *   IS_EX(B), TO_EX(B)  -> EXCLUDE(B)
 *   ALLOW(B)            -> INCLUDE(A+B) / EXCLUDE(X-B)
 *   BLOCK(B)            -> INCLUDE(A-B) / EXCLUDE(X+B)
 *
 * Layout, chosen for memory (10k groups x 100 hosts = 1M memberships must
 * fit in tens of MB): a host is a small integer id per interface
 * (HostRegistry), and a membership is ONE entry id -> deadline in a Map of
 * small integers, no object per host:
 *   - EXCLUDE hosts: `excl` (id -> deadline), plus `exclLists` (id -> X)
 *     only for the rare host that excludes some sources;
 *   - INCLUDE hosts: `incl` source -> (id -> deadline), one entry per source
 *     the host wants; the count of hosts wanting a source is that Map's size.
 * A deadline is refreshed by a record naming the group (EXCLUDE) or the
 * source (INCLUDE); an entry is forgotten GMI after its last refresh, or
 * with the group's router state.
 */
import type { AddrKey } from './addr.js';
import { IdTable } from './idtable.js';
import { RecordType } from './types.js';
import type { GroupState } from './table.js';

/** Interface-wide host ids and, per host, how many groups it is in (bounds hosts per interface). */
export class HostRegistry {
  private readonly ids = new Map<AddrKey, number>();
  private readonly addrs: AddrKey[] = [];
  private readonly groupCounts: number[] = [];
  private readonly free: number[] = [];

  /** Hosts tracked in at least one group. */
  get size(): number {
    return this.ids.size;
  }

  idOf(addr: AddrKey): number | undefined {
    return this.ids.get(addr);
  }

  addr(id: number): AddrKey {
    return this.addrs[id];
  }

  /** An id for a host about to join its first group. */
  allocate(addr: AddrKey): number {
    const id = this.free.length > 0 ? this.free.pop()! : this.addrs.length;
    this.ids.set(addr, id);
    this.addrs[id] = addr;
    this.groupCounts[id] = 0;
    return id;
  }

  joined(id: number): void {
    this.groupCounts[id]++;
  }

  /** The host left a group; its id is freed when it is in none. */
  left(id: number): void {
    if (--this.groupCounts[id] > 0) return;
    this.ids.delete(this.addrs[id]);
    this.addrs[id] = '';
    this.free.push(id);
  }
}

function inIncl(g: GroupState, id: number): boolean {
  if (g.incl === null) return false;
  for (const m of g.incl.values()) if (m.has(id)) return true;
  return false;
}

function addIncl(g: GroupState, source: AddrKey, id: number, expires: number): void {
  const incl = (g.incl ??= new Map());
  let m = incl.get(source);
  if (m === undefined) {
    m = new IdTable();
    incl.set(source, m);
    g.dirty = true;
  }
  m.set(id, expires);
}

/**
 * An INCLUDE record's sources `keep` for the host: it leaves every source
 * not in `keep` and is (re)set to `expires` in every one in it that the
 * group already has. One walk over the group's source tables does that and
 * the "was it a member" test, so the hottest record (IS_IN refreshing an
 * INCLUDE host) touches each table once. Returns (tables of `keep` found << 1)
 * | (was in any source before): fewer found than `keep` lists means some
 * source needs a table still (addIncl).
 */
function keepOnlyIncl(g: GroupState, id: number, keep: readonly AddrKey[], expires: number): number {
  const incl = g.incl;
  if (incl === null) return 0;
  let present = false;
  let found = 0;
  for (const [s, m] of incl) {
    if (keep.includes(s)) {
      found++;
      if (!present && m.has(id)) present = true;
      m.set(id, expires);
      continue;
    }
    if (!m.delete(id)) continue;
    present = true;
    if (m.size === 0) {
      incl.delete(s);
      g.dirty = true;
    }
  }
  return (found << 1) | (present ? 1 : 0);
}

/** Removes the host from every INCLUDE source; true if it was in any. */
function dropIncl(g: GroupState, id: number): boolean {
  const incl = g.incl;
  if (incl === null) return false;
  let dropped = false;
  for (const [s, m] of incl) {
    if (!m.delete(id)) continue;
    dropped = true;
    if (m.size === 0) {
      incl.delete(s);
      g.dirty = true;
    }
  }
  return dropped;
}

function dropExcl(g: GroupState, id: number): void {
  g.excl!.delete(id);
  g.exclLists?.delete(id);
  g.dirty = true;
}

function setExclList(g: GroupState, id: number, list: readonly AddrKey[]): void {
  if (list.length === 0) g.exclLists?.delete(id);
  else (g.exclLists ??= new Map()).set(id, dedupe(list));
}

function dedupe(list: readonly AddrKey[]): AddrKey[] {
  const out: AddrKey[] = [];
  for (let i = 0; i < list.length; i++) if (!out.includes(list[i])) out.push(list[i]);
  return out;
}

function join(g: GroupState, registry: HostRegistry, id: number): void {
  g.hostCount++;
  registry.joined(id);
  g.dirty = true;
}

function leave(g: GroupState, registry: HostRegistry, id: number): void {
  g.hostCount--;
  registry.left(id);
  g.dirty = true;
}

/** Whether a record from this sender would need a new host slot on the interface. */
export function needsHostSlot(registry: HostRegistry, host: AddrKey): boolean {
  return registry.idOf(host) === undefined;
}

/**
 * Applies one of `host`'s records to its tracked state in `g`. Returns false
 * when the host would exclude more than `maxSources` (the record is then
 * refused and nothing changes).
 */
export function applyHostRecord(
  g: GroupState,
  registry: HostRegistry,
  host: AddrKey,
  type: RecordType,
  list: readonly AddrKey[],
  expires: number,
  maxSources: number,
): boolean {
  // Keep the group's lower bound on membership deadlines (see expireHosts).
  if (g.hostsDue === 0 || expires < g.hostsDue) g.hostsDue = expires;
  let id = registry.idOf(host);
  const wasExcl = id !== undefined && g.excl !== null && g.excl.has(id);
  switch (type) {
    case RecordType.MODE_IS_INCLUDE:
    case RecordType.CHANGE_TO_INCLUDE_MODE: {
      if (id === undefined) {
        if (list.length === 0) return true;
        id = registry.allocate(host);
      }
      let present = wasExcl;
      let found = 0;
      if (wasExcl) dropExcl(g, id);
      else {
        const r = keepOnlyIncl(g, id, list, expires);
        present = (r & 1) === 1;
        found = r >> 1;
      }
      if (list.length === 0) {
        if (present) leave(g, registry, id);
        return true;
      }
      // Sources the group had are set already; the rest need tables.
      if (found < list.length) for (let i = 0; i < list.length; i++) addIncl(g, list[i], id, expires);
      if (!present) join(g, registry, id);
      return true;
    }
    case RecordType.MODE_IS_EXCLUDE:
    case RecordType.CHANGE_TO_EXCLUDE_MODE: {
      id ??= registry.allocate(host);
      const present = wasExcl || dropIncl(g, id);
      (g.excl ??= new IdTable()).set(id, expires);
      if (!wasExcl) g.dirty = true;
      setExclList(g, id, list);
      if (!present) join(g, registry, id);
      return true;
    }
    case RecordType.ALLOW_NEW_SOURCES: {
      if (wasExcl) {
        const x = g.exclLists?.get(id!);
        if (x !== undefined) setExclList(g, id!, x.filter((s) => !list.includes(s)));
        g.excl!.set(id!, expires);
        return true;
      }
      if (list.length === 0) return true;
      id ??= registry.allocate(host);
      const present = inIncl(g, id);
      for (let i = 0; i < list.length; i++) addIncl(g, list[i], id, expires);
      if (!present) join(g, registry, id);
      return true;
    }
    case RecordType.BLOCK_OLD_SOURCES: {
      if (id === undefined) return true; // INCLUDE({}) - B = nothing
      if (wasExcl) {
        const x = g.exclLists?.get(id) ?? [];
        const grown = dedupe([...x, ...list]);
        if (grown.length > maxSources) return false;
        setExclList(g, id, grown);
        g.excl!.set(id, expires);
        return true;
      }
      const incl = g.incl;
      if (incl === null) return true;
      let dropped = false;
      for (let i = 0; i < list.length; i++) {
        const m = incl.get(list[i]);
        if (m === undefined || !m.delete(id)) continue;
        dropped = true;
        g.dirty = true;
        if (m.size === 0) incl.delete(list[i]);
      }
      if (dropped && !inIncl(g, id)) leave(g, registry, id);
      return true;
    }
  }
  return true;
}

/**
 * Forgets memberships whose deadline is at or before `now`. The scan runs
 * only when the group's lower bound `hostsDue` is due, and leaves it exact:
 * a group firing for its query timers does not walk its hosts.
 */
export function expireHosts(g: GroupState, registry: HostRegistry, now: number): void {
  if (g.hostsDue === 0 || g.hostsDue > now) return;
  expireHostsNow(g, registry, now);
  g.hostsDue = nextHostDeadline(g);
}

function expireHostsNow(g: GroupState, registry: HostRegistry, now: number): void {
  if (g.excl !== null) {
    g.excl.removeDue(now, (id) => {
      g.exclLists?.delete(id);
      leave(g, registry, id);
    });
  }
  const incl = g.incl;
  if (incl === null) return;
  const touched: number[] = [];
  const gone = (id: number) => touched.push(id);
  for (const [s, m] of incl) {
    m.removeDue(now, gone);
    if (m.size === 0) {
      incl.delete(s);
      g.dirty = true;
    }
  }
  if (touched.length === 0) return;
  for (const id of new Set(touched)) if (!inIncl(g, id)) leave(g, registry, id);
}

/** Earliest membership deadline in the group, or 0. */
export function nextHostDeadline(g: GroupState): number {
  let min = g.excl !== null ? g.excl.minDeadline() : 0;
  if (g.incl !== null) {
    for (const m of g.incl.values()) {
      const t = m.minDeadline();
      if (t !== 0 && (min === 0 || t < min)) min = t;
    }
  }
  return min;
}

/** Ids of the group's tracked hosts. */
function hostIds(g: GroupState): Set<number> {
  const ids = new Set<number>(g.excl?.keys());
  if (g.incl !== null) for (const m of g.incl.values()) for (const id of m.keys()) ids.add(id);
  return ids;
}

/** Addresses of the group's tracked hosts. */
export function hostAddrs(g: GroupState, registry: HostRegistry): AddrKey[] {
  return [...hostIds(g)].map((id) => registry.addr(id));
}

/** Forgets every host of a group whose router state is deleted. */
export function forgetAllHosts(g: GroupState, registry: HostRegistry): void {
  for (const id of hostIds(g)) registry.left(id);
  g.excl = null;
  g.exclLists = null;
  g.incl = null;
  g.hostCount = 0;
  g.hostsDue = 0;
}

/**
 * Listeners of (group, source) by host count: tracked hosts that want it,
 * plus one for the untracked listener while it lasts. `source` undefined =
 * anyone in the group; '*' = hosts in EXCLUDE mode (any-source listeners).
 */
export function countListeners(g: GroupState, source: AddrKey | '*' | undefined, now: number): number {
  const untracked = g.untrackedUntil > now ? 1 : 0;
  if (source === undefined) return g.hostCount + untracked;
  const excl = g.excl?.size ?? 0;
  if (source === '*') return excl + untracked;
  let n = g.incl?.get(source)?.size ?? 0;
  if (excl > 0) for (const id of g.excl!.keys()) if (!g.exclLists?.get(id)?.includes(source)) n++;
  return n + untracked;
}
