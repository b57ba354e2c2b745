/**
 * Station playlists: the small files a directory hands out instead of the
 * stream itself. PLS, M3U (a plain list of stream URLs), XSPF and ASX are
 * unwrapped into their entries in order; an HLS media or master playlist
 * (also .m3u8, but a list of segments, not of stations) is recognised and
 * left to the HLS reader (http/hls.ts) instead of "playing" its first segment.
 *
 * Pure: text and a base URL in, absolute http(s) URLs out. Entries we cannot
 * use (file:, relative garbage, other schemes) are dropped and counted.
 */
import { XMLParser } from 'fast-xml-parser';
import { mediaType } from './sniff.js';

export type PlaylistKind = 'pls' | 'm3u' | 'xspf' | 'asx';

export interface Playlist {
  kind: PlaylistKind;
  /** HLS (RFC 8216): segments, not stations. Entries are then empty. */
  hls: boolean;
  /** Absolute http(s) stream URLs in playlist order, duplicates removed. */
  entries: string[];
  /** Entries dropped, each with why: `"file:///etc/passwd": scheme file: not allowed`. */
  dropped: string[];
}

const TYPE_KINDS: Record<string, PlaylistKind> = {
  'audio/x-scpls': 'pls',
  'audio/scpls': 'pls',
  'application/pls+xml': 'pls',
  'audio/mpegurl': 'm3u',
  'audio/x-mpegurl': 'm3u',
  'application/mpegurl': 'm3u',
  'application/x-mpegurl': 'm3u',
  'application/vnd.apple.mpegurl': 'm3u',
  'application/vnd.apple.mpegurl.audio': 'm3u',
  'application/xspf+xml': 'xspf',
  'video/x-ms-asf': 'asx',
  'video/x-ms-asx': 'asx',
  'audio/x-ms-wax': 'asx',
  'video/x-ms-wvx': 'asx',
  'video/x-ms-wmx': 'asx',
};

const EXTENSION_KINDS: Record<string, PlaylistKind> = {
  pls: 'pls', m3u: 'm3u', m3u8: 'm3u', xspf: 'xspf', asx: 'asx', wax: 'asx', wvx: 'asx',
};

