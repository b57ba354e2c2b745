/**
 * The live membership edge: raw IGMP / ICMPv6 sockets (src/native) feeding the
 * pure MembershipEngine, one timer at the engine's next deadline, and the
 * engine's queries encoded and sent with the framing RFC 9776 §4 / RFC 9777 §5
 * ask for (TTL / hop limit 1, Router Alert, link-local source for MLD).
 *
 * EVENTS (a stable contract: the session manager consumes exactly these)
 *
 *   'active'    { iface, group, source, listeners, at }
 *               (group, source) on iface gained its first listener.
 *   'idle'      { iface, group, source, listeners: 0, at }
 *               (group, source) on iface lost its last listener (leave,
 *               expiry after the Group Membership Interval, ...).
 *   'listeners' { iface, group, source, listeners, at }
 *               the listener count of an ACTIVE (group, source) changed
 *               without an edge (a second host joined, one of several left).
 *   'query'     { iface, proto, version, group, sources, at }  a query we sent.
 *   'rejected'  { iface, from, reason, at }  a received message dropped
 *               (counted in stats(), logged at debug; never thrown).
 *   'received'  { iface, from, to, message, at }  every decoded membership
 *               message; only decoded when someone listens (for `watch`).
 *
 *   group:  text (RFC 5952 for IPv6, dotted quad for IPv4)
 *   source: text, or '*' for an any-source (ASM) listener
 *   at:     the injected clock, ms (default: epoch ms, monotonic within the
 *           process: performance.timeOrigin + performance.now())
 *
 * Listener counts follow the engine: one per tracked IGMPv3 / MLDv2 host,
 * and IGMPv1/v2 / MLDv1 hosts counted together as one per interface (they
 * suppress each other's reports, PROTOCOLS.md §1).
 *
 * Attach listeners in the same tick as `await LiveMembership.open()` returns:
 * the startup queries are sent (and 'query' emitted) just after it.
 *
 * A listener that throws is logged and cannot break the socket handler or
 * the timer. close() does not emit 'idle' for what is still active: the owner
 * is shutting down with it.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../log.js';
import type { MembershipConfig } from '../config.js';
import { addrFromBuffer, addrToBuffer, formatAddr, isLinkLocal6, isUnspecified, parseAddr, type AddrKey } from './addr.js';
import { decodeMembership, encodeIgmp, encodeMld, messageToJson } from './codec.js';
import { MembershipEngine, type DumpRow, type EngineStats } from './engine.js';
import { ANY_SOURCE, type EngineOutput, type Proto, type QueryMessage, type ReceivedPacket } from './types.js';
import { loadNative, openMembershipSocket, type RawPacket, type RawSocket } from '../native/index.js';

export interface MembershipEvent {
  iface: string;
  group: string;
  source: string;
  listeners: number;
  at: number;
}
export interface QuerySentEvent {
  iface: string;
  proto: Proto;
  version: number;
  group: string;
  sources: string[];
  at: number;
}
export interface RejectedEvent { iface: string; from: string; reason: string; at: number }
export interface ReceivedEvent { iface: string; from: string; to: string; message: Record<string, unknown>; at: number }

export interface LiveMembershipEvents {
  active: [MembershipEvent];
  idle: [MembershipEvent];
  listeners: [MembershipEvent];
  query: [QuerySentEvent];
  rejected: [RejectedEvent];
  received: [ReceivedEvent];
}

export interface LiveMembershipOptions {
  interfaces: string[];
  config: MembershipConfig;
  logger: Logger;
  clock?: () => number;
}

/** What one configured interface is known by. */
export interface LiveInterface {
  name: string;
  index: number;
  /** Our IPv4 address (query source), if the interface has one. */
  ipv4?: AddrKey;
  /** Our IPv6 link-local address (MLD query source, RFC 9777 §5.1.14). */
  ipv6?: AddrKey;
}

interface ActivePair {
  iface: string;
  group: AddrKey;
  source: AddrKey | typeof ANY_SOURCE;
  text: { group: string; source: string };
  listeners: number;
}

/** Edge counters, next to the engine's own in stats(). */
export interface LiveCounters {
  received: number;
  /** Datagrams from an interface we were not asked to serve (224.0.0.1 is joined everywhere). */
  otherInterface: number;
  /** Our own reports looped back by the kernel (its reports for 224.0.0.22 / ff02::16). */
  own: number;
  /** Datagrams the addon could not frame, mroute upcalls. */
  unframed: number;
  socketErrors: number;
  queriesSent: number;
  sendErrors: number;
  handlerErrors: number;
}

