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
  port?: number;
}

export interface RtcpReceiverOptions extends RtcpStatsOptions {
  logger: Logger;
  clock?: () => number;
  /** Port for unicast feedback (RFC 5760 style); undefined = none. */
  unicastPort?: number;
}

export class RtcpReceiver {
  readonly stats: RtcpStats;
  private readonly sockets = new Map<string, dgram.Socket>();
  private readonly ssrcToGroup = new Map<number, string>();
  private unicast?: dgram.Socket;
  private readonly clock: () => number;
  readonly counters = { datagrams: 0, malformed: new Map<string, number>() };

  constructor(private readonly opts: RtcpReceiverOptions) {
    this.stats = new RtcpStats(opts);
    this.clock = opts.clock ?? Date.now;
  }

  /** Listens for a group's RTCP. Resolves once the socket is bound and joined. */
  async open(o: RtcpGroupOptions): Promise<void> {
    if (this.sockets.has(o.group)) return;
    const v4 = isIPv4(o.group);
    const socket = dgram.createSocket({ type: v4 ? 'udp4' : 'udp6', reuseAddr: true });
    socket.on('message', (msg, rinfo) => this.onDatagram(o.group, msg, rinfo.address));
    socket.on('error', (err) => this.opts.logger.warn({ group: o.group, err: err.message }, 'RTCP socket error'));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: o.group, port: o.port ?? 5005 }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    try {
      socket.addMembership(o.group, v4 ? o.ifaceAddress4 : `::%${o.iface}`);
    } catch (err) {
      socket.close();
      throw new Error(`RTCP: cannot join ${o.group} on ${o.iface}: ${(err as Error).message}`);
    }
    this.sockets.set(o.group, socket);
    this.stats.open(o.group, o.ssrc);
    if (o.ssrc !== undefined) this.ssrcToGroup.set(o.ssrc, o.group);
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

  close(group: string): void {
    const socket = this.sockets.get(group);
    if (!socket) return;
    this.sockets.delete(group);
    socket.close();
    this.stats.close(group);
    for (const [ssrc, g] of this.ssrcToGroup) if (g === group) this.ssrcToGroup.delete(ssrc);
  }

  reception(group: string): ChannelReception | undefined {
    return this.stats.reception(group, this.clock());
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
