import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { buffer } from 'node:stream/consumers';
import { test } from 'node:test';
import { Agent } from 'undici';
import { ResolveError, resolveStation, type ResolveOptions, type StreamMetadata } from '../../src/ingest/resolve.js';
import { makeMedia, makeMp3, makeSelfSignedCert, startBlackhole, startFixture } from '../helpers/httpfixture.js';

const OPTS: ResolveOptions = { maxRedirects: 3, maxPlaylistDepth: 3, connectTimeoutMs: 2000, userAgent: 'headend-test/1' };

async function rejects(p: Promise<unknown>, code: string, message?: RegExp): Promise<ResolveError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ResolveError, `expected a ResolveError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return err;
  }
  assert.fail(`expected ResolveError ${code}, resolved instead`);
}

const MPEG = { 'content-type': 'audio/mpeg' };

test('a direct MP3 URL: bytes unchanged, ICY asked for, format from the bytes', async (t) => {
  const fx = await startFixture(t);
  const mp3 = await makeMp3();
  fx.route('/tone.mp3', { headers: { ...MPEG, 'icy-name': 'Tone FM', 'icy-br': '128,128', 'icy-genre': 'Test' }, body: mp3 });
  const station = await resolveStation(fx.url('/tone.mp3'), OPTS);
  assert.equal(station.finalUrl, fx.url('/tone.mp3'));
  assert.equal(station.format, 'mp3');
  assert.equal(station.contentType, 'audio/mpeg');
  assert.deepEqual(station.icy, { name: 'Tone FM', genre: 'Test', bitrate: 128 });
  assert.ok((await buffer(station.body)).equals(mp3), 'body is the MP3, first bytes included');
  assert.equal(fx.requests[0]!.headers['icy-metadata'], '1');
  assert.equal(fx.requests[0]!.headers['user-agent'], 'headend-test/1');
  station.close();
  station.close();
});

test('a redirect chain is followed to the stream', async (t) => {
  const fx = await startFixture(t);
  fx.route('/tone.mp3', { headers: MPEG, body: await makeMp3() });
  fx.route('/r1', { status: 301, redirect: '/r2' });
  fx.route('/r2', { status: 307, redirect: fx.url('/tone.mp3') });
  const station = await resolveStation(fx.url('/r1'), OPTS);
  assert.equal(station.finalUrl, fx.url('/tone.mp3'));
  assert.deepEqual(station.via, [fx.url('/r1'), fx.url('/r2'), fx.url('/tone.mp3')]);
  station.close();
});

test('a redirect loop is refused and named', async (t) => {
  const fx = await startFixture(t);
  fx.route('/a', { redirect: '/b' });
  fx.route('/b', { redirect: '/a' });
  const err = await rejects(resolveStation(fx.url('/a'), OPTS), 'redirect-loop');
  assert.equal(err.message, `redirect loop: ${fx.url('/a')} → ${fx.url('/b')} → ${fx.url('/a')}`);
});

test('more redirects than maxRedirects are refused', async (t) => {
  const fx = await startFixture(t);
  for (let i = 0; i < 5; i++) fx.route(`/r${i}`, { redirect: `/r${i + 1}` });
  fx.route('/r5', { headers: MPEG, body: await makeMp3() });
  await rejects(resolveStation(fx.url('/r0'), { ...OPTS, maxRedirects: 4 }), 'too-many-redirects', /more than 4 redirects/);
  const ok = await resolveStation(fx.url('/r0'), { ...OPTS, maxRedirects: 5 });
  assert.equal(ok.finalUrl, fx.url('/r5'));
  ok.close();
});

test('PLS -> M3U -> stream, entries tried in order until one plays', async (t) => {
  const fx = await startFixture(t);
  const mp3 = await makeMp3();
  fx.route('/station.pls', {
    headers: { 'content-type': 'audio/x-scpls' },
    body: `[playlist]\nNumberOfEntries=2\nFile2=${fx.url('/never')}\nFile1=list.m3u\nTitle1=Tone\nVersion=2\n`,
  });
  // Served as text/plain: the #EXTM3U line and the .m3u path say what it is.
  fx.route('/list.m3u', { headers: { 'content-type': 'text/plain' }, body: `#EXTM3U\n#EXTINF:-1,Dead\n${fx.url('/gone.mp3')}\n#EXTINF:-1,Tone\n/tone.mp3\n` });
  fx.route('/tone.mp3', { headers: MPEG, body: mp3 });
  const station = await resolveStation(fx.url('/station.pls'), OPTS);
  assert.equal(station.finalUrl, fx.url('/tone.mp3'));
  assert.deepEqual(fx.requests.map((r) => r.path), ['/station.pls', '/list.m3u', '/gone.mp3', '/tone.mp3']);
  assert.ok((await buffer(station.body)).equals(mp3));
});

