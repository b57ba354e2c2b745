import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  DirectoryFormatError, importDirectory, importKind, PARSERS, SourceError, type SourceLimits,
} from '../../src/directories/index.js';
import { parseDvbList } from '../../src/directories/dvb.js';
import { parseIcecast } from '../../src/directories/icecast.js';
import { parseM3u } from '../../src/directories/m3u.js';
import { parseOpml } from '../../src/directories/opml.js';
import { parseRadioBrowser, radioBrowserSearchUrl } from '../../src/directories/radio-browser.js';
import { DEFAULT_PLAN_OPTIONS, Plan } from '../../src/plan/plan.js';
import { openStore } from '../../src/store/index.js';

const FIX = join(import.meta.dirname, '../../fixtures/directories');
const fixture = (name: string) => readFileSync(join(FIX, name), 'utf8');
const limits: SourceLimits = { maxBytes: 1 << 20, timeoutMs: 5000, userAgent: 'headend-test/1 (importers)' };
const newStore = () => openStore(':memory:', { plan: new Plan({ ...DEFAULT_PLAN_OPTIONS, prefix: '2001:db8:1::/64' }) });

test('radio-browser JSON: stationuuid keys, url_resolved preferred, broken entries counted', () => {
  const r = parseRadioBrowser(fixture('radio-browser.json'));
  assert.deepEqual(r.entries.map((e) => e.name), ['Jazz Lounge', 'Classic FM Test', 'Rock Antenne Test']);
  const jazz = r.entries[0];
  assert.equal(jazz.externalId, '9617a958-0601-11e8-ae97-52543be04c81');
  assert.equal(jazz.url, 'http://stream.example.org:8000/jazz.mp3');
  assert.deepEqual(jazz.tags, ['jazz', 'smooth jazz', 'lounge']);
  assert.deepEqual([jazz.codec, jazz.bitrate, jazz.country], ['MP3', 128, 'DE']);
  assert.equal(r.entries[1].url, 'https://classic.example.net/live.aac', 'falls back to url');
  assert.equal(r.entries[1].codec, 'AAC');
  assert.deepEqual(r.skipped.map((s) => [s.at, s.reason]), [
    [3, 'no http(s) stream URL'], [4, 'no stationuuid'], [5, 'not an object'], [6, 'no name'], [7, 'no http(s) stream URL'],
  ]);
  assert.throws(() => parseRadioBrowser(fixture('not-json.json')), (e: unknown) => e instanceof DirectoryFormatError && /not JSON/.test(e.message));
  assert.throws(() => parseRadioBrowser(fixture('object.json')), (e: unknown) => e instanceof DirectoryFormatError && /array/.test(e.message));
  assert.throws(() => parseRadioBrowser('[1, 2, 3]'), /stationuuid/);
  assert.deepEqual(parseRadioBrowser('[]'), { entries: [], skipped: [] });
});

test('Icecast yp.xml: listen_url keys, codec from server_type, genres as tags', () => {
  const r = parseIcecast(fixture('yp.xml'));
  assert.deepEqual(r.entries.map((e) => [e.name, e.codec, e.bitrate]), [
    ['Ambient Test Stream', 'OGG', 96], ['Metal & More', 'MP3', 128], ['AAC Talk', 'AAC', 48],
  ]);
  assert.equal(r.entries[0].externalId, 'http://ice.example.org:8000/ambient.ogg');
  assert.deepEqual(r.entries[0].tags, ['ambient', 'chillout']);
  assert.deepEqual(r.entries[2].tags, ['talk', 'news']);
  assert.deepEqual(r.skipped.map((s) => s.at), [3, 4]);
  assert.throws(() => parseIcecast(fixture('not-directory.xml')), (e: unknown) => e instanceof DirectoryFormatError && /<directory>/.test(e.message));
  assert.throws(() => parseIcecast(fixture('broken.xml')), (e: unknown) => e instanceof DirectoryFormatError && /line/.test(e.message));
  assert.throws(() => parseIcecast(fixture('radio-browser.json')), DirectoryFormatError);
});

test('TuneIn OPML: audio outlines in nested categories, Tune.ashx kept, links not followed', () => {
  const r = parseOpml(fixture('tunein.opml'));
  assert.deepEqual(r.entries.map((e) => e.name), ['Jazz FM (London, UK)', 'Smooth Jazz 24/7', 'Radio Swiss Jazz']);
  assert.equal(r.entries[0].url, 'http://opml.radiotime.com/Tune.ashx?id=s8439');
  assert.equal(r.entries[0].externalId, 's8439');
  assert.deepEqual(r.entries[2].tags, ['stations', 'local']);
  assert.equal(r.entries[1].codec, 'AAC');
  assert.deepEqual(r.skipped.map((s) => s.reason), [
    'audio outline without an http(s) URL', 'audio outline without text', 'link outline (another OPML page) not followed',
  ]);
  assert.throws(() => parseOpml(fixture('yp.xml')), (e: unknown) => e instanceof DirectoryFormatError && /<opml>/.test(e.message));
});

