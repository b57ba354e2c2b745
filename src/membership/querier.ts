/**
 * The querier of one address family on one interface (RFC 9776 §6.6.2, §6.7;
 * RFC 9777 §7.6.2, §7.7), and the timer values derived from it.
 *
 * Pure: `now` comes in, queries go out as EngineOutput items for the live edge
 * to encode and send. The engine owns the deadline heap and calls `fire` when
 * `wakeAt` is due.
 */
import { IPV4_ANY, IPV6_ANY, isUnspecified, type AddrKey } from './addr.js';
import type { DeadlineOwner } from './deadlines.js';
import type { MembershipConfig } from '../config.js';
import type { EngineOutput, Proto, QueryMessage } from './types.js';

export type QueryOutput = Extract<EngineOutput, { type: 'query' }>;

/** RFC 9776 §8 / RFC 9777 §9 values in ms, for the robustness and interval in force. */
export interface Timers {
  robustness: number;
  queryIntervalMs: number;
  queryResponseIntervalMs: number;
  /** Group Membership Interval = RV * QI + QRI (RFC 9776 §8.4). */
  groupMembershipMs: number;
  /** Other Querier Present Interval = RV * QI + QRI / 2 (RFC 9776 §8.5). */
  otherQuerierPresentMs: number;
  /** Older Version Host Present Timeout = RV * QI + QRI (RFC 9776 §8.13). */
  olderHostPresentMs: number;
  lastMemberQueryIntervalMs: number;
  lastMemberQueryCount: number;
  /** LMQT = LMQI * LMQC (RFC 9776 §8.9). */
  lastMemberQueryTimeMs: number;
}

/**
 * Timers from the config, with a robustness / query interval adopted from
 * another querier's query in place of the configured ones when given.
 */
export function makeTimers(cfg: MembershipConfig, adoptedQrv = 0, adoptedQiMs = 0): Timers {
  const robustness = adoptedQrv || cfg.robustness;
  const queryIntervalMs = adoptedQiMs || cfg.queryIntervalMs;
  const qri = cfg.queryResponseIntervalMs;
  // LMQC defaults to the robustness variable (RFC 9776 §8.8); an adopted QRV
  // replaces it, since the querier that sent it will retransmit that often.
  const lastMemberQueryCount = adoptedQrv || cfg.lastMemberQueryCount;
  return {
    robustness,
    queryIntervalMs,
    queryResponseIntervalMs: qri,
    groupMembershipMs: robustness * queryIntervalMs + qri,
    otherQuerierPresentMs: robustness * queryIntervalMs + Math.floor(qri / 2),
    olderHostPresentMs: robustness * queryIntervalMs + qri,
    lastMemberQueryIntervalMs: cfg.lastMemberQueryIntervalMs,
    lastMemberQueryCount,
    lastMemberQueryTimeMs: cfg.lastMemberQueryIntervalMs * lastMemberQueryCount,
  };
}

export class QuerierState implements DeadlineOwner {
  wakeAt = 0;
  alive = true;
  readonly kind = 'querier' as const;
  timers: Timers;
  /** We send queries on this interface/family now. */
  isQuerier = false;
  /** The querier we defer to (lowest address heard, RFC 9776 §6.6.2). */
  otherQuerier: AddrKey | undefined;
  otherQuerierUntil = 0;
  /** Startup general queries still to send after the next one. */
  private startupLeft = 0;
  private nextQueryAt = 0;
  private adoptedQrv = 0;
  private adoptedQiMs = 0;
  readonly unspecified: AddrKey;

  constructor(
    readonly iface: string,
    readonly proto: Proto,
    /** Our own source address for queries; none means we can never be querier. */
    readonly own: AddrKey | undefined,
    private readonly cfg: MembershipConfig,
  ) {
    this.timers = makeTimers(cfg);
    this.unspecified = proto === 'igmp' ? IPV4_ANY : IPV6_ANY;
  }

  /** Version we speak: IGMPv3 / MLDv2. */
  get version(): number {
    return this.proto === 'igmp' ? 3 : 2;
  }

  private get mayQuery(): boolean {
    return this.cfg.querier && this.own !== undefined;
  }

