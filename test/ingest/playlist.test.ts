import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { decodeText, parsePlaylist, playlistKind } from '../../src/ingest/playlist.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`../../fixtures/playlists/${name}`, import.meta.url));
const BASE = 'http://dir.example.org/stations/list';

test('PLS: FileN entries in N order, keys in any case, CRLF lines', () => {
  const list = parsePlaylist('pls', decodeText(fixture('station.pls')), BASE);
  assert.deepEqual(list.entries, [
    'http://stream.example.net:8000/live.mp3',
    'https://stream.example.net/live.aac',
    'http://also-two.example.net/x',
    'http://backup.example.net/live.mp3',
  ]);
  assert.equal(list.hls, false);
});

test('M3U: comments skipped, relative entries made absolute, duplicates and file: dropped', () => {
  const list = parsePlaylist('m3u', decodeText(fixture('list.m3u')), BASE);
  assert.deepEqual(list.entries, ['http://stream.example.net:8000/live.mp3', 'http://dir.example.org/streams/low.mp3']);
  assert.deepEqual(list.dropped, ['"file:///etc/passwd": scheme file: not allowed']);
  assert.deepEqual(parsePlaylist('m3u', decodeText(fixture('plain.m3u')), BASE).entries, ['http://stream.example.net/plain.mp3']);
});

test('M3U in Latin-1 is read as Latin-1, UTF-8 as UTF-8', () => {
  const list = parsePlaylist('m3u', decodeText(fixture('latin1.m3u')), BASE);
  assert.deepEqual(list.entries, ['http://stream.example.net/caf%C3%A9.mp3']);
  assert.equal(decodeText(Buffer.from('\ufeffCafé', 'utf8')), 'Café');
});

test('HLS media and master playlists are recognised, not listed', () => {
  for (const name of ['hls-media.m3u8', 'hls-master.m3u8']) {
    const list = parsePlaylist('m3u', decodeText(fixture(name)), BASE);
    assert.equal(list.hls, true, name);
    assert.deepEqual(list.entries, []);
  }
});

test('XSPF: track locations in order, trimmed, entities decoded', () => {
  const list = parsePlaylist('xspf', decodeText(fixture('list.xspf')), BASE);
  assert.deepEqual(list.entries, ['http://stream.example.net:8000/live.ogg', 'http://dir.example.org/fallback.ogg?x=1&y=2']);
});

test('ASX: any letter case, bare ampersands, mms:// tried as http://, entryref followed', () => {
  const list = parsePlaylist('asx', decodeText(fixture('upper.asx')), BASE);
  assert.deepEqual(list.entries, ['http://wm.example.net/live', 'http://wm.example.net/live?a=1&b=2', 'http://example.net/more.asx']);
});

test('truncated or garbage XML gives what it can, never throws', () => {
  const list = parsePlaylist('xspf', decodeText(fixture('truncated.xspf')), BASE);
  assert.ok(list.entries.length <= 2);
  for (const junk of ['', '<', '<<<>>>', '<asx><entry><ref href=', '\u0000\u0001\u0002', 'x'.repeat(10000)]) {
    for (const kind of ['pls', 'm3u', 'xspf', 'asx'] as const) {
      const l = parsePlaylist(kind, junk, BASE);
      assert.ok(Array.isArray(l.entries));
    }
  }
});

test('playlistKind: the content decides first, then the type, then the extension under a generic type', () => {
  const text = (s: string): Buffer => Buffer.from(s);
  assert.equal(playlistKind('text/html', 'http://x/a', text('[playlist]\nFile1=http://x/s')), 'pls');
  assert.equal(playlistKind(undefined, 'http://x/a', text('#EXTM3U\n')), 'm3u');
  assert.equal(playlistKind('text/plain', 'http://x/a', text('<ASX version="3"><entry/></ASX>')), 'asx');
  assert.equal(playlistKind('', 'http://x/a', fixture('list.xspf')), 'xspf');
  assert.equal(playlistKind('audio/x-mpegurl; charset=utf-8', 'http://x/a', text('http://x/s\n')), 'm3u');
  assert.equal(playlistKind('application/octet-stream', 'http://x/a.pls?x=1', text('File1=http://x/s')), 'pls');
  assert.equal(playlistKind('text/plain', 'http://x/list.m3u', text('http://x/s\n')), 'm3u');
  // Not playlists: real audio types, binary under a playlist extension, real ASF media.
  assert.equal(playlistKind('audio/mpeg', 'http://x/list.m3u', text('http://x/s\n')), null);
  assert.equal(playlistKind('application/octet-stream', 'http://x/live.m3u', Buffer.from([0xff, 0xfb, 0x90, 0x00, 1, 2])), null);
  assert.equal(playlistKind('video/x-ms-asf', 'http://x/live', Buffer.from([0x30, 0x26, 0xb2, 0x75])), null);
  assert.equal(playlistKind('text/plain', 'http://x/readme.txt', text('hello')), null);
});
