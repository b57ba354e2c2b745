/**
 * What every importer yields: one record per station or DVB service, keyed by
 * the directory's stable id, plus the entries it skipped and why.
 */
import type { Channel } from '../store/types.js';

/** A channel as a directory describes it, keyed by the directory's stable id. */
export type DirectoryEntry = Pick<Channel, 'name' | 'kind' | 'url' | 'tuning' | 'serviceId' | 'codec' | 'tags' | 'homepage' | 'country' | 'bitrate'> & {
  /** Stable key within the directory: stationuuid, listen_url, URL, guide_id, `<kHz><pol>/<sid>`. */
  externalId: string;
};

export interface SkippedEntry {
  /** 1-based entry number (or line number for line formats). */
  at: number;
  reason: string;
}

export interface ParseResult {
  entries: DirectoryEntry[];
  skipped: SkippedEntry[];
}

/** The whole file is not what its kind claims: nothing is imported. */
export class DirectoryFormatError extends Error {
  constructor(readonly kind: string, reason: string) {
    super(`not a ${kind} directory: ${reason}`);
    this.name = 'DirectoryFormatError';
  }
}
