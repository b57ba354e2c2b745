import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { resolveStation, type ResolvedStation, type StreamMetadata } from '../../src/ingest/resolve.js';
import { startIcecast } from '../helpers/icecast.js';
import { canUseNetns, Lab } from '../helpers/netns.js';

const OPTS = { maxRedirects: 3, maxPlaylistDepth: 3, connectTimeoutMs: 3000, userAgent: 'headend-test/1' };

/** Resolves with the first metadata whose title satisfies `want`, or rejects at the deadline. */
function waitTitle(station: ResolvedStation, want: string, timeoutMs = 10_000): Promise<StreamMetadata> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      station.off('metadata', on);
      reject(new Error(`no StreamTitle ${JSON.stringify(want)} within ${timeoutMs} ms (last: ${JSON.stringify(station.metadata?.title)})`));
    }, timeoutMs);
    const on = (m: StreamMetadata): void => {
      if (m.title !== want) return;
      clearTimeout(timer);
      station.off('metadata', on);
      resolve(m);
    };
    station.on('metadata', on);
  });
}

test('a real icecast2 mount: resolved, decoded by ffmpeg, titles follow setTitle', async (t) => {
  const ice = await startIcecast({ metaint: 2048, name: 'Tone Radio' });
  t.after(() => ice.close());
  await ice.setTitle('Before we listen');

  const station = await resolveStation(ice.url, OPTS);
  t.after(() => station.close());
  assert.equal(station.finalUrl, ice.url);
  assert.equal(station.format, 'mp3');
  assert.equal(station.contentType, 'audio/mpeg');
  assert.equal(station.icy.name, 'Tone Radio');
  assert.equal(station.icy.genre, 'Test');
  assert.equal(station.icy.metaint, 2048);

  // ffmpeg decodes 1.5 s of what we hand it; any corrupt byte (a metadata
  // block left in) shows up as a decode error on stderr or a non-zero exit.
  const ffmpeg = spawn('ffmpeg', ['-nostdin', '-hide_banner', '-v', 'error', '-f', 'mp3', '-i', 'pipe:0', '-t', '1.5', '-f', 'null', '-'], {
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let errors = '';
  ffmpeg.stderr.setEncoding('utf8').on('data', (d: string) => { errors += d; });
  ffmpeg.stdin.on('error', () => { /* ffmpeg stops reading after -t */ });
  // Not pipe(): the body must keep flowing (and titles keep coming) after ffmpeg is done.
  station.body.on('data', (c: Buffer) => { if (ffmpeg.stdin.writable) ffmpeg.stdin.write(c); });

  const first = station.metadata?.title === 'Before we listen' ? station.metadata : await waitTitle(station, 'Before we listen');
  assert.equal(first.title, 'Before we listen');
  await ice.setTitle("Guns N' Roses - Paradise; Live");
  const second = await waitTitle(station, "Guns N' Roses - Paradise; Live");
  assert.match(second.raw, /^StreamTitle='Guns N' Roses - Paradise; Live';/);
  await ice.setTitle('Ünïcödé – ok');
  await waitTitle(station, 'Ünïcödé – ok');

  const [code] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => ffmpeg.once('exit', (c, s) => resolve([c, s])));
  assert.equal(code, 0, errors);
  assert.equal(errors.trim(), '', 'ffmpeg decoded without complaint');
  assert.equal(station.icyStats!.unparsedBlocks, 0);
  assert.ok(station.icyStats!.audioBytes > 16_000);
});

test('icecast inside a namespace: reachable there, titles settable', { skip: !canUseNetns() && 'needs root for namespaces' }, async (t) => {
  const lab = new Lab();
  t.after(() => lab.close());
  const ns = await lab.netns('ice');
  const ice = await startIcecast({ inNamespace: ns, metaint: 4096 });
  t.after(() => ice.close());
  await ice.setTitle('In a namespace');
  const { status, body } = await ice.get('/status-json.xsl');
  assert.equal(status, 200);
  const source = (JSON.parse(body) as { icestats: { source: { listenurl: string } } }).icestats.source;
  assert.equal(source.listenurl, ice.url);
  // A listener inside the namespace hears the title in the stream itself
  // (after the burst of older audio icecast sends first, with its older title).
  const heard = await ice.get(ice.mount, false, { headers: { 'icy-metadata': '1' }, maxBytes: 32_768, timeoutMs: 4000 });
  assert.equal(heard.status, 200, heard.error);
  assert.equal(heard.headers['icy-metaint'], '4096');
  const titles: string[] = heard.bytes.toString('latin1').match(/StreamTitle='[^;]*';/g) ?? [];
  assert.ok(titles.includes("StreamTitle='In a namespace';"), titles.join(' '));
  // The host's loopback is another world: nothing listens there on that port.
  await assert.rejects(resolveStation(ice.url, { ...OPTS, connectTimeoutMs: 1000 }), /ECONNREFUSED|timeout/);
});