test('M3U: EXTINF names (commas and all), group-title and EXTGRP tags, orphans counted', () => {
  const r = parseM3u(fixture('channels.m3u'));
  assert.deepEqual(r.entries.map((e) => e.name), ['Tone (440 Hz)', 'News, with a comma', 'Named By Tvg', 'radio.example.org/plain.mp3']);
  assert.deepEqual(r.entries[1].tags, ['news', 'talk']);
  assert.deepEqual(r.entries[3].tags, ['music']);
  assert.equal(r.entries[0].externalId, 'http://127.0.0.1:8000/tone.mp3');
  assert.deepEqual(r.skipped.map((s) => [s.at, s.reason]), [[6, '#EXTINF without a URL'], [9, 'not a stream URL']]);
  assert.equal(parseM3u('http://a.example/x.mp3\n').entries.length, 1, 'headerless list of URLs');
  assert.throws(() => parseM3u(fixture('html.m3u')), (e: unknown) => e instanceof DirectoryFormatError && /HTML/.test(e.message));
  assert.throws(() => parseM3u('just words\nmore words\n'), DirectoryFormatError);
});

test('DVB list: dvblast fields, aliases accepted, every bad field named', () => {
  const r = parseDvbList(fixture('astra-sample.dvb'));
  assert.equal(r.entries.length, 7); // the plan refuses two of them later (grid, band)
  assert.deepEqual(r.entries[0], {
    externalId: '10773000H/6301', name: 'HD One', kind: 'dvb', serviceId: 6301, tags: [],
    tuning: { frequencyKhz: 10_773_000, polarisation: 'H', symbolRate: 22_000_000, system: 'DVBS2', fec: '3/4', modulation: 'PSK_8' },
  });
  const reasons = r.skipped.map((s) => s.reason.split(':')[0]);
  assert.deepEqual(reasons, ['polarisation', 'symbol_rate', 'service_id', 'system', '4 fields, expected 8 (frequency_khz polarisation symbol_rate system fec modulation service_id name)']);
  assert.equal(parseDvbList('11000000 V 27500000 DVB-S2 AUTO 8PSK 5 Alias Test').entries[0].tuning?.modulation, 'PSK_8');
  assert.throws(() => parseDvbList(fixture('not-dvb.txt')), (e: unknown) => e instanceof DirectoryFormatError && /8 fields/.test(e.message));
  // the shipped sample parses cleanly
  const astra = parseDvbList(readFileSync(join(import.meta.dirname, '../../directories/astra-28.2e.dvb'), 'utf8'));
  assert.equal(astra.skipped.length, 0);
  assert.ok(astra.entries.length >= 20);
});

