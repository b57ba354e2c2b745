import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatFromContentType, hexPreview, isAudioLike, looksLikeHtml, sniffFormat } from '../../src/ingest/sniff.js';
import { makeMedia, makeMp3 } from '../helpers/httpfixture.js';

// Real encoder output for every format, made by ffmpeg at test time.
const SAMPLES = {
  mp3: () => makeMp3(1),
  mp2: () => makeMedia('tone.mp2', 1, ['-c:a', 'mp2', '-b:a', '192k', '-f', 'mp2']),
  aac: () => makeMedia('tone.aac', 1, ['-c:a', 'aac', '-b:a', '64k', '-f', 'adts']),
  ogg: () => makeMedia('tone.ogg', 1, ['-c:a', 'libvorbis', '-f', 'ogg']),
  opus: () => makeMedia('tone.opus', 1, ['-c:a', 'libopus', '-b:a', '64k', '-f', 'ogg']),
  flac: () => makeMedia('tone.flac', 1, ['-c:a', 'flac', '-f', 'flac']),
  mpegts: () => makeMedia('tone.ts', 1, ['-c:a', 'mp2', '-f', 'mpegts']),
} as const;

test('each format is recognised from its first bytes', async () => {
  for (const [format, make] of Object.entries(SAMPLES)) {
    const bytes = await make();
    assert.equal(sniffFormat(bytes.subarray(0, 4096)), format, format);
  }
});

test('joining a stream mid-frame still finds MP3, MP2, AAC and TS', async () => {
  for (const format of ['mp3', 'mp2', 'aac', 'mpegts'] as const) {
    const bytes = await SAMPLES[format]();
    for (const offset of [1, 417, 1001]) {
      assert.equal(sniffFormat(bytes.subarray(offset, offset + 4096)), format, `${format} from byte ${offset}`);
    }
  }
});

test('an ID3v2 tag is skipped; a tag longer than what we have means MP3', async () => {
  const mp3 = await makeMp3(1);
  const tag = Buffer.alloc(10 + 300);
  tag.write('ID3', 0, 'latin1');
  tag[3] = 4;
  tag[9] = 300 & 0x7f;
  tag[8] = 300 >> 7;
  assert.equal(sniffFormat(Buffer.concat([tag, mp3.subarray(0, 4096)])), 'mp3');
  const huge = Buffer.from([0x49, 0x44, 0x33, 4, 0, 0, 0x7f, 0x7f, 0x7f, 0x7f, 0, 0]);
  assert.equal(sniffFormat(huge), 'mp3');
});

test('noise, text and short buffers are inconclusive, and never throw', () => {
  assert.equal(sniffFormat(Buffer.alloc(0)), null);
  assert.equal(sniffFormat(Buffer.from([0xff])), null);
  assert.equal(sniffFormat(Buffer.from('{"json": true}')), null);
  assert.equal(sniffFormat(Buffer.alloc(4096, 0x11)), null);
  let seed = 1;
  const rand = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
  for (let i = 0; i < 200; i++) {
    const b = Buffer.from(Array.from({ length: rand() * 4 }, rand));
    sniffFormat(b);
    looksLikeHtml(b);
  }
});

test('HTML is recognised with a BOM, blanks, comments or a doctype in front', () => {
  for (const page of ['<!DOCTYPE html><html>', '\ufeff\n  <html lang="en">', '<!-- x -->\n<HEAD><title>', '<!doctype HTML>', '<body>\n']) {
    assert.equal(looksLikeHtml(Buffer.from(page)), true, page);
  }
  for (const other of ['<?xml version="1.0"?><playlist>', '<ASX version="3">', '[playlist]', 'ID3\u0004', '<htmlish']) {
    assert.equal(looksLikeHtml(Buffer.from(other)), false, other);
  }
});

test('content types name formats; generic ones only say "maybe audio"', () => {
  assert.equal(formatFromContentType('audio/mpeg'), 'mp3');
  assert.equal(formatFromContentType('Audio/AACP; charset=x'), 'aac');
  assert.equal(formatFromContentType('application/ogg'), 'ogg');
  assert.equal(formatFromContentType('video/MP2T'), 'mpegts');
  assert.equal(formatFromContentType('application/octet-stream'), 'unknown');
  assert.equal(formatFromContentType(undefined), 'unknown');
  assert.equal(isAudioLike('application/octet-stream'), true);
  assert.equal(isAudioLike('audio/x-whatever'), true);
  assert.equal(isAudioLike('text/plain'), false);
  assert.equal(hexPreview(Buffer.from('{"a":1}')), '7b 22 61 22 3a 31 7d');
  assert.equal(hexPreview(Buffer.alloc(0)), '(nothing)');
});
