import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { buildApi, listenApi, type LiveView } from '../../src/api/index.js';
import { buildConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { DEFAULT_PLAN_OPTIONS, Plan } from '../../src/plan/plan.js';
import { openStore, type Store } from '../../src/store/index.js';

const FIX = join(import.meta.dirname, '../../fixtures/directories');
const TOKEN = 'test-token-123';
const auth = { authorization: `Bearer ${TOKEN}` };
const tuning = { frequencyKhz: 10_773_000, polarisation: 'H', symbolRate: 22_000_000, system: 'DVBS2', fec: '3/4', modulation: 'PSK_8' };

function setup(t: import('node:test').TestContext, opts: { token?: string; live?: LiveView; interfaces?: string[] } = {}) {
  const config = buildConfig({ api: { listen: '127.0.0.1:0', ...(opts.token === undefined ? { token: TOKEN } : opts.token ? { token: opts.token } : {}) }, interfaces: opts.interfaces ?? [] });
  const store: Store = openStore(':memory:', { plan: new Plan({ ...DEFAULT_PLAN_OPTIONS, prefix: '2001:db8:1::/64', ipv4Ssm: '232.64.0.0/24' }) });
  const app = buildApi({ store, config, logger: silentLogger, live: opts.live });
  t.after(async () => { await app.close(); store.close(); });
  return { app, store, config };
}

test('channels: add, show, list, search, edit, enable/disable, remove', async (t) => {
  const { app } = setup(t);
  let r = await app.inject({ method: 'POST', url: '/channels', headers: auth, payload: { name: 'Tone', url: 'http://127.0.0.1:8000/tone.mp3', tags: ['demo'] } });
  assert.equal(r.statusCode, 201, r.body);
  const tone = r.json();
  assert.equal(tone.group, 'ff3e:40:2001:db8:1:0:8000:1');
  assert.equal(tone.groupV4, '232.64.0.1');
  assert.deepEqual(tone.meaning, { kind: 'radio', directory: 0, entry: 1 });

  r = await app.inject({ method: 'POST', url: '/channels', headers: auth, payload: { name: 'HD One', tuning, serviceId: 6940 } });
  assert.equal(r.statusCode, 201, r.body);
  assert.equal(r.json().kind, 'dvb');

  r = await app.inject({ url: `/channels/${tone.group}` });
  assert.equal(r.json().id, tone.id);
  r = await app.inject({ url: '/channels/232.64.0.1' });
  assert.equal(r.json().id, tone.id);
  r = await app.inject({ url: `/channels/${tone.id}` });
  assert.equal(r.json().name, 'Tone');
  r = await app.inject({ url: '/channels/4242' });
  assert.equal(r.statusCode, 404);

  r = await app.inject({ url: '/channels?kind=dvb' });
  assert.deepEqual([r.json().total, r.json().channels[0].name], [1, 'HD One']);
  r = await app.inject({ url: '/channels?q=ton' });
  assert.equal(r.json().total, 1);
  r = await app.inject({ url: '/channels?tag=demo&limit=1' });
  assert.equal(r.json().channels[0].id, tone.id);

  r = await app.inject({ method: 'PATCH', url: `/channels/${tone.id}`, headers: auth, payload: { name: 'Tone 2', codec: null } });
  assert.equal(r.statusCode, 200, r.body);
  assert.equal(r.json().name, 'Tone 2');
  r = await app.inject({ method: 'POST', url: `/channels/${tone.group}/disable`, headers: auth });
  assert.equal(r.json().enabled, false);
  r = await app.inject({ url: '/channels?enabled=false' });
  assert.equal(r.json().total, 1);
  r = await app.inject({ method: 'POST', url: `/channels/${tone.id}/enable`, headers: auth });
  assert.equal(r.json().enabled, true);
  r = await app.inject({ method: 'DELETE', url: `/channels/${tone.id}`, headers: auth });
  assert.equal(r.statusCode, 204);
  r = await app.inject({ url: `/channels/${tone.id}` });
  assert.equal(r.statusCode, 404);
});

test('writes: 401 without or with a wrong token, 403 when no token is configured; reads stay open', async (t) => {
  const { app } = setup(t);
  const body = { name: 'X', url: 'http://x.example/' };
  for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: `Basic ${TOKEN}` }, { authorization: `Bearer ${TOKEN}x` }]) {
    const r = await app.inject({ method: 'POST', url: '/channels', headers, payload: body });
    assert.equal(r.statusCode, 401, JSON.stringify(headers));
    assert.equal(r.json().error, 'unauthorized');
  }
  for (const [method, url] of [['PATCH', '/channels/1'], ['DELETE', '/channels/1'], ['POST', '/channels/1/enable'], ['POST', '/channels/1/disable'], ['POST', '/directories/import'], ['DELETE', '/directories/1']] as const) {
    const r = await app.inject({ method, url, payload: method === 'DELETE' ? undefined : { name: 'x' } });
    assert.equal(r.statusCode, 401, `${method} ${url}`);
  }
  assert.equal((await app.inject({ url: '/channels' })).statusCode, 200);

  const open = setup(t, { token: '' });
  const r = await open.app.inject({ method: 'POST', url: '/channels', headers: auth, payload: body });
  assert.equal(r.statusCode, 403);
  assert.match(r.json().message, /set api\.token/);
});

