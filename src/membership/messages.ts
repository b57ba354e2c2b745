/**
 * Membership messages from text, and engine outputs to JSON: what people and
 * traces read and write. The engine itself works on AddrKeys only.
 *
 * Used by `headend simulate`, by tests and by the benchmark to build reports
 * without hand-writing bytes.
 */
import { formatAddr, parseAddr, IPV4_ANY, IPV6_ANY, type AddrKey } from './addr.js';
import {
  RecordType,
  type EngineOutput,
  type GroupRecord,
  type LegacyLeave,
  type LegacyReport,
  type Proto,
  type QueryMessage,
  type SourceReport,
} from './types.js';

/** RFC 9776 §6.4 short names of the record types. */
export const RECORD_NAMES = {
  IS_IN: RecordType.MODE_IS_INCLUDE,
  IS_EX: RecordType.MODE_IS_EXCLUDE,
  TO_IN: RecordType.CHANGE_TO_INCLUDE_MODE,
  TO_EX: RecordType.CHANGE_TO_EXCLUDE_MODE,
  ALLOW: RecordType.ALLOW_NEW_SOURCES,
  BLOCK: RecordType.BLOCK_OLD_SOURCES,
} as const;
export type RecordName = keyof typeof RECORD_NAMES;

function protoOf(key: AddrKey): Proto {
  return key.length === 4 ? 'igmp' : 'mld';
}

/** One group record, e.g. `record('TO_EX', 'ff3e::1', ['2001:db8::1'])`. */
export function record(type: RecordName, group: string, sources: string[] = []): GroupRecord {
  return { type: RECORD_NAMES[type], group: parseAddr(group), sources: sources.map(parseAddr), auxWords: 0 };
}

/** An IGMPv3 / MLDv2 report holding `records` (the family of the first group decides). */
export function sourceReport(...records: GroupRecord[]): SourceReport {
  const proto = records.length > 0 ? protoOf(records[0].group) : 'mld';
  return { kind: 'report', proto, version: proto === 'igmp' ? 3 : 2, records };
}

/** IGMPv1/v2 or MLDv1 report; version defaults to IGMPv2 / MLDv1. */
export function legacyReport(group: string, version?: number): LegacyReport {
  const key = parseAddr(group);
  const proto = protoOf(key);
  return { kind: 'legacy-report', proto, version: version ?? (proto === 'igmp' ? 2 : 1), group: key, maxRespCode: 0 };
}

/** IGMPv2 Leave / MLDv1 Done. */
export function legacyLeave(group: string): LegacyLeave {
  const key = parseAddr(group);
  const proto = protoOf(key);
  return { kind: 'legacy-leave', proto, version: proto === 'igmp' ? 2 : 1, group: key };
}

export interface QueryOptions {
  proto: Proto;
  /** Omitted: a general query. */
  group?: string;
  sources?: string[];
  suppress?: boolean;
  qrv?: number;
  qqicS?: number;
  maxRespMs?: number;
  version?: number;
}

/** A query as another querier would send it. */
export function query(o: QueryOptions): QueryMessage {
  return {
    kind: 'query',
    proto: o.proto,
    version: o.version ?? (o.proto === 'igmp' ? 3 : 2),
    maxRespMs: o.maxRespMs ?? 10_000,
    group: o.group !== undefined ? parseAddr(o.group) : o.proto === 'igmp' ? IPV4_ANY : IPV6_ANY,
    suppress: o.suppress ?? false,
    qrv: o.qrv ?? 0,
    qqicS: o.qqicS ?? 0,
    sources: (o.sources ?? []).map(parseAddr),
  };
}

/**
 * An engine output as one JSON object, addresses as text: the `simulate`
 * output line without `at`. Query lines carry, beyond the contract's
 * `group` and `sources`, the `version` and the S flag (`suppress`).
 */
export function outputToJson(o: EngineOutput): Record<string, unknown> {
  switch (o.type) {
    case 'active':
    case 'idle':
      return { event: o.type, iface: o.iface, group: formatAddr(o.group), source: o.source === '*' ? '*' : formatAddr(o.source) };
    case 'query':
      return {
        event: 'query',
        iface: o.iface,
        group: formatAddr(o.group),
        sources: o.sources.map(formatAddr),
        version: o.version,
        suppress: o.suppress,
      };
    case 'rejected':
      return { event: 'rejected', reason: o.reason };
  }
}