const ALL_SYSTEMS = parseAddr('224.0.0.1'); // RFC 9776 §4.1.12: general queries
const ALL_NODES = parseAddr('ff02::1'); // RFC 9777 §5.1.15
// Joined so the kernel passes reports and leaves up to us (PROTOCOLS.md §1):
// IGMPv3 reports 224.0.0.22, IGMPv2 leaves 224.0.0.2; MLDv2 reports ff02::16,
// MLDv1 dones ff02::2.
const JOIN_V4 = ['224.0.0.22', '224.0.0.2'].map(parseAddr);
const JOIN_V6 = ['ff02::16', 'ff02::2'].map(parseAddr);

/** Epoch ms that never step backwards within the process. */
export const monotonicEpochMs = (): number => performance.timeOrigin + performance.now();

/**
 * Looks up index and addresses of an interface in this network namespace.
 * From getifaddrs via the addon: os.networkInterfaces() omits a link without
 * carrier, and we must still know our own addresses there.
 */
export function describeInterface(name: string): LiveInterface {
  const native = loadNative();
  let index: number;
  let addrs: Array<{ family: 4 | 6; address: Buffer }>;
  try {
    index = native.ifNameToIndex(name);
    addrs = native.interfaceAddresses(name);
  } catch (err) {
    throw new Error(`interface ${name}: ${(err as Error).message}`);
  }
  const v4 = addrs.find((a) => a.family === 4);
  const v6 = addrs.map((a) => addrFromBuffer(a.address, 0, a.family === 4 ? 4 : 16)).find(isLinkLocal6);
  return { name, index, ipv4: v4 ? addrFromBuffer(v4.address, 0, 4) : undefined, ipv6: v6 };
}

export class LiveMembership extends EventEmitter<LiveMembershipEvents> {
  private readonly byName = new Map<string, LiveInterface>();
  private readonly byIndex = new Map<number, LiveInterface>();
  private sock4?: RawSocket;
  private sock6?: RawSocket;
  private timer?: NodeJS.Timeout;
  private armedFor?: number;
  private closed = false;
  private readonly counters: LiveCounters = {
    received: 0, otherInterface: 0, own: 0, unframed: 0, socketErrors: 0, queriesSent: 0, sendErrors: 0, handlerErrors: 0,
  };
  /** Every active (iface, group, source) with its last reported count, to report changes that are not edges. */
  private readonly active = new Map<string, ActivePair>();
  /** addInterface outputs held until open() has returned. */
  private readonly startup: Array<[number, EngineOutput[]]> = [];

  private constructor(
    private readonly engine: MembershipEngine,
    private readonly cfg: MembershipConfig,
    private readonly log: Logger,
    private readonly clock: () => number,
  ) {
    super();
  }

  /**
   * Opens the sockets, joins the report groups on every interface and starts
   * querying. Throws (closing what it opened) when an interface is unknown or
   * a socket cannot be opened (CAP_NET_RAW missing, addon not built).
   */
  static async open(opts: LiveMembershipOptions): Promise<LiveMembership> {
    const clock = opts.clock ?? monotonicEpochMs;
    const log = opts.logger.child({ room: 'membership' });
    const live = new LiveMembership(new MembershipEngine(opts.config), opts.config, log, clock);
    try {
      live.start(opts.interfaces);
    } catch (err) {
      live.close();
      throw err;
    }
    return live;
  }

