/**
 * What a station really sends, judged from its first bytes and its
 * Content-Type. Stations mislabel often (audio/mpeg for AAC+, text/html for a
 * PLS file, application/octet-stream for everything), so magic bytes win over
 * the label whenever they are conclusive. Pure functions over a Buffer; every
 * read is bounds-checked, nothing here throws.
 */

export type AudioFormat = 'mp3' | 'mp2' | 'aac' | 'ogg' | 'opus' | 'flac' | 'mpegts' | 'unknown';

/** The media type without parameters, lower case: `Audio/MPEG; charset=x` -> `audio/mpeg`. */
export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

const TYPE_FORMATS: Record<string, AudioFormat> = {
  'audio/mpeg': 'mp3',
  'audio/mp3': 'mp3',
  'audio/mpeg3': 'mp3',
  'audio/x-mpeg': 'mp3',
  'audio/x-mp3': 'mp3',
  'audio/mpa': 'mp2',
  'audio/mp2': 'mp2',
  'audio/x-mp2': 'mp2',
  'audio/aac': 'aac',
  'audio/aacp': 'aac',
  'audio/x-aac': 'aac',
  'audio/mp4': 'aac',
  'audio/ogg': 'ogg',
  'application/ogg': 'ogg',
  'audio/x-ogg': 'ogg',
  'audio/vorbis': 'ogg',
  'audio/opus': 'opus',
  'audio/flac': 'flac',
  'audio/x-flac': 'flac',
  'video/mp2t': 'mpegts',
  'video/mpeg': 'mpegts',
};

/** The format a Content-Type claims, or 'unknown'. */
export function formatFromContentType(contentType: string | undefined): AudioFormat {
  return TYPE_FORMATS[mediaType(contentType)] ?? 'unknown';
}

/** Labels under which a stream may plausibly carry audio we cannot recognise by its bytes. */
export function isAudioLike(contentType: string | undefined): boolean {
  const t = mediaType(contentType);
  return t.startsWith('audio/') || t === 'application/ogg' || t === 'video/mp2t' || t === 'application/octet-stream';
}

