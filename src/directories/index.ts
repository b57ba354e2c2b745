/**
 * Directory importers: one parser per kind, all yielding DirectoryEntry, and
 * `importDirectory` that reads a file or URL, parses it, and applies it to
 * the store in one transaction.
 *
 *   const result = await importDirectory(store, { kind: 'radio-browser', source: 'stations.json' }, limits);
 *
 * A malformed entry is skipped and counted with its reason; a file that is
 * not of its kind throws DirectoryFormatError before the store is touched.
 */
import { basename, extname } from 'node:path';
import { StoreError, type Store, type SyncResult } from '../store/store.js';
import type { DirectoryKind } from '../store/types.js';
import { parseDvbList } from './dvb.js';
import { isUrl, readSource, type SourceLimits } from './fetch.js';
import { parseIcecast } from './icecast.js';
import { parseM3u } from './m3u.js';
import { parseOpml } from './opml.js';
import { parseRadioBrowser, radioBrowserSearchUrl, type RadioBrowserQuery } from './radio-browser.js';
import type { ParseResult } from './types.js';

export * from './types.js';
export { SourceError, type SourceLimits } from './fetch.js';
export type { RadioBrowserQuery } from './radio-browser.js';

export type ImportKind = 'icecast' | 'radio-browser' | 'opml' | 'm3u' | 'dvb';

export const PARSERS: Record<ImportKind, (text: string) => ParseResult> = {
  icecast: parseIcecast,
  'radio-browser': parseRadioBrowser,
  opml: parseOpml,
  m3u: parseM3u,
  dvb: parseDvbList,
};

const ALIASES: Record<string, ImportKind> = {
  icecast: 'icecast', yp: 'icecast', 'yp.xml': 'icecast',
  'radio-browser': 'radio-browser', radiobrowser: 'radio-browser', rb: 'radio-browser',
  opml: 'opml', tunein: 'opml', radiotime: 'opml',
  m3u: 'm3u', m3u8: 'm3u',
  dvb: 'dvb', 'dvb-s2': 'dvb', dvbs2: 'dvb', 'dvb-s': 'dvb',
};

export const IMPORT_KINDS = Object.keys(PARSERS) as ImportKind[];

/** The importer kind for a name an admin typed; undefined if unknown. */
export function importKind(name: string): ImportKind | undefined {
  return ALIASES[name.toLowerCase()];
}

export interface ImportRequest {
  kind: ImportKind;
  /** A file path or an http(s) URL. */
  source: string;
  /** The directory's name in the store; default: the file's base name or the URL's host. Re-import under the same name to re-sync. */
  name?: string;
  /** radio-browser from a bare server URL: the search. */
  query?: RadioBrowserQuery;
  onProgress?: (phase: 'read' | 'store', done: number, total: number) => void;
}

export function defaultDirectoryName(kind: ImportKind, source: string): string {
  if (isUrl(source)) return `${kind}:${new URL(source).host}`;
  return basename(source, extname(source)) || kind;
}

export async function importDirectory(store: Store, req: ImportRequest, limits: SourceLimits): Promise<SyncResult> {
  const source = req.kind === 'radio-browser' && isUrl(req.source) ? radioBrowserSearchUrl(req.source, req.query ?? {}) : req.source;
  req.onProgress?.('read', 0, 1);
  const text = await readSource(source, limits);
  const parsed = PARSERS[req.kind](text);
  req.onProgress?.('read', 1, 1);
  return store.directories.sync(req.name ?? defaultDirectoryName(req.kind, req.source), req.kind as DirectoryKind, source, parsed.entries, {
    skipped: parsed.skipped,
    onProgress: req.onProgress ? (done, total) => req.onProgress!('store', done, total) : undefined,
  });
}

export type ResyncResult = SyncResult | { name: string; error: string };

/**
 * Re-imports directories from the source they were last imported from (one
 * by id or name, or all that have one). One failing directory does not stop
 * the others; its error is in its result.
 */
export async function resyncDirectories(
  store: Store, ref: string | undefined, limits: SourceLimits, onProgress?: ImportRequest['onProgress'],
): Promise<ResyncResult[]> {
  const dirs = ref === undefined ? store.directories.list() : [store.directories.get(ref)].filter((d) => d !== undefined);
  if (ref !== undefined && dirs.length === 0) throw new StoreError('not-found', 'ref', `no directory ${ref}`);
  const results: ResyncResult[] = [];
  for (const d of dirs) {
    const kind = importKind(d.kind);
    if (!kind || !d.source) {
      if (ref !== undefined) throw new StoreError('invalid', 'ref', `directory "${d.name}" (${d.kind}) has no source to sync from`);
      continue;
    }
    try {
      results.push(await importDirectory(store, { kind, source: d.source, name: d.name, onProgress }, limits));
    } catch (err) {
      results.push({ name: d.name, error: (err as Error).message });
    }
  }
  return results;
}
