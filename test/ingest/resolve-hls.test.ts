import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { buffer } from 'node:stream/consumers';
import { test } from 'node:test';
import { isMasterPlaylist, parseAttributes, parseMasterPlaylist, parseMediaPlaylist, pickVariant } from '../../src/ingest/http/hls.js';
import { ResolveError, resolveStation, type ResolveOptions } from '../../src/ingest/resolve.js';
import { makeHlsTs, makePackedAudioHls, serveHls, startFixture } from '../helpers/httpfixture.js';

const OPTS: ResolveOptions = { maxRedirects: 3, maxPlaylistDepth: 3, connectTimeoutMs: 2000, userAgent: 'headend-test/1' };
const HLS = { 'content-type': 'application/vnd.apple.mpegurl' };

test('HLS tag attributes, variants and media playlists parse as RFC 8216 says', () => {
  assert.deepEqual(parseAttributes('BANDWIDTH=64000,CODECS="mp4a.40.2,avc1.4d401e",NAME="a=b"'),
    { BANDWIDTH: '64000', CODECS: 'mp4a.40.2,avc1.4d401e', NAME: 'a=b' });
  const master = '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,CODECS="avc1.4d401e,mp4a.40.2"\nvideo.m3u8\n'
    + '#EXT-X-STREAM-INF:BANDWIDTH=48000,CODECS="mp4a.40.5"\nlow.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=128000,CODECS="mp4a.40.2"\nhigh/index.m3u8\n';
  assert.equal(isMasterPlaylist(master), true);
  const variants = parseMasterPlaylist(master, 'http://x/radio/master.m3u8');
  assert.equal(variants.length, 3);
  assert.equal(pickVariant(variants)?.uri, 'http://x/radio/high/index.m3u8', 'best audio-only variant');
  const media = parseMediaPlaylist('#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:100\n#EXTINF:6.0,\na.ts\n#EXTINF:5.5,\nhttp://cdn/b.ts\n', 'http://x/l/m.m3u8');
  assert.deepEqual(media, {
    targetDurationS: 6, ended: false,
    segments: [{ uri: 'http://x/l/a.ts', sequence: 100, durationS: 6 }, { uri: 'http://cdn/b.ts', sequence: 101, durationS: 5.5 }],
  });
  assert.match(parseMediaPlaylist('#EXT-X-KEY:METHOD=AES-128,URI="k"\n', 'http://x/').unsupported ?? '', /encrypted.*AES-128/);
  assert.equal(parseMediaPlaylist('#EXT-X-KEY:METHOD=NONE\n', 'http://x/').unsupported, undefined);
});

