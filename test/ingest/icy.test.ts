import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { test } from 'node:test';
import { decodeIcyBlock, IcyStripper, parseIcyHeaders, parseIcyMetadata, parseIcyText, type StreamMetadata } from '../../src/ingest/icy.js';
import { icyBlock, IcyEncoder } from '../helpers/httpfixture.js';

test('StreamTitle and StreamUrl, with quotes and semicolons inside titles', () => {
  assert.deepEqual(parseIcyText("StreamTitle='Artist - Title';StreamUrl='http://x/y';"), { StreamTitle: 'Artist - Title', StreamUrl: 'http://x/y' });
  assert.deepEqual(parseIcyText("StreamTitle='Guns N' Roses - Paradise; Live';"), { StreamTitle: "Guns N' Roses - Paradise; Live" });
  assert.deepEqual(parseIcyText("StreamTitle='It';s here';StreamUrl='';"), { StreamTitle: "It';s here", StreamUrl: '' });
  assert.deepEqual(parseIcyText('StreamTitle="Double";'), { StreamTitle: 'Double' });
  assert.deepEqual(parseIcyText("StreamTitle='';"), { StreamTitle: '' });
  assert.deepEqual(parseIcyText("  StreamTitle='spaced' ; StreamUrl='u';  "), { StreamTitle: 'spaced', StreamUrl: 'u' });
});

test('truncated, missing semicolons and garbage never throw', () => {
  assert.deepEqual(parseIcyText("StreamTitle='no end"), { StreamTitle: 'no end' });
  assert.deepEqual(parseIcyText("StreamTitle='no semicolon'"), { StreamTitle: 'no semicolon' });
  assert.deepEqual(parseIcyText(''), {});
  assert.deepEqual(parseIcyText('garbage=without quotes;'), {});
  assert.deepEqual(parseIcyMetadata('\u0000\u0001 ;;;').title, undefined);
  let seed = 7;
  const rand = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
  const alphabet = "S t r e a m T i t l e = ' \" ; \u0000 x".split(' ');
  for (let i = 0; i < 2000; i++) {
    const text = Array.from({ length: rand() % 40 }, () => alphabet[rand() % alphabet.length]).join('');
    const meta = parseIcyMetadata(text);
    assert.equal(meta.raw, text);
  }
});

test('blocks: NUL padding dropped, UTF-8 when valid, Latin-1 otherwise', () => {
  assert.equal(decodeIcyBlock(icyBlock("StreamTitle='Café';").subarray(1)), "StreamTitle='Café';");
  assert.equal(decodeIcyBlock(icyBlock("StreamTitle='Café';", 'latin1').subarray(1)), "StreamTitle='Café';");
  assert.equal(decodeIcyBlock(Buffer.alloc(32)), '');
});

test('headers: icy-br with two values, a bad icy-metaint reported and not used', () => {
  assert.deepEqual(parseIcyHeaders({ 'icy-name': ' Radio ', 'icy-br': '128,128', 'icy-metaint': '16000', 'icy-url': 'http://r' }),
    { name: 'Radio', bitrate: 128, metaint: 16000, url: 'http://r' });
  assert.deepEqual(parseIcyHeaders({ 'icy-metaint': '0' }), { badMetaint: '0' });
  assert.deepEqual(parseIcyHeaders({ 'icy-metaint': '16k' }), { badMetaint: '16k' });
  assert.deepEqual(parseIcyHeaders({ 'icy-metaint': '99999999' }), { badMetaint: '99999999' });
  assert.deepEqual(parseIcyHeaders({}), {});
  assert.throws(() => new IcyStripper(0), /icy-metaint must be an integer/);
});

/** Feeds `bytes` to a stripper in chunks of pseudo-random sizes (1 byte up to a few metaints). */
async function strip(bytes: Buffer, metaint: number, seed: number): Promise<{ audio: Buffer; events: StreamMetadata[]; stripper: IcyStripper }> {
  const chunks: Buffer[] = [];
  let s = seed;
  for (let i = 0; i < bytes.length;) {
    s = (s * 1103515245 + 12345) >>> 0;
    const n = 1 + (s % (metaint * 3));
    chunks.push(bytes.subarray(i, i + n));
    i += n;
  }
  const stripper = new IcyStripper(metaint);
  const events: StreamMetadata[] = [];
  stripper.on('metadata', (m: StreamMetadata) => events.push(m));
  const audio = await buffer(Readable.from(chunks).pipe(stripper));
  return { audio, events, stripper };
}

test('the stripper gives back the audio exactly, whatever the chunking', async () => {
  const audio = Buffer.from(Array.from({ length: 50_000 }, (_, i) => (i * 7) & 0xff));
  for (const metaint of [1, 16, 1000, 8192]) {
    const titles = (i: number): string | undefined => (i % 3 === 2 ? undefined : `StreamTitle='Song ${Math.floor(i / 3)}';`);
    // metaint 1 means one block per byte: a shorter stream keeps the test quick.
    const input = metaint === 1 ? audio.subarray(0, 3000) : audio;
    const encoded = new IcyEncoder(metaint, titles).encode(input);
    for (const seed of [1, 2, 3]) {
      const { audio: out, events, stripper } = await strip(encoded, metaint, seed);
      assert.ok(out.equals(input), `metaint ${metaint} seed ${seed}`);
      const blocks = Math.floor(input.length / metaint);
      assert.equal(events.length, Math.ceil(blocks / 3), 'one event per change, repeats and empty blocks ignored');
      assert.equal(events[0]!.title, 'Song 0');
      assert.equal(stripper.stats.audioBytes, input.length);
      assert.equal(stripper.stats.unparsedBlocks, 0);
    }
  }
});

test('the longest block (255 x 16 bytes) and undecodable blocks pass without harm', async () => {
  const audio = Buffer.alloc(3000, 0x55);
  const long = `StreamTitle='${'x'.repeat(5000)}';`;
  const texts = [long, '\u0001\u0002garbage', "StreamTitle='ok';"];
  const encoded = new IcyEncoder(1000, (i) => texts[i]).encode(audio);
  const { audio: out, events, stripper } = await strip(encoded, 1000, 9);
  assert.ok(out.equals(audio));
  assert.equal(events.length, 3);
  assert.equal(events[0]!.title?.length, 255 * 16 - "StreamTitle='".length, 'cut at the block limit, unterminated value kept');
  assert.equal(events[1]!.title, undefined);
  assert.equal(events[2]!.title, 'ok');
  assert.equal(stripper.stats.unparsedBlocks, 1);
});

test('a throwing metadata listener does not break the stream', async () => {
  const audio = Buffer.alloc(5000, 1);
  const encoded = new IcyEncoder(1000, (i) => `StreamTitle='${i}';`).encode(audio);
  const stripper = new IcyStripper(1000);
  const errors: unknown[] = [];
  stripper.on('metadata', () => { throw new Error('listener bug'); });
  stripper.on('listenerError', (e) => errors.push(e));
  const out = await buffer(Readable.from([encoded]).pipe(stripper));
  assert.ok(out.equals(audio));
  assert.equal(errors.length, 5);
});
