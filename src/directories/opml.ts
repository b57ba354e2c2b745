/**
 * TuneIn / RadioTime OPML (opml.radiotime.com): nested outlines, categories
 * around stations.
 *
 *   <opml version="1"><head><title>Jazz</title></head><body>
 *     <outline text="Smooth Jazz">
 *       <outline type="audio" text="Jazz FM (London)" URL="http://opml.radiotime.com/Tune.ashx?id=s12345"
 *                bitrate="128" formats="mp3" guide_id="s12345" item="station" genre_id="g2"/>
 *       <outline type="link" text="More" URL="http://opml.radiotime.com/Browse.ashx?id=c1"/>
 *     </outline>
 *   </body></opml>
 *
 * Only `type="audio"` outlines are stations. Their URL is usually a Tune.ashx
 * link that returns a playlist: it is kept as is and resolved at play time by
 * the ingest room (so it also follows TuneIn's changes of stream host).
 * `type="link"` outlines lead to other OPML pages and are not followed.
 * The stable key is guide_id, else the URL. Enclosing outlines' texts become tags.
 */
import { cleanText, codecHint, positiveInt, streamUrl } from './common.js';
import { parseXml } from './icecast.js';
import { DirectoryFormatError, type DirectoryEntry, type ParseResult } from './types.js';

const KIND = 'OPML';

interface Outline { $?: Record<string, string>; outline?: Outline[] }

export function parseOpml(text: string): ParseResult {
  const doc = parseXml(text, KIND, new Set(['outline']));
  const root = doc.opml as { body?: { outline?: Outline[] } | string } | undefined;
  if (root === undefined) throw new DirectoryFormatError(KIND, `root element is not <opml> (found ${Object.keys(doc).filter((k) => k !== '?xml').join(', ') || 'nothing'})`);
  if (typeof root !== 'object' || root.body === undefined) throw new DirectoryFormatError(KIND, 'no <body>');
  const result: ParseResult = { entries: [], skipped: [] };
  let n = 0;
  const walk = (outlines: Outline[] | undefined, path: string[]) => {
    for (const o of outlines ?? []) {
      const a = o.$ ?? {};
      const type = (a.type ?? '').toLowerCase();
      const text = cleanText(a.text);
      if (type === 'audio') {
        const at = ++n;
        const url = streamUrl(a.URL ?? a.url);
        if (!url) { result.skipped.push({ at, reason: 'audio outline without an http(s) URL' }); continue; }
        if (!text) { result.skipped.push({ at, reason: 'audio outline without text' }); continue; }
        const guide = cleanText(a.guide_id ?? a.preset_id, 40);
        const entry: DirectoryEntry = { externalId: guide || url, name: text, kind: 'radio', url, tags: path.slice(-3).map((t) => t.toLowerCase()) };
        const codec = codecHint(a.formats?.split(',')[0]);
        if (codec) entry.codec = codec;
        const bitrate = positiveInt(a.bitrate);
        if (bitrate) entry.bitrate = bitrate;
        result.entries.push(entry);
      } else if (type === 'link') {
        result.skipped.push({ at: ++n, reason: 'link outline (another OPML page) not followed' });
      } else {
        walk(o.outline, text ? [...path, text] : path);
      }
    }
  };
  walk(typeof root.body === 'object' ? root.body.outline : undefined, []);
  return result;
}