// MPEG audio header (ISO 11172-3 §2.4.1.3): 11 sync bits, version (2), layer (2),
// protection (1), bitrate index (4), sampling index (2), padding (1), ...
const MPEG1_BITRATES: Record<number, number[]> = {
  3: [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448], // layer I
  2: [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384], // layer II
  1: [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320], // layer III
};
const MPEG2_BITRATES: Record<number, number[]> = {
  3: [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
  2: [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
  1: [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};
const SAMPLE_RATES: Record<number, number[]> = { 3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000] };

interface Frame { format: AudioFormat; length: number }

/** An MPEG audio frame header at `at` (format mp3 / mp2) with its length, or null. */
function mpegFrame(b: Buffer, at: number): Frame | null {
  if (at + 4 > b.length || b[at] !== 0xff || (b[at + 1]! & 0xe0) !== 0xe0) return null;
  const version = (b[at + 1]! >> 3) & 3; // 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5, 1 reserved
  const layer = (b[at + 1]! >> 1) & 3; // 1 = III, 2 = II, 3 = I, 0 reserved
  const brIndex = b[at + 2]! >> 4;
  const srIndex = (b[at + 2]! >> 2) & 3;
  if (version === 1 || layer === 0 || brIndex === 0 || brIndex === 15 || srIndex === 3) return null;
  const kbps = (version === 3 ? MPEG1_BITRATES : MPEG2_BITRATES)[layer]![brIndex]!;
  const rate = SAMPLE_RATES[version]![srIndex]!;
  const padding = (b[at + 2]! >> 1) & 1;
  let length: number;
  if (layer === 3) length = (Math.floor((12 * kbps * 1000) / rate) + padding) * 4;
  else if (layer === 1 && version !== 3) length = Math.floor((72 * kbps * 1000) / rate) + padding;
  else length = Math.floor((144 * kbps * 1000) / rate) + padding;
  return { format: layer === 1 ? 'mp3' : 'mp2', length };
}

/** An ADTS (AAC) frame header at `at` (ISO 14496-3 §1.A.2.2), or null. */
function adtsFrame(b: Buffer, at: number): Frame | null {
  if (at + 7 > b.length || b[at] !== 0xff || (b[at + 1]! & 0xf6) !== 0xf0) return null;
  const srIndex = (b[at + 2]! >> 2) & 0xf;
  if (srIndex > 12) return null;
  const length = ((b[at + 3]! & 3) << 11) | (b[at + 4]! << 3) | (b[at + 5]! >> 5);
  return length >= 7 ? { format: 'aac', length } : null;
}

/**
 * An elementary audio stream (MP3/MP2/AAC) found by two consecutive frame
 * headers, the first within the buffer. A stream may start mid-frame (a
 * server joins us at any byte), so we search; a lone header at offset 0 is
 * accepted when the next one would lie beyond what we have.
 */
function elementaryFormat(b: Buffer, from: number): AudioFormat | null {
  for (let at = from; at + 4 <= b.length; at++) {
    if (b[at] !== 0xff) continue;
    const frame = adtsFrame(b, at) ?? mpegFrame(b, at);
    if (!frame) continue;
    const next = at + frame.length;
    if (next + 4 > b.length) {
      if (at === from) return frame.format;
      continue;
    }
    const second = frame.format === 'aac' ? adtsFrame(b, next) : mpegFrame(b, next);
    if (second && second.format === frame.format) return frame.format;
  }
  return null;
}

/** Size of an ID3v2 tag at the start (ID3v2.4 §3.1: syncsafe size, optional footer), or 0. */
export function id3Length(b: Buffer): number {
  if (b.length < 10 || b.toString('latin1', 0, 3) !== 'ID3') return 0;
  const size = ((b[6]! & 0x7f) << 21) | ((b[7]! & 0x7f) << 14) | ((b[8]! & 0x7f) << 7) | (b[9]! & 0x7f);
  return 10 + size + (b[5]! & 0x10 ? 10 : 0);
}

/** True when 0x47 sync bytes recur every 188 bytes (ISO 13818-1 §2.4.3.2) at some offset. */
function isTransportStream(b: Buffer): boolean {
  for (let start = 0; start < 188 && start + 2 * 188 < b.length; start++) {
    if (b[start] === 0x47 && b[start + 188] === 0x47 && b[start + 376] === 0x47) return true;
  }
  return false;
}

/**
 * The audio format recognised from magic bytes, or null when the bytes are
 * inconclusive. ID3 tags are skipped; a tag longer than the buffer means MP3
 * (what ID3 tags in front of a live stream almost always precede).
 */
export function sniffFormat(b: Buffer): AudioFormat | null {
  if (b.length >= 4 && b.toString('latin1', 0, 4) === 'OggS') {
    // The first page carries the codec's identification header (RFC 7845 §5.1).
    return b.subarray(0, 512).includes('OpusHead') ? 'opus' : 'ogg';
  }
  if (b.length >= 4 && b.toString('latin1', 0, 4) === 'fLaC') return 'flac';
  if (isTransportStream(b)) return 'mpegts';
  const tag = id3Length(b);
  if (tag > 0 && tag >= b.length) return 'mp3';
  return elementaryFormat(b, tag);
}

const HTML_START = /^(?:\s|<!--[\s\S]*?-->)*<(?:!doctype\s+html|html|head|body|title|meta|script)[\s>]/i;

/** True when the bytes begin an HTML page (leading BOM, blanks and comments skipped). */
export function looksLikeHtml(b: Buffer): boolean {
  const text = b.toString('latin1', 0, Math.min(b.length, 1024)).replace(/^(?:\xef\xbb\xbf)/, '');
  return HTML_START.test(text);
}

/** A short hex view of the first bytes, for error messages: `7b 22 65 72 ...`. */
export function hexPreview(b: Buffer, n = 8): string {
  const hex = [...b.subarray(0, n)].map((x) => x.toString(16).padStart(2, '0')).join(' ');
  return b.length > n ? `${hex} ...` : hex || '(nothing)';
}