/** The playlist kind the content itself shows, from its first bytes. */
function sniffKind(head: string): PlaylistKind | null {
  const text = head.replace(/^\ufeff/, '').trimStart();
  if (/^\[playlist\]/i.test(text)) return 'pls';
  if (/^#EXTM3U/.test(text)) return 'm3u';
  if (/^<asx[\s>]/i.test(text)) return 'asx';
  if (/^<\?xml[^>]*>\s*(?:<!--[\s\S]*?-->\s*)*<playlist[\s>]/i.test(text)) return 'xspf';
  if (/^<playlist[\s>][^>]*xspf/i.test(text)) return 'xspf';
  if (/^<\?xml[^>]*>\s*(?:<!--[\s\S]*?-->\s*)*<asx[\s>]/i.test(text)) return 'asx';
  return null;
}

/**
 * Is this response a playlist, and which kind? The content decides when it
 * is conclusive (servers label PLS as text/html or text/plain); otherwise a
 * playlist Content-Type, or a playlist file extension under a generic type,
 * does. A real audio type never turns into a playlist by its extension.
 */
export function playlistKind(contentType: string | undefined, url: string, head: Buffer): PlaylistKind | null {
  const sniffed = sniffKind(head.toString('latin1', 0, Math.min(head.length, 512)));
  if (sniffed) return sniffed;
  const type = mediaType(contentType);
  const byType = TYPE_KINDS[type];
  // video/x-ms-asf also labels real ASF media: only its XML form is a playlist.
  if (byType && !(byType === 'asx' && !head.toString('latin1', 0, 64).trimStart().startsWith('<'))) return byType;
  if (type === '' || type === 'text/plain' || type === 'application/octet-stream' || type === 'text/xml' || type === 'application/xml') {
    let path = '';
    try { path = new URL(url).pathname; } catch { /* caller's URL was already valid */ }
    const ext = /\.([a-z0-9]+)$/i.exec(path)?.[1]?.toLowerCase();
    if (ext && EXTENSION_KINDS[ext]) {
      // A generic label on a .m3u path that holds binary is a mislabelled stream.
      const printable = [...head.subarray(0, 256)].every((c) => c === 9 || c === 10 || c === 13 || c >= 32);
      if (printable) return EXTENSION_KINDS[ext]!;
    }
  }
  return null;
}

/** UTF-8 when it decodes cleanly (BOM dropped), Windows-1252/latin1 otherwise. */
export function decodeText(bytes: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}

/** RFC 8216 §4.3: tags that only media or master playlists carry. */
const HLS_TAGS = /^#EXT-X-(?:TARGETDURATION|MEDIA-SEQUENCE|STREAM-INF|KEY|MAP|PART-INF|INDEPENDENT-SEGMENTS|PLAYLIST-TYPE|ENDLIST)\b/m;

/** Parses a playlist body; never throws (garbage gives no entries). */
export function parsePlaylist(kind: PlaylistKind, text: string, baseUrl: string): Playlist {
  const out: Playlist = { kind, hls: false, entries: [], dropped: [] };
  let raw: string[] = [];
  switch (kind) {
    case 'pls': raw = parsePls(text); break;
    case 'm3u':
      if (HLS_TAGS.test(text)) { out.hls = true; return out; }
      raw = text.split(/\r\n|\r|\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
      break;
    case 'xspf': raw = xmlValues(text, (node, key) => (key === 'location' && node.parent === 'track' ? node.text : undefined)); break;
    case 'asx': raw = xmlValues(text, (node, key) => (key === 'ref' || key === 'entryref' ? node.href : undefined)); break;
  }
  const seen = new Set<string>();
  for (const entry of raw) {
    const url = absoluteStreamUrl(entry, baseUrl);
    if (typeof url !== 'string') { out.dropped.push(`${JSON.stringify(entry.slice(0, 200))}: ${url.reason}`); continue; }
    if (!seen.has(url)) { seen.add(url); out.entries.push(url); }
  }
  return out;
}

/** PLS: `FileN=url` lines, ordered by N (the file's own order breaks ties). */
function parsePls(text: string): string[] {
  const files: Array<{ n: number; order: number; url: string }> = [];
  for (const [order, line] of text.split(/\r\n|\r|\n/).entries()) {
    const m = /^\s*file(\d+)\s*=\s*(.*?)\s*$/i.exec(line);
    if (m && m[2]) files.push({ n: Number(m[1]), order, url: m[2] });
  }
  return files.sort((a, b) => a.n - b.n || a.order - b.order).map((f) => f.url);
}

interface XmlNode { parent: string; text?: string; href?: string }

/**
 * Walks an XML document in order and collects what `pick` returns. Tag and
 * attribute names are lower-cased: ASX files in the wild write <ASX>, <Entry>,
 * <REF HREF=...> as they please.
 */
function xmlValues(text: string, pick: (node: XmlNode, key: string) => string | undefined): string[] {
  let doc: unknown;
  try {
    doc = new XMLParser({
      ignoreAttributes: false,
      attributeNamePrefix: '@',
      parseTagValue: false,
      parseAttributeValue: false,
      transformTagName: (n) => n.toLowerCase(),
      transformAttributeName: (n) => n.toLowerCase(),
      isArray: (_name, _path, _leaf, isAttribute) => !isAttribute,
    }).parse(text);
  } catch {
    return [];
  }
  const found: string[] = [];
  const walk = (value: unknown, key: string, parent: string): void => {
    if (Array.isArray(value)) { for (const v of value) walk(v, key, parent); return; }
    const node: XmlNode = { parent };
    if (typeof value === 'string') node.text = value;
    else if (value && typeof value === 'object') {
      const obj = value as Record<string, unknown>;
      if (typeof obj['#text'] === 'string') node.text = obj['#text'];
      if (typeof obj['@href'] === 'string') node.href = obj['@href'];
    }
    const picked = pick(node, key);
    if (picked !== undefined) found.push(picked.trim());
    if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) if (!k.startsWith('@') && k !== '#text') walk(v, k, key);
    }
  };
  walk(doc, '', '');
  return found;
}

/**
 * An entry made absolute against the playlist's URL. Only http(s) is
 * followed: a playlist must not make us read local files. mms:// and mmsh://
 * (Windows Media) are tried as http://, as their servers also speak HTTP.
 */
function absoluteStreamUrl(entry: string, baseUrl: string): string | { reason: string } {
  let url: URL;
  try {
    url = new URL(entry.replace(/^mmsh?:\/\//i, 'http://'), baseUrl);
  } catch {
    return { reason: 'not a URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { reason: `scheme ${url.protocol} not allowed` };
  return url.href;
}
