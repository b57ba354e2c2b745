/**
 * Icecast directory listings: the `yp.xml` of dir.xiph.org and of Icecast
 * YP servers.
 *
 *   <directory>
 *     <entry>
 *       <server_name>Jazz Radio</server_name>
 *       <listen_url>http://stream.example:8000/jazz.mp3</listen_url>
 *       <server_type>audio/mpeg</server_type>
 *       <bitrate>128</bitrate> <channels>2</channels> <samplerate>44100</samplerate>
 *       <genre>jazz smooth</genre> <current_song>...</current_song>
 *     </entry>
 *   </directory>
 *
 * listen_url is the stable key. Genres are space separated.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { cleanText, codecHint, positiveInt, splitTags, streamUrl } from './common.js';
import { DirectoryFormatError, type DirectoryEntry, type ParseResult } from './types.js';

const KIND = 'Icecast yp.xml';

/** Parses XML after checking it is well formed; DirectoryFormatError (with the line) otherwise. */
export function parseXml(text: string, kind: string, arrays: Set<string>): Record<string, unknown> {
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw new DirectoryFormatError(kind, `not well-formed XML at line ${valid.err.line}: ${valid.err.msg}`);
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '',
    attributesGroupName: '$',
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: true,
    processEntities: true,
    htmlEntities: true,
    isArray: (name) => arrays.has(name),
  });
  return parser.parse(text) as Record<string, unknown>;
}

export function parseIcecast(text: string): ParseResult {
  const doc = parseXml(text, KIND, new Set(['entry']));
  const root = doc.directory;
  if (root === undefined) throw new DirectoryFormatError(KIND, `root element is not <directory> (found ${Object.keys(doc).filter((k) => k !== '?xml').join(', ') || 'nothing'})`);
  const entries = typeof root === 'object' && root !== null ? ((root as Record<string, unknown>).entry as unknown[] | undefined) ?? [] : [];
  const result: ParseResult = { entries: [], skipped: [] };
  entries.forEach((e, i) => {
    const at = i + 1;
    if (typeof e !== 'object' || e === null) return result.skipped.push({ at, reason: 'empty <entry>' });
    const f = e as Record<string, unknown>;
    const url = streamUrl(f.listen_url);
    if (!url) return result.skipped.push({ at, reason: 'no http(s) <listen_url>' });
    const name = cleanText(f.server_name) || url;
    const entry: DirectoryEntry = { externalId: url, name, kind: 'radio', url, tags: splitTags(f.genre, /[\s,;]+/) };
    const codec = codecHint(f.server_type);
    if (codec) entry.codec = codec;
    const bitrate = positiveInt(f.bitrate);
    if (bitrate) entry.bitrate = bitrate;
    result.entries.push(entry);
  });
  return result;
}