test('a playlist loop is refused and named', async (t) => {
  const fx = await startFixture(t);
  fx.route('/a.pls', { headers: { 'content-type': 'audio/x-scpls' }, body: `[playlist]\nFile1=${fx.url('/b.m3u')}\n` });
  fx.route('/b.m3u', { headers: { 'content-type': 'audio/x-mpegurl' }, body: `${fx.url('/a.pls')}\n` });
  const err = await rejects(resolveStation(fx.url('/a.pls'), OPTS), 'playlist-loop');
  assert.equal(err.message, `playlist loop: ${fx.url('/a.pls')} → ${fx.url('/b.m3u')} → ${fx.url('/a.pls')}`);
});

test('playlists nested deeper than maxPlaylistDepth are refused', async (t) => {
  const fx = await startFixture(t);
  for (let i = 0; i < 4; i++) fx.route(`/p${i}.m3u`, { headers: { 'content-type': 'audio/mpegurl' }, body: `/p${i + 1}.m3u\n` });
  fx.route('/p4.m3u', { headers: { 'content-type': 'audio/mpegurl' }, body: '/tone.mp3\n' });
  fx.route('/tone.mp3', { headers: MPEG, body: await makeMp3() });
  await rejects(resolveStation(fx.url('/p0.m3u'), { ...OPTS, maxPlaylistDepth: 4 }), 'playlist-too-deep', /nested more than 4 deep/);
  const ok = await resolveStation(fx.url('/p0.m3u'), { ...OPTS, maxPlaylistDepth: 5 });
  assert.equal(ok.finalUrl, fx.url('/tone.mp3'));
  ok.close();
});

test('an empty playlist is refused, naming what was skipped', async (t) => {
  const fx = await startFixture(t);
  fx.route('/empty.pls', { headers: { 'content-type': 'audio/x-scpls' }, body: '[playlist]\nNumberOfEntries=0\n' });
  fx.route('/local.m3u', { headers: { 'content-type': 'audio/x-mpegurl' }, body: '#EXTM3U\nfile:///etc/passwd\n' });
  await rejects(resolveStation(fx.url('/empty.pls'), OPTS), 'empty-playlist', /PLS playlist with no stream URL/);
  await rejects(resolveStation(fx.url('/local.m3u'), OPTS), 'empty-playlist', /scheme file: not allowed/);
});

