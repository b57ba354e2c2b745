/**
 * Explicit per-host tracking (PROTOCOLS.md §1 "Counting subscribers").
 *
 * The protocol only says "someone on this link wants (S,G)". IGMPv3 and
 * MLDv2 hosts do not suppress each other's reports (RFC 9776 §5.1, RFC 9777
 * §6.1), so every host's records reach us and we can keep each host's own
 * filter state, applying its records the way the host itself does
 * (RFC 9776 §5.1 "state change" semantics, here seen from the outside):
 *
 *   IS_IN(B), TO_IN(B)  -> INCLUDE(B)        (INCLUDE({}) = not a member)
 *   IS_EX(B), TO_EX(B)  -> EXCLUDE(B)
 *   ALLOW(B)            -> INCLUDE(A+B) / EXCLUDE(X-B)
 *   BLOCK(B)            -> INCLUDE(A-B) / EXCLUDE(X+B)
 *
 * A host is forgotten GMI after its last record for the group, or when the
 * group's router state goes. With that the engine can count subscribers and
 * leave at once when the last one goes (immediate leave).
 */
import type { AddrKey } from './addr.js';
import { RecordType } from './types.js';
import type { GroupState, HostState } from './table.js';

/** Per-interface count of groups each tracked host is in: bounds hosts per interface. */
export type HostRegistry = Map<AddrKey, number>;

function addWants(g: GroupState, h: HostState): void {
  if (h.exclude) {
    g.excludeHosts++;
    return;
  }
  const counts = g.wantCounts;
  for (const s of h.sources) counts.set(s, (counts.get(s) ?? 0) + 1);
}

function dropWants(g: GroupState, h: HostState): void {
  if (h.exclude) {
    g.excludeHosts--;
    return;
  }
  const counts = g.wantCounts;
  for (const s of h.sources) {
    const n = (counts.get(s) ?? 1) - 1;
    if (n === 0) counts.delete(s);
    else counts.set(s, n);
  }
}

function sameList(a: readonly AddrKey[], b: readonly AddrKey[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function union(a: readonly AddrKey[], b: readonly AddrKey[]): AddrKey[] {
  const out = a.slice();
  for (const s of b) if (!out.includes(s)) out.push(s);
  return out;
}

function minus(a: readonly AddrKey[], b: readonly AddrKey[]): AddrKey[] {
  return a.filter((s) => !b.includes(s));
}

function dedupe(list: readonly AddrKey[]): AddrKey[] {
  return list.length < 2 ? list.slice() : [...new Set(list)];
}

/**
 * Whether a record from a host not yet tracked on this interface would need
 * a new host slot: callers check the interface limit before applying.
 */
export function needsHostSlot(g: GroupState, registry: HostRegistry, host: AddrKey): boolean {
  return !g.hosts.has(host) && !registry.has(host);
}

/**
 * Applies one of `host`'s records to its tracked state in `g`. Returns false
 * when the result would exceed `maxSources` (the record is then refused and
 * nothing changes).
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
  const old = g.hosts.get(host);
  let exclude: boolean;
  let sources: AddrKey[];
  switch (type) {
    case RecordType.MODE_IS_INCLUDE:
    case RecordType.CHANGE_TO_INCLUDE_MODE:
      // Fast path: a periodic report repeating the same INCLUDE state.
      if (old !== undefined && !old.exclude && sameList(old.sources, list)) {
        old.expires = expires;
        return true;
      }
      exclude = false;
      sources = dedupe(list);
      break;
    case RecordType.MODE_IS_EXCLUDE:
    case RecordType.CHANGE_TO_EXCLUDE_MODE:
      if (old !== undefined && old.exclude && sameList(old.sources, list)) {
        old.expires = expires;
        return true;
      }
      exclude = true;
      sources = dedupe(list);
      break;
    case RecordType.ALLOW_NEW_SOURCES:
      if (old === undefined) {
        exclude = false;
        sources = dedupe(list);
      } else {
        exclude = old.exclude;
        sources = old.exclude ? minus(old.sources, list) : union(old.sources, list);
      }
      break;
    case RecordType.BLOCK_OLD_SOURCES:
      if (old === undefined) return true; // INCLUDE({}) - B = nothing
      exclude = old.exclude;
      sources = old.exclude ? union(old.sources, list) : minus(old.sources, list);
      break;
    default:
      return true;
  }
  if (sources.length > maxSources) return false;
  if (old !== undefined) {
    dropWants(g, old);
    g.dirty = true;
  }
  if (!exclude && sources.length === 0) {
    // INCLUDE({}): the host left the group.
    if (old !== undefined) forgetHost(g, registry, host, old, false);
    return true;
  }
  if (old !== undefined) {
    old.exclude = exclude;
    old.sources = sources;
    old.expires = expires;
    addWants(g, old);
  } else {
    const h: HostState = { exclude, sources, expires };
    g.hosts.set(host, h);
    registry.set(host, (registry.get(host) ?? 0) + 1);
    addWants(g, h);
    g.dirty = true;
  }
  return true;
}

/** Removes a host from the group (its wants already dropped unless `dropWantsToo`). */
function forgetHost(g: GroupState, registry: HostRegistry, host: AddrKey, h: HostState, dropWantsToo: boolean): void {
  if (dropWantsToo) dropWants(g, h);
  g.hosts.delete(host);
  const n = (registry.get(host) ?? 1) - 1;
  if (n === 0) registry.delete(host);
  else registry.set(host, n);
  g.dirty = true;
}

/** Forgets hosts whose state timed out at or before `now`. */
export function expireHosts(g: GroupState, registry: HostRegistry, now: number): void {
  for (const [host, h] of g.hosts) if (h.expires <= now) forgetHost(g, registry, host, h, true);
}

/** Forgets every host of a group whose router state is deleted. */
export function forgetAllHosts(g: GroupState, registry: HostRegistry): void {
  for (const [host, h] of g.hosts) forgetHost(g, registry, host, h, true);
}

/**
 * Listeners of (group, source) by host count: tracked hosts that want it,
 * plus one for the untracked listener while it lasts. `source` undefined =
 * anyone in the group; '*' = hosts in EXCLUDE mode (any-source listeners).
 */
export function countListeners(g: GroupState, source: AddrKey | '*' | undefined, now: number): number {
  const untracked = g.untrackedUntil > now ? 1 : 0;
  if (source === undefined) return g.hosts.size + untracked;
  if (source === '*') return g.excludeHosts + untracked;
  let n = g.wantCounts.get(source) ?? 0;
  if (g.excludeHosts > 0) for (const h of g.hosts.values()) if (h.exclude && !h.sources.includes(source)) n++;
  return n + untracked;
}