test('every kind imports into the store; the plan\'s refusals are counted with reasons', async () => {
  const s = newStore();
  const files: Record<string, string> = { 'radio-browser': 'radio-browser.json', icecast: 'yp.xml', opml: 'tunein.opml', m3u: 'channels.m3u', dvb: 'astra-sample.dvb' };
  const added: Record<string, number> = {};
  for (const [kind, file] of Object.entries(files)) {
    const r = await importDirectory(s, { kind: importKind(kind)!, source: join(FIX, file) }, limits);
    added[kind] = r.added;
  }
  assert.deepEqual(added, { 'radio-browser': 3, icecast: 3, opml: 3, m3u: 4, dvb: 5 });
  const dvbSync = s.directories.syncs(1)[0];
  assert.equal(dvbSync.skipped, 7);
  assert.ok(Object.keys(dvbSync.skipReasons).some((r) => /250 kHz grid/.test(r)));
  assert.ok(Object.keys(dvbSync.skipReasons).some((r) => /outside the plan's DVB band/.test(r)));
  const dvb = s.channels.list({ kind: 'dvb' });
  assert.ok(dvb.every((c) => s.plan.describe(c.serviceNumber).kind === 'dvb'));
  s.close();
});

test('a file that is not what it claims changes nothing', async () => {
  const s = newStore();
  await importDirectory(s, { kind: 'm3u', source: join(FIX, 'channels.m3u'), name: 'list' }, limits);
  const before = JSON.stringify([s.channels.list(), s.directories.syncs(10)]);
  await assert.rejects(importDirectory(s, { kind: 'm3u', source: join(FIX, 'html.m3u'), name: 'list' }, limits), DirectoryFormatError);
  await assert.rejects(importDirectory(s, { kind: 'm3u', source: join(FIX, 'missing-file.m3u'), name: 'list' }, limits), SourceError);
  assert.equal(JSON.stringify([s.channels.list(), s.directories.syncs(10)]), before);
  s.close();
});

test('aliases for kinds', () => {
  assert.equal(importKind('yp'), 'icecast');
  assert.equal(importKind('TuneIn'), 'opml');
  assert.equal(importKind('m3u8'), 'm3u');
  assert.equal(importKind('dvb-s2'), 'dvb');
  assert.equal(importKind('nope'), undefined);
  assert.equal(Object.keys(PARSERS).length, 5);
});

// --- from a URL ---------------------------------------------------------------

interface Served { url: string; requests: { url: string; headers: IncomingHttpHeaders }[]; close(): Promise<void> }

async function serve(): Promise<Served> {
  const requests: Served['requests'] = [];
  const server: Server = createServer((req, res) => {
    requests.push({ url: req.url!, headers: req.headers });
    const path = new URL(req.url!, 'http://x').pathname;
    if (path === '/json/stations/search') return res.end(fixture('radio-browser.json'));
    if (path === '/moved') { res.writeHead(302, { location: '/yp.xml' }); return res.end(); }
    if (path === '/huge') { res.writeHead(200); res.write('#EXTM3U\n'); res.end('x'.repeat(200_000)); return; }
    if (path === '/stall') { res.writeHead(200); res.write('#EXTM3U\n'); return; } // never ends
    try {
      res.end(fixture(path.slice(1)));
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

test('every kind imports from a URL too (127.0.0.1), with our User-Agent, following redirects', async (t) => {
  const srv = await serve();
  t.after(() => srv.close());
  const s = newStore();
  t.after(() => s.close());
  for (const [kind, file] of [['icecast', 'moved'], ['opml', 'tunein.opml'], ['m3u', 'channels.m3u'], ['dvb', 'astra-sample.dvb']] as const) {
    const r = await importDirectory(s, { kind, source: `${srv.url}/${file}`, name: kind }, limits);
    assert.ok(r.added >= 3, `${kind} from URL added ${r.added}`);
  }
  assert.ok(srv.requests.every((r) => r.headers['user-agent'] === limits.userAgent));
  assert.ok(srv.requests.some((r) => r.url === '/yp.xml'), 'redirect followed');
});

test('radio-browser from a server URL: a search by tag, country and codec, no click counting', async (t) => {
  const srv = await serve();
  t.after(() => srv.close());
  const s = newStore();
  t.after(() => s.close());
  const r = await importDirectory(s, { kind: 'radio-browser', source: srv.url, query: { tag: 'jazz', country: 'de', codec: 'MP3', limit: 50 } }, limits);
  assert.equal(r.added, 3);
  assert.equal(srv.requests.length, 1);
  const q = new URL(srv.requests[0].url, 'http://x');
  assert.equal(q.pathname, '/json/stations/search');
  assert.deepEqual([q.searchParams.get('tag'), q.searchParams.get('countrycode'), q.searchParams.get('codec'), q.searchParams.get('limit'), q.searchParams.get('hidebroken')],
    ['jazz', 'DE', 'MP3', '50', 'true']);
  assert.ok(!srv.requests.some((x) => x.url.startsWith('/json/url/')), 'never hits the click-counting endpoint');
  // a full URL is used as given
  assert.equal(radioBrowserSearchUrl('https://rb.example/json/stations/bytag/jazz', { tag: 'x' }), 'https://rb.example/json/stations/bytag/jazz');
});

test('URL imports are bounded in size and time, and HTTP errors are clear', async (t) => {
  const srv = await serve();
  t.after(() => srv.close());
  const s = newStore();
  t.after(() => s.close());
  await assert.rejects(importDirectory(s, { kind: 'm3u', source: `${srv.url}/huge` }, { ...limits, maxBytes: 100_000 }),
    (e: unknown) => e instanceof SourceError && /maxBytes/.test(e.message));
  await assert.rejects(importDirectory(s, { kind: 'm3u', source: `${srv.url}/stall` }, { ...limits, timeoutMs: 300 }),
    (e: unknown) => e instanceof SourceError && /timeoutMs/.test(e.message));
  await assert.rejects(importDirectory(s, { kind: 'm3u', source: `${srv.url}/nothing-here.m3u` }, limits),
    (e: unknown) => e instanceof SourceError && /HTTP 404/.test(e.message));
  assert.equal(s.channels.count(), 0);
});