  private start(names: string[]): void {
    if (names.length === 0) throw new Error('membership: no interfaces to listen on');
    const ifaces = names.map(describeInterface);
    if (this.cfg.ipv4) this.sock4 = openMembershipSocket(4, (err, pkt) => this.onDatagram('igmp', err, pkt));
    if (this.cfg.ipv6) this.sock6 = openMembershipSocket(6, (err, pkt) => this.onDatagram('mld', err, pkt));
    if (this.cfg.multicastRouterSocket) {
      // PROTOCOLS.md §1: v2 / MLDv1 reports go to the group itself and only
      // reach a multicast routing socket. One per namespace: a clash with
      // smcroute / igmpproxy / FRR surfaces here as EADDRINUSE.
      try {
        this.sock4?.mrouteInit();
        this.sock6?.mrouteInit();
      } catch (err) {
        throw new Error(`membership.multicastRouterSocket: ${(err as Error).message} (is smcroute, igmpproxy, pimd or FRR running in this namespace?)`);
      }
    }
    for (const [vif, ifc] of ifaces.entries()) {
      this.byName.set(ifc.name, ifc);
      this.byIndex.set(ifc.index, ifc);
      try {
        for (const g of JOIN_V4) this.sock4?.joinGroup(addrToBuffer(g), ifc.index);
        for (const g of JOIN_V6) this.sock6?.joinGroup(addrToBuffer(g), ifc.index);
        if (this.cfg.multicastRouterSocket) {
          this.sock4?.mrouteAddInterface(vif, ifc.index);
          this.sock6?.mrouteAddInterface(vif, ifc.index);
        }
      } catch (err) {
        throw new Error(`interface ${ifc.name}: ${(err as Error).message}`);
      }
      if (this.sock4 && !ifc.ipv4) this.log.warn({ iface: ifc.name }, 'no IPv4 address: cannot send IGMP queries here');
      if (this.sock6 && !ifc.ipv6) this.log.warn({ iface: ifc.name }, 'no IPv6 link-local address: cannot send MLD queries here');
      const now = this.clock();
      const own = { ipv4: this.sock4 ? ifc.ipv4 : undefined, ipv6: this.sock6 ? ifc.ipv6 : undefined };
      // Startup general queries (RFC 9776 §8.7) come back at once; they are
      // sent once open() has returned, so the owner's listeners see them.
      this.startup.push([now, this.engine.addInterface(ifc.name, own, now)]);
      this.log.info({ iface: ifc.name, index: ifc.index, ipv4: ifc.ipv4 && formatAddr(ifc.ipv4), ipv6: ifc.ipv6 && formatAddr(ifc.ipv6) }, 'listening for IGMP/MLD');
    }
    setImmediate(() => this.flushStartup());
    this.arm(this.clock());
  }

  private flushStartup(): void {
    if (this.closed) return;
    for (const [now, out] of this.startup.splice(0)) this.handle(now, out);
  }

  /** The interfaces served, as looked up at open. */
  interfaces(): LiveInterface[] {
    return [...this.byName.values()];
  }

  /** The whole membership table (engine dump: addresses as text, times as ms remaining). */
  dump(): DumpRow[] {
    return this.engine.dump(this.clock());
  }

  stats(): { engine: EngineStats; live: LiveCounters } {
    return { engine: this.engine.stats(), live: { ...this.counters } };
  }

  /** Releases the sockets (leaving their groups) and the timer; safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.sock4?.close();
    this.sock6?.close();
  }

  private onDatagram(proto: Proto, err: Error | null, pkt?: RawPacket): void {
    if (this.closed) return;
    try {
      if (err || !pkt) {
        this.counters.socketErrors++;
        this.log.warn({ proto, err: err?.message }, 'socket error');
        return;
      }
      if (pkt.error || !pkt.from) {
        this.counters.unframed++;
        this.log.debug({ proto, reason: pkt.error }, 'datagram not framed');
        return;
      }
      const ifc = this.byIndex.get(pkt.ifindex);
      if (!ifc) {
        this.counters.otherInterface++;
        return;
      }
      const from = addrFromBuffer(pkt.from, 0, pkt.from.length as 4 | 16);
      if (from === (proto === 'igmp' ? ifc.ipv4 : ifc.ipv6)) {
        this.counters.own++;
        return;
      }
      this.counters.received++;
      this.flushStartup();
      const now = this.clock();
      const received: ReceivedPacket = {
        iface: ifc.name,
        from,
        to: pkt.to ? addrFromBuffer(pkt.to, 0, pkt.to.length as 4 | 16) : (proto === 'igmp' ? ALL_SYSTEMS : ALL_NODES),
        ttl: pkt.ttl >= 0 ? pkt.ttl : undefined,
        routerAlert: pkt.routerAlert,
        payload: pkt.payload,
      };
      if (this.listenerCount('received') > 0) this.announceReceived(proto, received, now);
      this.handle(now, this.engine.receive(now, received));
      this.arm(now);
    } catch (e) {
      // The engine is pure and promises not to throw on bad input; anything
      // here is our bug, and it must not take the socket down with it.
      this.counters.handlerErrors++;
      this.log.error({ proto, err: (e as Error).stack }, 'membership handler failed');
    }
  }

  private announceReceived(proto: Proto, p: ReceivedPacket, at: number): void {
    try {
      const msg = decodeMembership(proto, p.payload, p.from, p.to);
      this.fire('received', { iface: p.iface, from: formatAddr(p.from), to: formatAddr(p.to), message: messageToJson(msg), at });
    } catch {
      // Undecodable: the engine rejects and counts it; nothing to show here.
    }
  }

  private readonly tick = (): void => {
    this.timer = undefined;
    this.armedFor = undefined;
    if (this.closed) return;
    this.flushStartup();
    const now = this.clock();
    try {
      this.handle(now, this.engine.advance(now));
    } catch (e) {
      this.counters.handlerErrors++;
      this.log.error({ err: (e as Error).stack }, 'membership timer failed');
    }
    this.arm(now);
  };

  /** One timer, at the engine's next deadline (re-armed only when that moved). */
  private arm(now: number): void {
    if (this.closed) return;
    const due = this.engine.nextDeadline();
    if (due === this.armedFor && this.timer) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = due ?? undefined;
    if (due === undefined || due === null || !Number.isFinite(due)) return;
    // Round up: a timer that fires before the deadline would find nothing due.
    this.timer = setTimeout(this.tick, Math.max(0, Math.ceil(due - now)));
  }

