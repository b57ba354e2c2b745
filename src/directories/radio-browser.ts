/**
 * radio-browser.info station lists: the JSON array its API returns
 * (`/json/stations`, `/json/stations/search?...`), one object per station:
 *
 *   { "stationuuid": "9617a958-...", "name": "...", "url": "...", "url_resolved": "...",
 *     "tags": "jazz,smooth jazz", "countrycode": "DE", "codec": "MP3", "bitrate": 128, ... }
 *
 * stationuuid is the stable key. The stream URL is `url_resolved` when the
 * directory resolved the playlist, else `url`. The import never calls
 * `/json/url/<uuid>`, the endpoint that counts a click.
 */
import { cleanText, codecHint, positiveInt, splitTags, streamUrl } from './common.js';
import { DirectoryFormatError, type DirectoryEntry, type ParseResult } from './types.js';

const KIND = 'radio-browser station list';

export function parseRadioBrowser(text: string): ParseResult {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new DirectoryFormatError(KIND, `not JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(doc)) throw new DirectoryFormatError(KIND, `expected a JSON array of stations, got ${doc === null ? 'null' : typeof doc}`);
  if (doc.length > 0 && !doc.some((s) => typeof s === 'object' && s !== null && 'stationuuid' in s)) {
    throw new DirectoryFormatError(KIND, 'no element has a "stationuuid"');
  }
  const result: ParseResult = { entries: [], skipped: [] };
  doc.forEach((s: unknown, i) => {
    const at = i + 1;
    if (typeof s !== 'object' || s === null || Array.isArray(s)) return result.skipped.push({ at, reason: 'not an object' });
    const st = s as Record<string, unknown>;
    const uuid = typeof st.stationuuid === 'string' ? st.stationuuid.trim().toLowerCase() : '';
    if (!/^[0-9a-f-]{8,64}$/.test(uuid)) return result.skipped.push({ at, reason: 'no stationuuid' });
    const name = cleanText(st.name);
    if (!name) return result.skipped.push({ at, reason: 'no name' });
    const url = streamUrl(st.url_resolved) ?? streamUrl(st.url);
    if (!url) return result.skipped.push({ at, reason: 'no http(s) stream URL' });
    const entry: DirectoryEntry = { externalId: uuid, name, kind: 'radio', url, tags: splitTags(st.tags) };
    const codec = codecHint(st.codec);
    if (codec && codec !== 'UNKNOWN') entry.codec = codec;
    const bitrate = positiveInt(st.bitrate);
    if (bitrate) entry.bitrate = bitrate;
    const country = cleanText(st.countrycode, 8) || cleanText(st.country, 60);
    if (country) entry.country = country;
    const homepage = streamUrl(st.homepage);
    if (homepage) entry.homepage = homepage;
    result.entries.push(entry);
  });
  return result;
}

export interface RadioBrowserQuery {
  tag?: string;
  /** ISO 3166 alpha-2. */
  country?: string;
  codec?: string;
  limit?: number;
}

/**
 * The search URL for a radio-browser server given as a bare origin
 * (`https://de1.api.radio-browser.info`); any other URL is used as given.
 * hidebroken drops stations the directory's own checks found dead.
 */
export function radioBrowserSearchUrl(base: string, q: RadioBrowserQuery): string {
  const url = new URL(base);
  if (url.pathname !== '/' && url.pathname !== '' && url.pathname !== '/json' && url.pathname !== '/json/') return base;
  url.pathname = '/json/stations/search';
  const p = url.searchParams;
  if (q.tag) p.set('tag', q.tag);
  if (q.country) p.set('countrycode', q.country.toUpperCase());
  if (q.codec) p.set('codec', q.codec);
  p.set('limit', String(q.limit ?? 1000));
  p.set('hidebroken', 'true');
  p.set('order', 'name');
  return url.toString();
}
