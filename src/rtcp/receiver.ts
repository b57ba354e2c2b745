/**
 * The RTCP edge: hears the receivers' reports for every live group and feeds
 * RtcpStats.
 *
 * Receivers send RTCP to the group itself, port 5005 (the SDP's a=rtcp;
 * ffmpeg and VLC do so from their link-local address). One UDP socket per
 * group, bound to the GROUP address: with several sockets on port 5005, Linux
 * delivers a multicast datagram to every socket bound to the wildcard
 * address, so binding to the group is what keeps channel A's reports out of
 * channel B. The socket joins the group on the egress interface so that the
 * kernel accepts the datagrams at all.
 *
 * RFC 5760-style unicast feedback (a receiver that cannot send to an SSM
 * group sends to the source) arrives on one extra socket bound to the
 * wildcard address and port; its reports are matched to a channel by the
 * SSRC of our stream named in the report block.
 *
 * Malformed datagrams are counted by reason and dropped; nothing thrown here
 * leaves a socket handler.
 */
import dgram from 'node:dgram';
import { isIPv4 } from 'node:net';
import type { Logger } from '../log.js';
import { parseRtcp, RtcpError } from './packet.js';
import { RtcpStats, type ChannelReception, type RtcpStatsOptions } from './stats.js';

export interface RtcpGroupOptions {
  group: string;
  /** Egress interface name the listeners are on. */
  iface: string;
  /** IPv4 address of that interface (IPv4 groups join through it). */
  ifaceAddress4?: string;
  /** Our RTP SSRC for this group, when known. */
  ssrc?: number;
  /** RTP clock rate of the group's payload when it is not the receiver's (e.g. 48000 for Opus, RFC 7587 §4.1): jitter is in its units. */
  clockRate?: number;
  port?: number;
}

export interface RtcpReceiverOptions extends RtcpStatsOptions {
  logger: Logger;
  clock?: () => number;
  /** Port for unicast feedback (RFC 5760 style); undefined = none. */
  unicastPort?: number;
}

/** One group's socket and the interfaces it has joined on (name → IPv4 interface address, if any). */
interface GroupSocket {
  socket: dgram.Socket;
  ready: Promise<void>;
  joined: Map<string, string | undefined>;
  clockRate?: number;
  closed: boolean;
}

export class RtcpReceiver {
  readonly stats: RtcpStats;
  private readonly sockets = new Map<string, GroupSocket>();
  private readonly ssrcToGroup = new Map<number, string>();
  private unicast?: dgram.Socket;
  private readonly clock: () => number;
  /** The clock rate RtcpStats converts jitter with. */
  private readonly clockRate: number;
  readonly counters = { datagrams: 0, malformed: new Map<string, number>() };

  constructor(private readonly opts: RtcpReceiverOptions) {
    this.stats = new RtcpStats(opts);
    this.clock = opts.clock ?? Date.now;
    this.clockRate = opts.clockRate ?? 90_000;
  }