  private handle(now: number, outputs: EngineOutput[]): void {
    for (const o of outputs) {
      switch (o.type) {
        case 'active':
        case 'idle':
          this.edge(o.type, o.iface, o.group, o.source, now);
          break;
        case 'query':
          this.sendQuery(o, now);
          break;
        case 'rejected':
          this.log.debug({ iface: o.iface, from: formatAddr(o.from), reason: o.reason }, 'membership message rejected');
          this.fire('rejected', { iface: o.iface, from: formatAddr(o.from), reason: o.reason, at: now });
          break;
      }
    }
    this.refreshCounts(now);
  }

  private edge(type: 'active' | 'idle', iface: string, group: AddrKey, source: AddrKey | typeof ANY_SOURCE, at: number): void {
    const g = formatAddr(group);
    const s = source === ANY_SOURCE ? ANY_SOURCE : formatAddr(source);
    const key = `${iface}\0${group}\0${source}`;
    const listeners = type === 'active' ? Math.max(1, this.engine.listeners(iface, group, source)) : 0;
    if (type === 'active') this.active.set(key, { iface, group, source, text: { group: g, source: s }, listeners });
    else this.active.delete(key);
    this.log.info({ iface, group: g, source: s, listeners }, type === 'active' ? 'group active' : 'group idle');
    this.fire(type, { iface, group: g, source: s, listeners, at });
  }

  /** Reports count changes of active pairs that were not edges (a second host joined). */
  private refreshCounts(at: number): void {
    if (this.active.size === 0 || this.listenerCount('listeners') === 0) return;
    for (const a of this.active.values()) {
      const listeners = this.engine.listeners(a.iface, a.group, a.source);
      if (listeners > 0 && listeners !== a.listeners) {
        a.listeners = listeners;
        this.fire('listeners', { iface: a.iface, group: a.text.group, source: a.text.source, listeners, at });
      }
    }
  }

  private sendQuery(o: Extract<EngineOutput, { type: 'query' }>, at: number): void {
    const ifc = this.byName.get(o.iface);
    const sock = o.proto === 'igmp' ? this.sock4 : this.sock6;
    const from = o.proto === 'igmp' ? ifc?.ipv4 : ifc?.ipv6;
    if (!ifc || !sock || !from) {
      this.counters.sendErrors++;
      return;
    }
    // RFC 9776 §4.1.12 / RFC 9777 §5.1.15: general queries to all-systems /
    // all-nodes, group(-and-source)-specific ones to the group itself.
    const to = isUnspecified(o.group) ? (o.proto === 'igmp' ? ALL_SYSTEMS : ALL_NODES) : o.group;
    const msg: QueryMessage = {
      kind: 'query', proto: o.proto, version: o.version, maxRespMs: o.maxRespMs, group: o.group,
      suppress: o.suppress, qrv: o.qrv, qqicS: o.qqicS, sources: o.sources,
    };
    try {
      const bytes = o.proto === 'igmp' ? encodeIgmp(msg) : encodeMld(msg, from, to);
      sock.send(bytes, addrToBuffer(to), ifc.index, addrToBuffer(from));
      this.counters.queriesSent++;
    } catch (e) {
      this.counters.sendErrors++;
      this.log.warn({ iface: o.iface, proto: o.proto, err: (e as Error).message }, 'query not sent');
      return;
    }
    this.fire('query', {
      iface: o.iface, proto: o.proto, version: o.version, group: formatAddr(o.group), sources: o.sources.map(formatAddr), at,
    });
  }

  /** emit() that a throwing listener cannot turn into a socket or timer failure. */
  private fire<K extends keyof LiveMembershipEvents>(name: K, ...args: LiveMembershipEvents[K]): void {
    try {
      (this.emit as (n: string, ...a: unknown[]) => boolean)(name, ...args);
    } catch (e) {
      this.counters.handlerErrors++;
      this.log.error({ event: name, err: (e as Error).stack }, 'membership event listener threw');
    }
  }
}