test('XSPF and ASX playlists lead to their streams', async (t) => {
  const fx = await startFixture(t);
  fx.route('/tone.mp3', { headers: MPEG, body: await makeMp3() });
  fx.route('/list.xspf', {
    headers: { 'content-type': 'application/xspf+xml' },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<playlist version="1" xmlns="http://xspf.org/ns/0/">\n<trackList>\n<track><title>Tone</title><location>${fx.url('/tone.mp3')}</location></track>\n</trackList></playlist>\n`,
  });
  fx.route('/list.asx', {
    headers: { 'content-type': 'video/x-ms-asf' },
    body: `<ASX Version="3.0">\n<Title>Tone</Title>\n<Entry><Ref HREF="${fx.url('/missing.mp3')}" /></Entry>\n<ENTRY><REF href="/tone.mp3?a=1&b=2"/></ENTRY>\n</ASX>\n`,
  });
  const a = await resolveStation(fx.url('/list.xspf'), OPTS);
  assert.equal(a.finalUrl, fx.url('/tone.mp3'));
  a.close();
  const b = await resolveStation(fx.url('/list.asx'), OPTS);
  assert.equal(b.finalUrl, fx.url('/tone.mp3?a=1&b=2'));
  b.close();
});

test('HTML is refused, labelled as such or mislabelled as audio/mpeg', async (t) => {
  const fx = await startFixture(t);
  fx.route('/page', { headers: { 'content-type': 'text/html; charset=utf-8' }, body: '<p>Listen live!</p>' });
  fx.route('/fake.mp3', { headers: MPEG, body: '\n<!DOCTYPE html>\n<html><head><title>Radio</title></head><body></body></html>' });
  await rejects(resolveStation(fx.url('/page'), OPTS), 'html', /is a web page \(text\/html\)/);
  await rejects(resolveStation(fx.url('/fake.mp3'), OPTS), 'html', /labelled audio\/mpeg but sends an HTML page/);
});

test('an HTTP error status is reported with its reason', async (t) => {
  const fx = await startFixture(t);
  fx.route('/moved', { redirect: '/nowhere' });
  const err = await rejects(resolveStation(fx.url('/y'), OPTS), 'http-status');
  assert.equal(err.message, `${fx.url('/y')} returned 404 Not Found`);
  await rejects(resolveStation(fx.url('/moved'), OPTS), 'http-status', /nowhere returned 404 Not Found \(redirected from .*\/moved\)/);
});

test('something that is neither audio nor a playlist is refused', async (t) => {
  const fx = await startFixture(t);
  fx.route('/api', { headers: { 'content-type': 'application/json' }, body: '{"error":"no such station"}' });
  await rejects(resolveStation(fx.url('/api'), OPTS), 'not-audio', /Content-Type application\/json, first bytes 7b 22 65 72/);
});

test('slow headers and a slow first byte time out', async (t) => {
  const fx = await startFixture(t);
  const mp3 = await makeMp3();
  fx.route('/slow-headers', { delayMs: 5000, headers: MPEG, body: mp3 });
  fx.route('/slow-body', { firstByteDelayMs: 5000, headers: MPEG, body: mp3 });
  const opts = { ...OPTS, connectTimeoutMs: 200 };
  await rejects(resolveStation(fx.url('/slow-headers'), opts), 'timeout', /did not send the response headers within 200 ms/);
  await rejects(resolveStation(fx.url('/slow-body'), opts), 'timeout', /did not send its first bytes within 200 ms/);
});

test('a connect that never completes times out', async (t) => {
  const hole = await startBlackhole(t);
  await rejects(resolveStation(hole.url, { ...OPTS, connectTimeoutMs: 300 }), 'timeout', /did not send the response headers within 300 ms/);
});

test('a refused connection is a network error; a bad URL too', async () => {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
  await rejects(resolveStation(`http://127.0.0.1:${port}/x`, OPTS), 'network', /ECONNREFUSED/);
  await rejects(resolveStation('ftp://example.invalid/x', OPTS), 'network', /only http and https/);
  await rejects(resolveStation('not a url', OPTS), 'network', /is not a URL/);
});

test('https with a certificate the dispatcher trusts; refused otherwise', async (t) => {
  const tls = await makeSelfSignedCert();
  const fx = await startFixture(t, { tls });
  const mp3 = await makeMp3();
  fx.route('/tone.mp3', { headers: MPEG, body: mp3 });
  const dispatcher = new Agent({ connect: { ca: tls.cert } });
  t.after(() => dispatcher.close());
  const station = await resolveStation(fx.url('/tone.mp3'), { ...OPTS, dispatcher });
  assert.ok(station.finalUrl.startsWith('https://'));
  assert.ok((await buffer(station.body)).equals(mp3));
  await rejects(resolveStation(fx.url('/tone.mp3'), OPTS), 'network', /self-signed certificate/);
});

test('ICY blocks are stripped exactly and title changes are emitted once each', async (t) => {
  const fx = await startFixture(t);
  const mp3 = await makeMp3();
  const metaint = 700;
  const blocks = Math.floor(mp3.length / metaint);
  // A new title every 5 blocks; in between, empty blocks or the same text again.
  const title = (i: number): string => `Song ${Math.floor(i / 5)}; it's "quoted"`;
  fx.icy('/live.mp3', {
    audio: mp3, metaint, chunkBytes: 333,
    headers: { 'icy-name': 'Live', 'icy-description': 'Tests' },
    block: (i) => (i % 5 === 1 ? undefined : `StreamTitle='${title(i)}';StreamUrl='http://x/${Math.floor(i / 5)}';`),
  });
  const station = await resolveStation(fx.url('/live.mp3'), OPTS);
  assert.equal(station.icy.metaint, metaint);
  assert.equal(station.icy.name, 'Live');
  const seen: StreamMetadata[] = [];
  station.on('metadata', (m) => seen.push(m));
  station.on('metadata', () => { throw new Error('a listener bug'); });
  const audio = await buffer(station.body);
  assert.equal(audio.length, mp3.length);
  assert.ok(audio.equals(mp3), 'audio out equals the MP3 in, byte for byte');
  const expected = Array.from({ length: Math.ceil(blocks / 5) }, (_, k) => title(k * 5));
  assert.deepEqual(seen.map((m) => m.title), expected);
  assert.equal(seen[1]!.url, 'http://x/1');
  assert.equal(station.icyStats!.audioBytes, mp3.length);
});

test('a SHOUTcast v1 server answering "ICY 200 OK" is understood', async (t) => {
  const fx = await startFixture(t);
  const mp3 = await makeMp3();
  fx.icy('/;stream.mp3', {
    audio: mp3, metaint: 8192, statusLine: 'ICY 200 OK',
    headers: { 'icy-name': 'Old School', 'icy-br': 128 },
    block: (i) => `StreamTitle='Track ${i}';`,
  });
  const station = await resolveStation(fx.url('/;stream.mp3'), OPTS);
  const titles: Array<string | undefined> = [];
  station.on('metadata', (m) => titles.push(m.title));
  assert.equal(station.icy.name, 'Old School');
  assert.equal(station.icy.metaint, 8192);
  assert.equal(station.format, 'mp3');
  assert.ok((await buffer(station.body)).equals(mp3));
  assert.deepEqual(titles, ['Track 0', 'Track 1', 'Track 2']);
  assert.equal(fx.requests.at(-1)!.headers['icy-metadata'], '1');
});

test('a station dropping mid-stream ends the body without an uncaught error', async (t) => {
  const fx = await startFixture(t);
  const mp3 = await makeMp3();
  fx.route('/drops.mp3', (_req, res) => {
    res.writeHead(200, MPEG);
    res.write(mp3.subarray(0, 10_000));
    setTimeout(() => res.socket?.destroy(), 20);
  });
  const station = await resolveStation(fx.url('/drops.mp3'), OPTS);
  let bytes = 0;
  station.body.on('data', (c: Buffer) => { bytes += c.length; });
  await new Promise((resolve) => station.body.once('close', resolve));
  assert.equal(bytes, 10_000);
  assert.ok(station.body.destroyed);
});

test('a station without Icy-MetaData support still plays', async (t) => {
  const fx = await startFixture(t);
  const mp3 = await makeMp3();
  fx.route('/plain', (req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.end(mp3);
  });
  const station = await resolveStation(fx.url('/plain'), OPTS);
  assert.equal(station.icy.metaint, undefined);
  assert.equal(station.format, 'mp3');
  assert.ok((await buffer(station.body)).equals(mp3));
});

test('the format comes from the bytes when the label is wrong, from the label when bytes say nothing', async (t) => {
  const fx = await startFixture(t);
  const adts = await makeMedia('tone.aac', 1, ['-c:a', 'aac', '-b:a', '64k', '-f', 'adts']);
  fx.route('/aacplus', { headers: MPEG, body: adts });
  fx.route('/opaque', { headers: { 'content-type': 'audio/ogg' }, body: Buffer.alloc(5000, 0x11) });
  const a = await resolveStation(fx.url('/aacplus'), OPTS);
  assert.equal(a.format, 'aac');
  a.close();
  const b = await resolveStation(fx.url('/opaque'), OPTS);
  assert.equal(b.format, 'ogg');
  b.close();
});

test('close() drops the connection of an endless stream; an abort stops resolving', async (t) => {
  const fx = await startFixture(t);
  const mp3 = await makeMp3();
  let closedByClient = false;
  fx.icy('/endless.mp3', { audio: mp3, metaint: 8192, loop: true, chunkBytes: 4096, intervalMs: 5 });
  fx.route('/hang', { delayMs: 10_000, headers: MPEG, body: mp3 });
  const station = await resolveStation(fx.url('/endless.mp3'), OPTS);
  const body = station.body;
  body.once('close', () => { closedByClient = true; });
  station.close();
  await new Promise((r) => setImmediate(r));
  assert.ok(closedByClient);

  const ctrl = new AbortController();
  const p = resolveStation(fx.url('/hang'), { ...OPTS, signal: ctrl.signal, connectTimeoutMs: 10_000 });
  setTimeout(() => ctrl.abort(new Error('channel stopped')), 50);
  await assert.rejects(p, /channel stopped/);
});