test('validation errors name the field', async (t) => {
  const { app } = setup(t);
  const post = (payload: unknown) => app.inject({ method: 'POST', url: '/channels', headers: auth, payload: payload as object });
  const cases: [unknown, string][] = [
    [{ url: 'http://x/' }, 'name'],
    [{ name: 'x', url: 'http://x/', colour: 'red' }, 'colour'],
    [{ name: 'x', tuning: { ...tuning, fec: '3/9' }, serviceId: 1 }, 'tuning.fec'],
    [{ name: 'x', tuning: { ...tuning, polarisation: undefined }, serviceId: 1 }, 'tuning.polarisation'],
    [{ name: 'x', tuning, serviceId: 70000 }, 'serviceId'],
    [{ name: 'x', url: 'http://x/', tags: [{}] }, 'tags.0'],
    [{ name: 'x', url: 'not a url' }, 'url'], // checked by the store, same shape
    [{ name: 'x' }, 'url'],
    [{ name: 'x', url: 'http://x/', groupV4: '10.1.1.1' }, 'groupV4'],
  ];
  for (const [payload, field] of cases) {
    const r = await post(payload);
    assert.equal(r.statusCode, 400, `${JSON.stringify(payload)} → ${r.body}`);
    assert.equal(r.json().field, field, r.body);
    assert.ok(r.json().message.startsWith(field), r.body);
  }
  let r = await app.inject({ url: '/channels?limit=0' });
  assert.equal(r.json().field, 'limit');
  r = await app.inject({ url: '/channels?kind=tv' });
  assert.equal(r.json().field, 'kind');
  r = await app.inject({ method: 'PATCH', url: '/channels/1', headers: auth, payload: {} });
  assert.equal(r.statusCode, 400);
  r = await app.inject({ method: 'POST', url: '/directories/import', headers: auth, payload: { kind: 'nope', source: 'x' } });
  assert.equal(r.json().field, 'kind');
  r = await app.inject({ method: 'POST', url: '/channels', headers: { ...auth, 'content-type': 'application/json' }, payload: '{"name": ' });
  assert.equal(r.statusCode, 400);
});

test('conflicts: a taken group, an IPv4 group whose MAC is taken', async (t) => {
  const { app } = setup(t);
  await app.inject({ method: 'POST', url: '/channels', headers: auth, payload: { name: 'A', tuning, serviceId: 5 } });
  let r = await app.inject({ method: 'POST', url: '/channels', headers: auth, payload: { name: 'B', tuning, serviceId: 5 } });
  assert.equal(r.statusCode, 409);
  r = await app.inject({ method: 'POST', url: '/channels', headers: auth, payload: { name: 'C', url: 'http://x/', groupV4: '239.64.0.1' } });
  assert.equal(r.statusCode, 409, r.body);
  assert.equal(r.json().field, 'groupV4');
  assert.match(r.json().message, /MAC/);
});

test('directories: import (file and errors), list, show, remove', async (t) => {
  const { app, store } = setup(t);
  let r = await app.inject({ method: 'POST', url: '/directories/import', headers: auth, payload: { kind: 'radio-browser', source: join(FIX, 'radio-browser.json'), name: 'rb' } });
  assert.equal(r.statusCode, 200, r.body);
  assert.deepEqual([r.json().added, r.json().skipped], [3, 5]);
  r = await app.inject({ method: 'POST', url: '/directories/import', headers: auth, payload: { kind: 'yp', source: join(FIX, 'not-directory.xml') } });
  assert.equal(r.statusCode, 422);
  assert.match(r.json().message, /<directory>/);
  r = await app.inject({ method: 'POST', url: '/directories/import', headers: auth, payload: { kind: 'm3u', source: 'http://127.0.0.1:9/none.m3u' } });
  assert.equal(r.statusCode, 502);
  r = await app.inject({ url: '/directories' });
  const rb = r.json().directories.find((d: { name: string }) => d.name === 'rb');
  assert.equal(rb.channels, 3);
  r = await app.inject({ url: `/directories/${rb.id}` });
  assert.equal(r.json().syncs[0].added, 3);
  r = await app.inject({ url: '/directories/rb' });
  assert.equal(r.json().id, rb.id);
  r = await app.inject({ method: 'POST', url: '/directories/rb/sync', headers: auth });
  assert.deepEqual([r.statusCode, r.json().unchanged, r.json().added], [200, 3, 0], r.body);
  assert.equal((await app.inject({ method: 'POST', url: '/directories/rb/sync' })).statusCode, 401);
  r = await app.inject({ method: 'POST', url: '/directories/manual/sync', headers: auth });
  assert.deepEqual([r.statusCode, r.json().field], [400, 'ref']);
  r = await app.inject({ method: 'DELETE', url: '/directories/rb', headers: auth });
  assert.equal(r.statusCode, 204);
  assert.equal(store.channels.count(), 0);
  assert.equal((await app.inject({ url: '/directories/rb' })).statusCode, 404);
});

