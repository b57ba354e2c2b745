/**
 * Plain M3U / M3U8 channel lists, as IPTV players and stream lists write them:
 *
 *   #EXTM3U
 *   #EXTINF:-1 tvg-id="jazz.fm" tvg-name="Jazz FM" group-title="Jazz;Music",Jazz FM
 *   http://stream.example/jazz.mp3
 *
 * One entry per URL line; its name from the preceding #EXTINF (after the last
 * comma outside quotes), else tvg-name, else the URL. group-title and #EXTGRP
 * become tags. The URL is the stable key.
 */
import { cleanText, splitTags, streamUrl } from './common.js';
import { DirectoryFormatError, type DirectoryEntry, type ParseResult } from './types.js';

const KIND = 'M3U channel list';
const SCHEMES = ['http:', 'https:', 'rtp:', 'udp:', 'rtsp:', 'rtmp:', 'srt:'];

function parseExtinf(line: string): { name: string; attrs: Record<string, string> } {
  const body = line.slice('#EXTINF:'.length);
  const attrs: Record<string, string> = {};
  for (const m of body.matchAll(/([A-Za-z0-9_-]+)="([^"]*)"/g)) attrs[m[1].toLowerCase()] = m[2];
  // The title follows the first comma that is not inside a quoted attribute.
  let inQuote = false;
  let comma = -1;
  for (let i = 0; i < body.length; i++) {
    if (body[i] === '"') inQuote = !inQuote;
    else if (body[i] === ',' && !inQuote) { comma = i; break; }
  }
  return { name: comma >= 0 ? cleanText(body.slice(comma + 1)) : '', attrs };
}

export function parseM3u(text: string): ParseResult {
  const src = text.replace(/^\uFEFF/, '');
  if (src.includes('\0')) throw new DirectoryFormatError(KIND, 'binary data');
  const lines = src.split(/\r?\n/);
  const firstLine = lines.find((l) => l.trim() !== '')?.trim() ?? '';
  const header = firstLine.toUpperCase().startsWith('#EXTM3U');
  if (!header) {
    if (/^[<{[]/.test(firstLine)) throw new DirectoryFormatError(KIND, `starts with "${firstLine.slice(0, 20)}" (HTML, XML or JSON?)`);
    if (!lines.some((l) => /^[a-z][a-z0-9+.-]*:\/\//i.test(l.trim()))) throw new DirectoryFormatError(KIND, 'no #EXTM3U header and no URL lines');
  }
  const result: ParseResult = { entries: [], skipped: [] };
  let pending: { line: number; name: string; attrs: Record<string, string> } | undefined;
  let extgrp = '';
  lines.forEach((raw, i) => {
    const line = raw.trim();
    const at = i + 1;
    if (line === '') return;
    if (line.toUpperCase().startsWith('#EXTINF:')) {
      if (pending) result.skipped.push({ at: pending.line, reason: '#EXTINF without a URL' });
      pending = { line: at, ...parseExtinf(line) };
      return;
    }
    if (line.toUpperCase().startsWith('#EXTGRP:')) { extgrp = line.slice(8); return; }
    if (line.startsWith('#')) return;
    const url = streamUrl(line, SCHEMES);
    const info = pending;
    pending = undefined;
    if (!url) { result.skipped.push({ at, reason: 'not a stream URL' }); extgrp = ''; return; }
    const name = info?.name || cleanText(info?.attrs['tvg-name']) || url.replace(/^[a-z]+:\/\//i, '').slice(0, 120);
    const entry: DirectoryEntry = {
      externalId: url, name, kind: 'radio', url,
      tags: splitTags([info?.attrs['group-title'] ?? '', extgrp].join(';')),
    };
    result.entries.push(entry);
    extgrp = '';
  });
  if (pending) result.skipped.push({ at: (pending as { line: number }).line, reason: '#EXTINF without a URL' });
  return result;
}
