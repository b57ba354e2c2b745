/**
 * Records the store hands out. Other rooms code against these: sessions and
 * ingest read Channel (url or DVB tuning), the DVB tuner pool reads DvbTuning,
 * the session manager writes HistoryEntry.
 */
import type { Polarisation } from '../plan/plan.js';

export type { Polarisation };

export type DvbSystem = 'DVBS' | 'DVBS2';
/** As dvblast's `-m` names them (upper case here; dvblast takes them lower case). */
export type DvbModulation = 'QPSK' | 'PSK_8' | 'APSK_16' | 'APSK_32';

/** How to tune the carrier a DVB service lives on (dvblast -f -v -s -5 -F -m). */
export interface DvbTuning {
  /** Downlink frequency in kHz (dvblast -f). */
  frequencyKhz: number;
  /** H / V linear, L / R circular; LNB voltage 18 V for H and L, 13 V for V and R (dvblast -v). */
  polarisation: Polarisation;
  /** Symbols per second, e.g. 22000000 (dvblast -s). */
  symbolRate: number;
  /** dvblast -5. */
  system: DvbSystem;
  /** Inner FEC as a fraction: '1/2' '2/3' '3/4' '3/5' '4/5' '5/6' '6/7' '7/8' '8/9' '9/10' or 'auto' (dvblast -F takes it without the slash: 34). */
  fec: string;
  modulation: DvbModulation;
}

export type ChannelKind = 'radio' | 'dvb';

export interface Channel {
  id: number;
  /** 32-bit service number, assigned once, never moved (src/plan/plan.ts). */
  serviceNumber: number;
  /** IPv6 group, RFC 5952 text. */
  group: string;
  /** IPv4 group, when the plan assigns them. */
  groupV4?: string;
  name: string;
  kind: ChannelKind;
  /** Radio: the stream (or playlist, or Tune.ashx link) to resolve at play time. */
  url?: string;
  /** DVB: the carrier; serviceId names the service in its transport stream. */
  tuning?: DvbTuning;
  serviceId?: number;
  /** Codec hint from the directory ('MP3', 'AAC', 'audio/mpeg' ...), not trusted. */
  codec?: string;
  enabled: boolean;
  /** Pinned: a directory re-sync never changes this channel (admin edits stick). */
  pinned: boolean;
  tags: string[];
  directoryId?: number;
  /** The directory's stable key: stationuuid, listen_url, URL, guide_id, or `<kHz><pol>/<sid>`. */
  externalId?: string;
  /** Set when the last sync of its directory did not list it any more (ms since epoch). */
  missingSince?: number;
  homepage?: string;
  country?: string;
  bitrate?: number;
}

export type HistoryEvent = 'start' | 'live' | 'stop' | 'fail' | 'refused';

export interface HistoryEntry {
  group: string;
  channelId?: number;
  event: HistoryEvent;
  reason?: string;
  listeners?: number;
  error?: string;
  /** ms since epoch; default now. */
  at?: number;
}

export interface HistoryRow extends Required<Pick<HistoryEntry, 'group' | 'event' | 'at'>> {
  id: number;
  channelId?: number;
  reason?: string;
  listeners?: number;
  error?: string;
}

export type DirectoryKind = 'icecast' | 'radio-browser' | 'opml' | 'm3u' | 'dvb' | 'manual' | 'config';

export interface Directory {
  /** Also the directory number in radio service numbers (never reused). */
  id: number;
  name: string;
  kind: DirectoryKind;
  source?: string;
  channels: number;
  lastSyncAt?: number;
}

export interface SyncRow {
  id: number;
  directoryId: number;
  source: string;
  startedAt: number;
  finishedAt: number;
  seen: number;
  added: number;
  updated: number;
  unchanged: number;
  skipped: number;
  missing: number;
  /** reason → count */
  skipReasons: Record<string, number>;
}

export interface ChannelFilter {
  kind?: ChannelKind;
  enabled?: boolean;
  directoryId?: number;
  tag?: string;
  /** Case-insensitive substring of name, tags, url or group. */
  text?: string;
  limit?: number;
  offset?: number;
}

export interface NewChannel {
  name: string;
  kind?: ChannelKind;
  url?: string;
  tuning?: DvbTuning;
  serviceId?: number;
  codec?: string;
  tags?: string[];
  enabled?: boolean;
  pinned?: boolean;
  /** An explicit IPv6 (or IPv4) group; default: the next number of directory 0. */
  group?: string;
  groupV4?: string;
}

export interface ChannelPatch {
  name?: string;
  url?: string | null;
  tuning?: DvbTuning | null;
  serviceId?: number | null;
  codec?: string | null;
  tags?: string[];
  enabled?: boolean;
  pinned?: boolean;
  /** null removes the IPv4 group. */
  groupV4?: string | null;
}

/** One static channel of the config file (`channels:`). */
export interface StaticChannel {
  group: string;
  name: string;
  url?: string;
  codec?: string;
}