test('GET /channels.m3u: rtp:// entries with names and tvg ids, SSM source when asked', async (t) => {
  const { app } = setup(t);
  await app.inject({ method: 'POST', url: '/channels', headers: auth, payload: { name: 'Tone', url: 'http://x/t.mp3', tags: ['Demo'] } });
  await app.inject({ method: 'POST', url: '/channels', headers: auth, payload: { name: 'Off', url: 'http://x/o.mp3', enabled: false } });
  let r = await app.inject({ url: '/channels.m3u' });
  assert.equal(r.statusCode, 200);
  assert.match(r.headers['content-type'] as string, /audio\/x-mpegurl/);
  assert.equal(r.body, '#EXTM3U\n#EXTINF:-1 tvg-id="sn80000001" tvg-name="Tone" tvg-chno="1" group-title="Demo" radio="true",Tone\nrtp://@[ff3e:40:2001:db8:1:0:8000:1]:5004\n');
  r = await app.inject({ url: '/channels.m3u?source=2001:db8:1::1&all=true' });
  assert.match(r.body, /rtp:\/\/\[2001:db8:1::1\]@\[ff3e:40:2001:db8:1:0:8000:1\]:5004/);
  assert.match(r.body, /,Off\n/);
  r = await app.inject({ url: '/channels.m3u?source=2001:db8:1::1&style=ffmpeg' });
  assert.match(r.body, /\nrtp:\/\/\[ff3e:40:2001:db8:1:0:8000:1\]:5004\?sources=2001:db8:1::1\n/);
  r = await app.inject({ url: '/channels.m3u?style=mpv' });
  assert.equal(r.json().field, 'style');
  r = await app.inject({ url: '/channels.m3u?ipv4=true' });
  assert.match(r.body, /rtp:\/\/@232\.64\.0\.1:5004/);
});

test('GET /channels/<group>.sdp: live SDP while playing, else the one it will announce', async (t) => {
  const live: LiveView = {
    status: () => ({ sessions: [{ group: 'x', state: 'live' }] }),
    sdp: (group) => (group === 'ff3e:40:2001:db8:1:0:8000:2' ? 'v=0\r\ns=live one\r\n' : undefined),
  };
  const { app } = setup(t, { live });
  await app.inject({ method: 'POST', url: '/channels', headers: auth, payload: { name: 'Idle', url: 'http://x/1' } });
  await app.inject({ method: 'POST', url: '/channels', headers: auth, payload: { name: 'Playing', url: 'http://x/2' } });
  await app.inject({ method: 'POST', url: '/channels', headers: auth, payload: { name: 'TV', tuning, serviceId: 1 } });
  let r = await app.inject({ url: '/channels/ff3e:40:2001:db8:1:0:8000:1.sdp' });
  assert.equal(r.statusCode, 200);
  assert.match(r.headers['content-type'] as string, /application\/sdp/);
  assert.match(r.body, /s=Idle\r\n/);
  assert.match(r.body, /c=IN IP6 ff3e:40:2001:db8:1:0:8000:1\r\n/);
  assert.match(r.body, /m=audio 5004 RTP\/AVP 14\r\n/);
  r = await app.inject({ url: '/channels/ff3e:40:2001:db8:1:0:8000:2.sdp' });
  assert.equal(r.body, 'v=0\r\ns=live one\r\n');
  r = await app.inject({ url: '/channels/232.64.0.1.sdp' });
  assert.match(r.body, /c=IN IP4 232\.64\.0\.1\/1\r\n/);
  const tv = (await app.inject({ url: '/channels?kind=dvb' })).json().channels[0];
  r = await app.inject({ url: `/channels/${tv.group}.sdp` });
  assert.match(r.body, /m=video 5004 RTP\/AVP 33/);
  r = await app.inject({ url: '/channels/ff3e::dead.sdp' });
  assert.equal(r.statusCode, 404);
  r = await app.inject({ url: '/status' });
  assert.deepEqual(r.json(), { channels: 3, enabled: 3, directories: 1, plan: { prefix: '2001:db8:1::/64', ipv4: '232.64.0.0/24' }, sessions: [{ group: 'x', state: 'live' }] });
});

