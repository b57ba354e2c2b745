/**
 * The shapes shared by the membership codecs (igmp.ts, mld.ts), the router
 * state machine (table.ts) and the edges that feed it (live sockets,
 * `simulate`). Addresses are AddrKeys (raw bytes, see addr.ts).
 */
import type { AddrKey } from './addr.js';

export type Proto = 'igmp' | 'mld';

/** RFC 9776 §4.2.12 / RFC 9777 §5.2.12 record types. */
export const RecordType = {
  MODE_IS_INCLUDE: 1,
  MODE_IS_EXCLUDE: 2,
  CHANGE_TO_INCLUDE_MODE: 3,
  CHANGE_TO_EXCLUDE_MODE: 4,
  ALLOW_NEW_SOURCES: 5,
  BLOCK_OLD_SOURCES: 6,
} as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

export interface GroupRecord {
  type: RecordType;
  group: AddrKey;
  sources: AddrKey[];
  /** Aux data length in 32-bit words; the data itself is skipped (RFC 9776 §4.2.6). */
  auxWords: number;
}

/** IGMPv1/v2/v3 or MLDv1/v2 query. */
export interface QueryMessage {
  kind: 'query';
  proto: Proto;
  /** IGMP 1|2|3, MLD 1|2. */
  version: number;
  /** Maximum response time decoded to milliseconds (0 for IGMPv1). */
  maxRespMs: number;
  /** Unspecified address (0.0.0.0 / ::) for a general query. */
  group: AddrKey;
  /** S flag: suppress router-side processing (v3/MLDv2 only). */
  suppress: boolean;
  /** Querier's robustness variable (0 = not given). */
  qrv: number;
  /** Querier's query interval in seconds, decoded (0 = not given). */
  qqicS: number;
  sources: AddrKey[];
}

/** IGMPv3 (type 0x22) or MLDv2 (ICMPv6 143) report: any number of records. */
export interface SourceReport {
  kind: 'report';
  proto: Proto;
  /** IGMP 3, MLD 2. */
  version: number;
  records: GroupRecord[];
}

/** IGMPv1 (0x12), IGMPv2 (0x16) or MLDv1 (ICMPv6 131) report for one group. */
export interface LegacyReport {
  kind: 'legacy-report';
  proto: Proto;
  /** IGMP 1|2, MLD 1. */
  version: number;
  group: AddrKey;
  /** Max response / max delay field as sent (normally 0 in reports). */
  maxRespCode: number;
}

/** IGMPv2 Leave (0x17) or MLDv1 Done (ICMPv6 132). */
export interface LegacyLeave {
  kind: 'legacy-leave';
  proto: Proto;
  version: number;
  group: AddrKey;
}

export type MembershipMessage = QueryMessage | SourceReport | LegacyReport | LegacyLeave;

/** What a source of membership messages (raw socket, trace, bridge) hands the engine. */
export interface ReceivedPacket {
  iface: string;
  /** Sender: IPv4 source, or IPv6 link-local source. */
  from: AddrKey;
  /** IP destination of the packet. */
  to: AddrKey;
  /** IPv4 TTL / IPv6 hop limit, when the edge knows it. */
  ttl?: number;
  /** Router Alert option present, when the edge knows it. */
  routerAlert?: boolean;
  /** The IGMP message or ICMPv6 message only: no IP header. */
  payload: Buffer;
}

/** `source` for an any-source (ASM) group in events. */
export const ANY_SOURCE = '*';

/**
 * What the engine tells its owner. Addresses stay AddrKeys; edges format them.
 * `active`/`idle`: a (group, source) on an interface gained its first / lost
 * its last listener. `query`: a query the engine wants sent now.
 * `rejected`: a message dropped (counted), with the reason.
 */
export type EngineOutput =
  | { type: 'active' | 'idle'; iface: string; group: AddrKey; source: AddrKey | typeof ANY_SOURCE }
  | {
      type: 'query';
      iface: string;
      proto: Proto;
      /** Query version to send (3 for IGMPv3 / 2 for MLDv2, lower in compatibility mode). */
      version: number;
      /** Unspecified address for a general query. */
      group: AddrKey;
      sources: AddrKey[];
      suppress: boolean;
      maxRespMs: number;
      qrv: number;
      qqicS: number;
    }
  | { type: 'rejected'; iface: string; from: AddrKey; reason: string };