  /**
   * Listens for a group's RTCP on an interface. A group served on several
   * interfaces has one socket that joins on each. Resolves once the socket is
   * bound and joined there; a close() meanwhile wins (nothing is left open).
   */
  async open(o: RtcpGroupOptions): Promise<void> {
    const v4 = isIPv4(o.group);
    let g = this.sockets.get(o.group);
    if (!g) {
      const socket = dgram.createSocket({ type: v4 ? 'udp4' : 'udp6', reuseAddr: true });
      socket.on('message', (msg, rinfo) => this.onDatagram(o.group, msg, rinfo.address));
      const ready = new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        // Closed while binding: open() returns and finds it closed.
        socket.once('close', () => resolve());
        socket.bind({ address: o.group, port: o.port ?? 5005 }, () => {
          socket.off('error', reject);
          socket.on('error', (err) => this.opts.logger.warn({ group: o.group, err: err.message }, 'RTCP socket error'));
          resolve();
        });
      });
      const created: GroupSocket = { socket, ready, joined: new Map(), closed: false };
      g = created;
      this.sockets.set(o.group, created);
      this.stats.open(o.group, o.ssrc);
      if (o.ssrc !== undefined) this.ssrcToGroup.set(o.ssrc, o.group);
      ready.catch(() => { if (this.sockets.get(o.group) === created) this.close(o.group); });
    } else if (o.ssrc !== undefined) {
      // A new stream on the group (a restarted session) has a new SSRC.
      this.stats.open(o.group, o.ssrc);
      this.ssrcToGroup.set(o.ssrc, o.group);
    }
    if (o.clockRate) g.clockRate = o.clockRate;
    const mine = g;
    await mine.ready;
    if (mine.closed || mine.joined.has(o.iface)) return;
    const via = v4 ? o.ifaceAddress4 : `::%${o.iface}`;
    try {
      mine.socket.addMembership(o.group, via);
    } catch (err) {
      if (mine.joined.size === 0) this.close(o.group);
      throw new Error(`RTCP: cannot join ${o.group} on ${o.iface}: ${(err as Error).message}`);
    }
    mine.joined.set(o.iface, via);
    this.opts.logger.debug({ group: o.group, iface: o.iface }, 'listening for RTCP');
  }

  /** Opens the wildcard socket for unicast feedback, if configured. */
  async openUnicast(): Promise<void> {
    if (this.unicast || this.opts.unicastPort === undefined) return;
    const socket = dgram.createSocket({ type: 'udp6', reuseAddr: true });
    socket.on('message', (msg, rinfo) => this.onUnicast(msg, rinfo.address));
    socket.on('error', (err) => this.opts.logger.warn({ err: err.message }, 'RTCP unicast socket error'));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: '::', port: this.opts.unicastPort }, () => { socket.off('error', reject); resolve(); });
    });
    this.unicast = socket;
  }

  /** Stops listening on one interface; the group's socket closes with its last interface. */
  leave(group: string, iface: string): void {
    const g = this.sockets.get(group);
    if (!g) return;
    if (g.joined.has(iface)) {
      const via = g.joined.get(iface);
      g.joined.delete(iface);
      try { g.socket.dropMembership(group, via); } catch { /* the interface may be gone; closing drops it anyway */ }
    }
    if (g.joined.size === 0) this.close(group);
  }

  /** Stops listening for a group everywhere (safe to call twice, or while open() is still binding). */
  close(group: string): void {
    const g = this.sockets.get(group);
    if (!g) return;
    this.sockets.delete(group);
    g.closed = true;
    g.joined.clear();
    try { g.socket.close(); } catch { /* not bound yet, or already closed */ }
    this.stats.close(group);
    for (const [ssrc, owner] of this.ssrcToGroup) if (owner === group) this.ssrcToGroup.delete(ssrc);
  }

  /** Groups listened for now. */
  groups(): string[] {
    return [...this.sockets.keys()];
  }

  reception(group: string): ChannelReception | undefined {
    const rx = this.stats.reception(group, this.clock());
    const rate = this.sockets.get(group)?.clockRate;
    if (!rx || !rate || rate === this.clockRate) return rx;
    // RtcpStats converts jitter with one clock rate for all; this group's timestamps tick at another.
    const k = this.clockRate / rate;
    return { ...rx, jitterMs: rx.jitterMs * k, perReceiver: rx.perReceiver.map((r) => ({ ...r, jitterMs: r.jitterMs * k })) };
  }

  closeAll(): void {
    for (const group of [...this.sockets.keys()]) this.close(group);
    this.unicast?.close();
    this.unicast = undefined;
  }

  private countMalformed(reason: string): void {
    // Reasons carry offsets and lengths; count by their stable prefix.
    const key = reason.replace(/\d+/g, 'N').slice(0, 80);
    this.counters.malformed.set(key, (this.counters.malformed.get(key) ?? 0) + 1);
  }

  private parse(msg: Buffer, from: string) {
    this.counters.datagrams++;
    try {
      return parseRtcp(msg);
    } catch (err) {
      const reason = err instanceof RtcpError ? err.reason : String(err);
      this.countMalformed(reason);
      this.opts.logger.debug({ from, reason }, 'dropped malformed RTCP');
      return undefined;
    }
  }

  private onDatagram(group: string, msg: Buffer, from: string): void {
    const parsed = this.parse(msg, from);
    if (parsed) this.stats.ingest(this.clock(), group, from, parsed);
  }

  private onUnicast(msg: Buffer, from: string): void {
    const parsed = this.parse(msg, from);
    if (!parsed) return;
    const groups = new Set<string>();
    for (const r of parsed.reports) for (const b of r.blocks) {
      const g = this.ssrcToGroup.get(b.source);
      if (g) groups.add(g);
    }
    for (const g of groups) this.stats.ingest(this.clock(), g, from, parsed);
  }
}