test('GET /plan/<ref> and /history', async (t) => {
  const { app, store } = setup(t);
  await app.inject({ method: 'POST', url: '/channels', headers: auth, payload: { name: 'Tone', url: 'http://x/t.mp3' } });
  let r = await app.inject({ url: '/plan/ff3e:40:2001:db8:1:0:8000:1' });
  assert.deepEqual(r.json(), {
    serviceNumber: 0x8000_0001, serviceNumberHex: '0x80000001', group: 'ff3e:40:2001:db8:1:0:8000:1',
    meaning: { kind: 'radio', directory: 0, entry: 1 }, mac: '33:33:80:00:00:01', groupV4: '232.64.0.1', macV4: '01:00:5e:40:00:01',
    channel: { id: 1, name: 'Tone', enabled: true },
  });
  r = await app.inject({ url: '/plan/1' });
  assert.deepEqual([r.json().meaning, r.json().channel], [{ kind: 'static' }, undefined], 'a number is a service number, not channel id 1');
  r = await app.inject({ url: `/plan/${0xc124_1b1c}` });
  assert.equal(r.json().meaning.serviceId, 6940);
  assert.equal(r.json().channel, undefined);
  r = await app.inject({ url: '/plan/ff3e:40:2001:db8:9:0:8000:1' });
  assert.equal(r.statusCode, 400);
  assert.equal(r.json().error, 'not-in-plan');
  r = await app.inject({ url: '/plan/banana' });
  assert.equal(r.statusCode, 400);

  store.history.add({ group: 'ff3e:40:2001:db8:1:0:8000:1', event: 'start', listeners: 1, at: 5 });
  store.history.add({ group: 'ff3e::1', event: 'refused', reason: 'no channel', at: 6 });
  r = await app.inject({ url: '/history?group=ff3e:40:2001:db8:1:0:8000:1' });
  assert.deepEqual(r.json().history.map((h: { event: string }) => h.event), ['start']);
  r = await app.inject({ url: '/history?limit=1' });
  assert.equal(r.json().history[0].event, 'refused');
  assert.equal((await app.inject({ url: '/nowhere' })).statusCode, 404);
});

test('listens on loopback by default', async (t) => {
  const { app, config } = setup(t);
  assert.equal(buildConfig({}).api.listen, '127.0.0.1:8080');
  const address = await listenApi(app, config.api.listen);
  assert.match(address, /^http:\/\/127\.0\.0\.1:\d+$/);
  const res = await fetch(`${address}/status`);
  assert.equal(res.status, 200);
});

test('POST /directories/import runs on a worker thread against a file store; errors keep their status', async (t) => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'api-'));
  const config = buildConfig({ api: { listen: '127.0.0.1:0', token: TOKEN } });
  const store = openStore(join(dir, 'h.db'), { plan: new Plan({ ...DEFAULT_PLAN_OPTIONS, prefix: '2001:db8:5::/64' }) });
  const app = buildApi({ store, config, logger: silentLogger });
  t.after(async () => { await app.close(); store.close(); rmSync(dir, { recursive: true, force: true }); });
  let r = await app.inject({ method: 'POST', url: '/directories/import', headers: auth, payload: { kind: 'opml', source: join(FIX, 'tunein.opml'), name: 'tunein' } });
  assert.equal(r.statusCode, 200, r.body);
  assert.equal(r.json().added, 3);
  // the daemon's own connection sees what the worker committed, under the same plan
  const jazz = store.channels.search('Jazz FM')[0];
  assert.match(jazz.group, /^ff3e:40:2001:db8:5:0:/);
  r = await app.inject({ method: 'POST', url: '/directories/import', headers: auth, payload: { kind: 'dvb', source: join(FIX, 'not-dvb.txt') } });
  assert.equal(r.statusCode, 422, r.body);
  r = await app.inject({ method: 'POST', url: '/directories/import', headers: auth, payload: { kind: 'opml', source: join(FIX, 'tunein.opml'), name: 'tunein' } });
  assert.equal(r.json().unchanged, 3);
  r = await app.inject({ method: 'POST', url: '/directories/import', headers: auth, payload: { kind: 'm3u', source: join(FIX, 'channels.m3u'), name: 'tunein' } });
  assert.equal(r.statusCode, 409, r.body);
  assert.equal(r.json().field, 'directory');
});
