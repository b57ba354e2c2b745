/**
 * Reception quality per channel from the receivers' RTCP (RFC 3550 §6.4).
 *
 * Pure: `now` is passed in, nothing here touches a socket or a timer. The
 * edge (receiver.ts) hands every datagram heard on a live group's RTCP port
 * to `ingest()`, and calls `expire(now)` from time to time.
 *
 * A receiver is one SSRC. It is forgotten after `timeoutIntervals` of its
 * own reporting intervals without a report (RFC 3550 §6.3.5 uses 5 × the
 * deterministic interval; we cannot compute other members' interval, so we
 * use the interval we observe, never less than the RFC's 5 s minimum), and at
 * once when it sends a BYE (§6.3.7).
 */
import type { ParsedRtcp } from './packet.js';

export interface ReceiverStats {
  ssrc: number;
  cname?: string;
  name?: string;
  tool?: string;
  /** Address the reports come from. */
  address: string;
  fractionLost: number;
  cumulativeLost: number;
  /** Interarrival jitter in milliseconds (RTP timestamp units / clock rate). */
  jitterMs: number;
  lastReportAt: number;
  /** Observed time between this receiver's reports. */
  intervalMs: number;
  reports: number;
}

export interface ChannelReception {
  receivers: number;
  /** Mean of the receivers' fraction lost, 0..1. */
  fractionLost: number;
  /** Largest cumulative loss among the receivers. */
  cumulativeLost: number;
  /** Worst (largest) jitter among the receivers, ms. */
  jitterMs: number;
  lastReportAt?: number;
  perReceiver: ReceiverStats[];
}

export interface RtcpStatsOptions {
  /** RTP clock rate of the channels (90 kHz for payload types 14 and 33). */
  clockRate?: number;
  timeoutIntervals?: number;
  /** RFC 3550 §6.2: the minimum RTCP interval, 5 s. */
  minIntervalMs?: number;
}

interface Channel {
  /** Our stream's SSRC, when known: blocks about other sources are ignored. */
  source?: number;
  receivers: Map<number, ReceiverStats>;
}

export class RtcpStats {
  private readonly channels = new Map<string, Channel>();
  private readonly clockRate: number;
  private readonly timeoutIntervals: number;
  private readonly minIntervalMs: number;
  /** Datagrams that carried nothing about a known channel's stream. */
  ignoredBlocks = 0;

  constructor(opts: RtcpStatsOptions = {}) {
    this.clockRate = opts.clockRate ?? 90_000;
    this.timeoutIntervals = opts.timeoutIntervals ?? 5;
    this.minIntervalMs = opts.minIntervalMs ?? 5_000;
  }

  /** Starts collecting for a channel (e.g. its group). `source` is our RTP SSRC if known. */
  open(channel: string, source?: number): void {
    const existing = this.channels.get(channel);
    if (existing) existing.source = source ?? existing.source;
    else this.channels.set(channel, { source, receivers: new Map() });
  }

  close(channel: string): void {
    this.channels.delete(channel);
  }

  ingest(now: number, channel: string, from: string, rtcp: ParsedRtcp): void {
    const ch = this.channels.get(channel);
    if (!ch) return;
    for (const report of rtcp.reports) {
      // Our own sender reports loop back to the group socket: not a receiver.
      if (ch.source !== undefined && report.reporter === ch.source) continue;
      const block = report.blocks.find((b) => ch.source === undefined || b.source === ch.source);
      if (!block) { this.ignoredBlocks++; continue; }
      const prev = ch.receivers.get(report.reporter);
      const stats: ReceiverStats = prev ?? {
        ssrc: report.reporter, address: from, fractionLost: 0, cumulativeLost: 0, jitterMs: 0,
        lastReportAt: now, intervalMs: this.minIntervalMs, reports: 0,
      };
      if (prev) stats.intervalMs = Math.max(this.minIntervalMs, now - prev.lastReportAt);
      stats.address = from;
      stats.fractionLost = block.fractionLost;
      stats.cumulativeLost = block.cumulativeLost;
      stats.jitterMs = (block.jitter / this.clockRate) * 1000;
      stats.lastReportAt = now;
      stats.reports++;
      ch.receivers.set(report.reporter, stats);
    }
    for (const sdes of rtcp.sdes) {
      const stats = ch.receivers.get(sdes.ssrc);
      if (!stats) continue;
      if (sdes.cname !== undefined) stats.cname = sdes.cname;
      if (sdes.name !== undefined) stats.name = sdes.name;
      if (sdes.tool !== undefined) stats.tool = sdes.tool;
    }
    for (const ssrc of rtcp.byes) ch.receivers.delete(ssrc);
  }

  /** Forgets receivers silent for `timeoutIntervals` of their interval. */
  expire(now: number): void {
    for (const ch of this.channels.values()) this.expireChannel(ch, now);
  }

  private expireChannel(ch: Channel, now: number): void {
    for (const [ssrc, r] of ch.receivers) {
      if (now - r.lastReportAt >= this.timeoutIntervals * r.intervalMs) ch.receivers.delete(ssrc);
    }
  }

  reception(channel: string, now: number): ChannelReception | undefined {
    const ch = this.channels.get(channel);
    if (!ch) return undefined;
    // Only this channel: /status asks once per session.
    this.expireChannel(ch, now);
    const list = [...ch.receivers.values()].map((r) => ({ ...r }));
    const n = list.length;
    return {
      receivers: n,
      fractionLost: n ? list.reduce((s, r) => s + r.fractionLost, 0) / n : 0,
      cumulativeLost: n ? Math.max(...list.map((r) => r.cumulativeLost)) : 0,
      jitterMs: n ? Math.max(...list.map((r) => r.jitterMs)) : 0,
      lastReportAt: n ? Math.max(...list.map((r) => r.lastReportAt)) : undefined,
      perReceiver: list,
    };
  }
}

/** "2 listeners by MLD, 2 receivers by RTCP, 0.1 % loss" */
export function describeReception(listeners: number, proto: 'MLD' | 'IGMP', rx: ChannelReception | undefined): string {
  const receivers = rx?.receivers ?? 0;
  const loss = ((rx?.fractionLost ?? 0) * 100).toFixed(1);
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  return `${plural(listeners, 'listener')} by ${proto}, ${plural(receivers, 'receiver')} by RTCP, ${loss} % loss`;
}
