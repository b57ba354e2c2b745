/** Small helpers the importers share: cleaning names, tags and URLs from untrusted directory data. */

/** Trimmed, control characters removed, at most 200 characters; '' when nothing is left. */
export function cleanText(value: unknown, max = 200): string {
  if (typeof value !== 'string' && typeof value !== 'number') return '';
  // eslint-disable-next-line no-control-regex
  return String(value).replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim().slice(0, max);
}

/** An absolute URL with a scheme the ingest room can play, or undefined. */
export function streamUrl(value: unknown, schemes: readonly string[] = ['http:', 'https:']): string | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (text === '' || /\s/.test(text)) return undefined;
  try {
    const url = new URL(text);
    return schemes.includes(url.protocol) && url.host !== '' ? text : undefined;
  } catch {
    return undefined;
  }
}

/** Splits "jazz, smooth jazz;Blues" into distinct lower-case tags (at most 20). */
export function splitTags(value: unknown, separators = /[,;]/): string[] {
  if (typeof value !== 'string') return [];
  const out = new Set<string>();
  for (const part of value.split(separators)) {
    const tag = cleanText(part, 60).toLowerCase();
    if (tag) out.add(tag);
    if (out.size >= 20) break;
  }
  return [...out];
}

/** A positive integer (bit rates), or undefined. */
export function positiveInt(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  return Number.isInteger(n) && n > 0 && n < 1e9 ? n : undefined;
}

/** A codec hint from a MIME type or a directory's codec name. */
export function codecHint(value: unknown): string | undefined {
  const text = cleanText(value, 40).toLowerCase();
  if (!text) return undefined;
  const table: [RegExp, string][] = [
    [/^(audio\/(mpeg|mp3|mpeg3)|mp3|mpeg)$/, 'MP3'],
    [/^(audio\/(aac|aacp|x-aac)|aac\+?|he-aac|aacp)$/, 'AAC'],
    [/opus/, 'OPUS'],
    [/^(application\/ogg|audio\/ogg|ogg|vorbis)$/, 'OGG'],
    [/flac/, 'FLAC'],
    [/^(mpegurl|application\/vnd\.apple\.mpegurl|hls)$/, 'HLS'],
  ];
  for (const [re, name] of table) if (re.test(text)) return name;
  return text.toUpperCase();
}