test('HLS master -> audio variant -> TS segments: the bytes in order, decodable by ffmpeg', async (t) => {
  const fx = await startFixture(t);
  const hls = await makeHlsTs(3, 1);
  serveHls(fx, '/radio/high', hls);
  fx.route('/radio/master.m3u8', {
    headers: HLS,
    body: '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=900000,CODECS="avc1.4d401e,mp4a.40.2"\n/nope/video.m3u8\n'
      + '#EXT-X-STREAM-INF:BANDWIDTH=64000,CODECS="mp4a.40.2"\nhigh/index.m3u8\n',
  });
  fx.route('/station.pls', { headers: { 'content-type': 'audio/x-scpls' }, body: `[playlist]\nFile1=${fx.url('/radio/master.m3u8')}\n` });
  const station = await resolveStation(fx.url('/station.pls'), OPTS);
  assert.equal(station.format, 'mpegts');
  assert.equal(station.contentType, 'video/mp2t');
  assert.equal(station.finalUrl, fx.url('/radio/high/index.m3u8'));
  const ffmpeg = spawn('ffmpeg', ['-nostdin', '-hide_banner', '-v', 'error', '-f', 'mpegts', '-i', 'pipe:0', '-f', 'null', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
  let errors = '';
  ffmpeg.stderr.setEncoding('utf8').on('data', (d: string) => { errors += d; });
  const chunks: Buffer[] = [];
  station.body.on('data', (c: Buffer) => { chunks.push(c); ffmpeg.stdin.write(c); });
  await new Promise((r) => station.body.once('end', r));
  ffmpeg.stdin.end();
  const code = await new Promise((r) => ffmpeg.once('exit', r));
  assert.ok(Buffer.concat(chunks).equals(Buffer.concat(hls.segments.map((s) => s.bytes))));
  assert.equal(code, 0, errors);
  assert.equal(errors.trim(), '');
  assert.ok(!fx.requests.some((r) => r.path.startsWith('/nope')), 'the video variant was not fetched');
});

test('HLS packed audio: the ID3 timestamp tags are dropped, the ADTS frames kept', async (t) => {
  const fx = await startFixture(t);
  const hls = await makePackedAudioHls(3);
  serveHls(fx, '/packed', hls, 'audio/aac');
  const station = await resolveStation(fx.url('/packed/index.m3u8'), OPTS);
  assert.equal(station.format, 'aac');
  assert.ok((await buffer(station.body)).equals(hls.audio));
});

test('a live HLS playlist is followed as it slides, each segment once, until it ends', async (t) => {
  const fx = await startFixture(t);
  const { segments } = await makeHlsTs(3, 0.25);
  assert.ok(segments.length >= 6, `${segments.length} segments`);
  let reloads = 0;
  fx.route('/live/index.m3u8', (_req, res) => {
    // Each request sees the window one segment further on (fractional target
    // durations are not RFC 8216, but they keep this test quick).
    const first = Math.min(reloads++, segments.length - 3);
    const window = segments.slice(first, first + 3);
    const ended = first + 3 >= segments.length;
    res.writeHead(200, HLS).end(['#EXTM3U', '#EXT-X-TARGETDURATION:0.05', `#EXT-X-MEDIA-SEQUENCE:${first}`,
      ...window.flatMap((s) => ['#EXTINF:0.05,', s.name]), ...(ended ? ['#EXT-X-ENDLIST'] : []), ''].join('\n'));
  });
  for (const s of segments) fx.route(`/live/${s.name}`, { headers: { 'content-type': 'video/mp2t' }, body: s.bytes });
  const station = await resolveStation(fx.url('/live/index.m3u8'), OPTS);
  const out = await buffer(station.body);
  assert.ok(out.equals(Buffer.concat(segments.map((s) => s.bytes))), 'every segment once, in order');
  const fetched = fx.requests.filter((r) => r.path.endsWith('.ts')).map((r) => r.path);
  assert.equal(new Set(fetched).size, fetched.length, 'no segment fetched twice');
});

test('encrypted and fMP4 HLS are refused by name; a dead HLS stream is not audio', async (t) => {
  const fx = await startFixture(t);
  fx.route('/enc.m3u8', { headers: HLS, body: '#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-KEY:METHOD=AES-128,URI="key"\n#EXTINF:6,\ns1.ts\n#EXT-X-ENDLIST\n' });
  fx.route('/fmp4.m3u8', { headers: HLS, body: '#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:6,\ns1.m4s\n#EXT-X-ENDLIST\n' });
  fx.route('/dead.m3u8', { headers: HLS, body: '#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\ngone.ts\n#EXT-X-ENDLIST\n' });
  const code = async (path: string): Promise<[string, string]> => {
    try {
      (await resolveStation(fx.url(path), OPTS)).close();
      return ['resolved', ''];
    } catch (err) {
      assert.ok(err instanceof ResolveError, String(err));
      return [err.code, err.message];
    }
  };
  const [enc, encMessage] = await code('/enc.m3u8');
  assert.equal(enc, 'hls-unsupported');
  assert.match(encMessage, /encrypted segments \(METHOD=AES-128\)/);
  assert.equal((await code('/fmp4.m3u8'))[0], 'hls-unsupported');
  assert.equal((await code('/dead.m3u8'))[0], 'not-audio');
});

test('close() stops a live HLS station: no more reloads nor segments', async (t) => {
  const fx = await startFixture(t);
  const { segments } = await makeHlsTs(3, 0.25);
  let requests = 0;
  let n = 0;
  fx.route('/forever/index.m3u8', (_req, res) => {
    requests++;
    // Never ends: the same segments under ever-growing sequence numbers.
    const first = n++;
    const window = [0, 1, 2].map((k) => segments[(first + k) % segments.length]!);
    res.writeHead(200, HLS).end(['#EXTM3U', '#EXT-X-TARGETDURATION:0.05', `#EXT-X-MEDIA-SEQUENCE:${first}`,
      ...window.flatMap((s) => ['#EXTINF:0.05,', s.name]), ''].join('\n'));
  });
  for (const s of segments) fx.route(`/forever/${s.name}`, { headers: { 'content-type': 'video/mp2t' }, body: s.bytes });
  const station = await resolveStation(fx.url('/forever/index.m3u8'), OPTS);
  station.body.resume();
  // Let it reload a few times, then stop it.
  const deadline = Date.now() + 5000;
  while (requests < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.ok(requests >= 4, 'the live playlist is reloaded');
  station.close();
  // A request already on the wire when close() ran may still reach the
  // server: let those land, then expect silence for four reload periods.
  await new Promise((r) => setTimeout(r, 50));
  const seen = fx.requests.length;
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(fx.requests.length, seen, 'nothing fetched after close()');
  assert.ok(station.body.destroyed);
});