  /**
   * Startup (RFC 9776 §6.6.2): a router starts as querier and sends
   * [Startup Query Count] general queries [Startup Query Interval] apart.
   */
  start(now: number, out: EngineOutput[]): void {
    if (!this.mayQuery) return;
    this.isQuerier = true;
    const count = this.cfg.startupQueryCount;
    if (count === 0) {
      this.nextQueryAt = now + this.timers.queryIntervalMs;
      return;
    }
    this.startupLeft = count - 1;
    this.sendGeneral(now, out);
  }

  /** Earliest time `fire` has work, or 0. */
  nextWake(): number {
    const a = this.otherQuerierUntil;
    const b = this.nextQueryAt;
    if (a === 0) return b;
    if (b === 0) return a;
    return a < b ? a : b;
  }

  fire(now: number, out: EngineOutput[]): void {
    if (this.otherQuerierUntil !== 0 && this.otherQuerierUntil <= now) {
      // RFC 9776 §6.6.2: the other querier went quiet; we take over, and go
      // back to our own robustness and interval (the adopted ones were its).
      this.otherQuerierUntil = 0;
      this.otherQuerier = undefined;
      this.setAdopted(0, 0);
      if (this.mayQuery) {
        this.isQuerier = true;
        this.startupLeft = 0;
        this.sendGeneral(now, out);
      }
    }
    if (this.nextQueryAt !== 0 && this.nextQueryAt <= now) {
      if (this.isQuerier) this.sendGeneral(now, out);
      else this.nextQueryAt = 0;
    }
  }

  private sendGeneral(now: number, out: EngineOutput[]): void {
    out.push(this.query(this.unspecified, [], false, this.timers.queryResponseIntervalMs, this.version));
    if (this.startupLeft > 0) {
      this.startupLeft--;
      this.nextQueryAt = now + this.cfg.startupQueryIntervalMs;
    } else {
      this.nextQueryAt = now + this.timers.queryIntervalMs;
    }
  }

  /** A query to send, with our QRV and QQIC (RFC 9776 §4.1.6, §4.1.7). */
  query(group: AddrKey, sources: AddrKey[], suppress: boolean, maxRespMs: number, version: number): QueryOutput {
    const t = this.timers;
    return {
      type: 'query',
      iface: this.iface,
      proto: this.proto,
      version,
      group,
      sources,
      suppress,
      maxRespMs,
      // QRV is 3 bits: a robustness above 7 is sent as 0 ("not given").
      qrv: t.robustness <= 7 ? t.robustness : 0,
      qqicS: Math.ceil(t.queryIntervalMs / 1000),
    };
  }

  /**
   * A query heard from `from` (RFC 9776 §6.6.2): the lowest address is the
   * querier. Queries from 0.0.0.0 / :: (a snooping Linux bridge) take no part
   * in the election. Returns true when the election or the timers changed.
   */
  heard(now: number, from: AddrKey, msg: QueryMessage): boolean {
    if (isUnspecified(from) || from === this.own) return false;
    // We stay querier against a higher address (only when we may query at all).
    if (this.mayQuery && this.own !== undefined && from > this.own) return false;
    // Defer to the lowest querier we hear while its Other Querier Present runs.
    if (this.otherQuerier !== undefined && this.otherQuerierUntil > now && from > this.otherQuerier) return false;
    this.otherQuerier = from;
    this.isQuerier = false;
    this.startupLeft = 0;
    this.nextQueryAt = 0;
    // RFC 9776 §4.1.6, §4.1.7: adopt the querier's QRV and QQI unless zero.
    // Only v3 / MLDv2 queries carry them (the codec gives 0 otherwise).
    this.setAdopted(msg.qrv, msg.qqicS * 1000);
    this.otherQuerierUntil = now + this.timers.otherQuerierPresentMs;
    return true;
  }

  private setAdopted(qrv: number, qiMs: number): void {
    if (qrv === this.adoptedQrv && qiMs === this.adoptedQiMs) return;
    this.adoptedQrv = qrv;
    this.adoptedQiMs = qiMs;
    this.timers = makeTimers(this.cfg, qrv, qiMs);
  }
}
