// On demand, end to end: real icecast2, real ffmpeg, real `headend serve`
// and real listening hosts in network namespaces on a bridge. One lab is set
// up once and shared by every case, which run in order.
//
//   c1 ─┐
//   c2 ─┼─ br0 (hub) ─ lan0 [head: headend serve, icecast2 on loopback, bad-source server]
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, canUseNetns, type Netns } from '../helpers/netns.js';
import { startIcecast, type Icecast } from '../helpers/icecast.js';
import { Probe, Sniffer, startServe, until, type ServeProcess } from '../../src/lab/parts.js';
import { apiGet } from './ondemand-lab.js';

const skip = !canUseNetns() && 'needs root and iproute2';

const HEAD = '2001:db8:1::1';
const TONE = 'ff3e:40:2001:db8:1:0:8000:1';
const TWO = 'ff3e:40:2001:db8:1:0:8000:2';
const HTML = 'ff3e:40:2001:db8:1:0:8000:11';
const NOTFOUND = 'ff3e:40:2001:db8:1:0:8000:12';
const REDIRECT_LOOP = 'ff3e:40:2001:db8:1:0:8000:13';
const PLAYLIST_LOOP = 'ff3e:40:2001:db8:1:0:8000:14';
const UNMAPPED = 'ff3e:40:2001:db8:1:0:8000:99';
const API_PORT = 18080;
const BAD_PORT = 18090;

// Sources that go wrong, served from inside the headend namespace.
const BAD_SERVER = `
require('node:http').createServer((req, res) => {
  const p = req.url;
  if (p === '/page') { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<!doctype html><html><body>Listen live!</body></html>'); }
  else if (p === '/loop') { res.writeHead(302, { location: '/loop' }); res.end(); }
  else if (p === '/a.m3u') { res.writeHead(200, { 'content-type': 'audio/x-mpegurl' }); res.end('#EXTM3U\\nhttp://127.0.0.1:${BAD_PORT}/b.m3u\\n'); }
  else if (p === '/b.m3u') { res.writeHead(200, { 'content-type': 'audio/x-mpegurl' }); res.end('#EXTM3U\\nhttp://127.0.0.1:${BAD_PORT}/a.m3u\\n'); }
  else { res.writeHead(404, { 'content-type': 'text/plain' }); res.end('no such station'); }
}).listen(${BAD_PORT}, '127.0.0.1', () => console.log('listening'));
`;

let lab: Lab;
let head: Netns;
let c1: Netns;
let c2: Netns;
let ice: Icecast;
let serve: ServeProcess;
let dir: string;

const api = (path: string) => apiGet(head, API_PORT, path);

interface LiveSession { group: string; state: string; lastError?: string; refused?: string; listeners: number; stream?: { pid?: number; spawns: number; title?: string } }
async function session(group: string): Promise<LiveSession | undefined> {
  const { body } = await api('/status');
  const status = JSON.parse(body) as { live: { sessions: LiveSession[] } };
  return status.live.sessions.find((s) => s.group === group);
}

before(async () => {
  if (skip) return;
  lab = new Lab();
  head = await lab.netns('head');
  const hub = await lab.netns('hub');
  c1 = await lab.netns('c1');
  c2 = await lab.netns('c2');
  await lab.bridge(hub, head, 'lan0', [c1, c2]);
  await head.exec('ip', ['-6', 'addr', 'add', `${HEAD}/64`, 'dev', 'lan0', 'nodad']);
  await c1.exec('ip', ['-6', 'addr', 'add', '2001:db8:1::10/64', 'dev', 'eth0', 'nodad']);
  await c2.exec('ip', ['-6', 'addr', 'add', '2001:db8:1::11/64', 'dev', 'eth0', 'nodad']);
  ice = await startIcecast({ inNamespace: head, name: 'Lab Tone' });
  const bad = head.spawn(process.execPath, ['-e', BAD_SERVER], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise((resolve) => bad.stdout!.once('data', resolve));

  dir = await mkdtemp(join(tmpdir(), 'headend-ondemand-'));
  const bad_ = (path: string) => `http://127.0.0.1:${BAD_PORT}${path}`;
  const config = {
    interfaces: ['lan0'],
    database: join(dir, 'headend.db'),
    api: { listen: `127.0.0.1:${API_PORT}` },
    // ffmpeg's sap demuxer joins any-source; see config/lab.yaml for why.
    membership: { ssmRanges: [] },
    sessions: { lingerMs: 0, retryBackoffMs: 60_000, retryBackoffMaxMs: 60_000 },
    announce: { intervalMs: 1000 },
    ingest: { restartBackoffMs: 100, connectTimeoutMs: 3000 },
    channels: [
      { group: TONE, name: 'Tone', url: ice.url },
      { group: TWO, name: 'Two', url: ice.url },
      { group: HTML, name: 'Web page', url: bad_('/page') },
      { group: NOTFOUND, name: 'Gone', url: bad_('/gone') },
      { group: REDIRECT_LOOP, name: 'Loop', url: bad_('/loop') },
      { group: PLAYLIST_LOOP, name: 'Playlists', url: bad_('/a.m3u') },
    ],
  };
  await writeFile(join(dir, 'headend.json'), JSON.stringify(config));
  serve = await startServe(head, join(dir, 'headend.json'));
});

after(async () => {
  if (skip) return;
  try {
    const code = await serve?.stop();
    assert.equal(code, 0, `headend serve exited ${code}:\n${serve?.log.text.slice(-3000)}`);
    await ice?.close();
  } finally {
    await lab.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  }
});

test('join → audio decodes at the client via ffprobe sap://[group]:9875 and via the HTTP .sdp; leave → RTP stops and a SAP deletion goes out', { skip }, async () => {
  // The ffprobe join is the whole client: it hears SAP, reads the SDP, opens the RTP.
  const probe = await Probe.start(c2, TONE, 'eth0');
  const wire = await Sniffer.start(c2, 'eth0', TONE);
  await probe.join(HEAD);
  try {
    const out = await c1.exec('ffprobe', ['-v', 'error', '-analyzeduration', '1000000', '-show_entries', 'stream=codec_name,sample_rate,channels', '-of', 'json', `sap://[${TONE}]:9875`], { timeoutMs: 20_000 });
    const streams = (JSON.parse(out) as { streams: Array<{ codec_name: string; sample_rate: string }> }).streams;
    assert.equal(streams[0]?.codec_name, 'mp3');
    assert.equal(streams[0]?.sample_rate, '44100');
    // the live SDP over HTTP decodes too (while the probe host keeps the group wanted)
    const sdp = await api(`/channels/${TONE}.sdp`);
    assert.equal(sdp.status, 200);
    assert.match(sdp.body, /^m=audio 5004 RTP\/AVP 14$/m);
    assert.match(sdp.body, new RegExp(`^a=source-filter: incl IN IP6 ${TONE} ${HEAD}$`, 'm'));
    await writeFile(join(dir, 'tone.sdp'), sdp.body);
    const viaHttp = await c1.exec('ffprobe', ['-v', 'error', '-analyzeduration', '1000000', '-protocol_whitelist', 'file,udp,rtp', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', join(dir, 'tone.sdp')], { timeoutMs: 20_000 });
    assert.equal(viaHttp.trim(), 'mp3');
    const s = await session(TONE);
    assert.equal(s?.state, 'live');
    assert.ok(probe.rtp().length > 0, 'the probe host got RTP');
  } finally {
    const leftAt = await probe.leave();
    await probe.close();
    // The last leave: a deletion goes out, then no more RTP.
    const deletion = await until('SAP deletion on the wire', () => wire.of('sap-deletion').find((e) => e.at >= leftAt - 5), 5000);
    await until('session gone', async () => (await session(TONE)) === undefined);
    const settled = wire.mark();
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(wire.of('rtp', settled), [], 'RTP still flowing after the session stopped');
    assert.ok(wire.of('rtp').length > 0);
    assert.ok(deletion.at - leftAt < 2000, `deletion ${deletion.at - leftAt} ms after the leave`);
    await wire.close();
  }
});

test('an ICY title change reaches a new SAP announcement (new hash, i= the title, o= version up)', { skip }, async () => {
  const probe = await Probe.start(c1, TONE, 'eth0');
  try {
    await probe.join(HEAD);
    const first = await probe.log.waitFor('first SAP', (e) => e.ev === 'sap' && !e.deletion, { timeoutMs: 10_000 });
    const title = `Lab Artist - Song ${process.pid}`;
    await ice.setTitle(title);
    const next = await probe.log.waitFor('SAP with the new title', (e) => e.ev === 'sap' && e.sdp.includes(`i=${title}`), { timeoutMs: 10_000 });
    assert.ok(next.ev === 'sap' && first.ev === 'sap');
    assert.notEqual(next.hash, first.hash);
    const version = (sdp: string) => Number(/^o=- \d+ (\d+) /m.exec(sdp)?.[1]);
    assert.ok(version(next.sdp) > version(first.sdp), 'o= version goes up');
    assert.equal((await session(TONE))?.stream?.title, title);
  } finally {
    await probe.leave();
    await probe.close();
    await until('session gone', async () => (await session(TONE)) === undefined);
  }
});

test('two clients: the stream stays until both leave', { skip }, async () => {
  const a = await Probe.start(c1, TONE, 'eth0');
  const b = await Probe.start(c2, TONE, 'eth0');
  const wire = await Sniffer.start(c2, 'eth0', TONE);
  try {
    await a.join(HEAD);
    await b.join(HEAD);
    await until('live with two listeners', async () => {
      const s = await session(TONE);
      return s?.state === 'live' && s.listeners === 2;
    });
    await a.leave();
    await until('one listener left', async () => (await session(TONE))?.listeners === 1);
    const mark = b.log.mark();
    await b.log.waitFor('RTP after the first leave', (e) => e.ev === 'rtp', { after: mark, timeoutMs: 3000 });
    assert.equal((await session(TONE))?.state, 'live');
    await b.leave();
    await until('stopped after the second leave', async () => (await session(TONE)) === undefined);
    await until('SAP deletion', () => wire.of('sap-deletion').length > 0, 5000);
  } finally {
    await Promise.all([a.close(), b.close(), wire.close()]);
  }
});

test('ffmpeg killed mid-stream (by its pid) is restarted and the client keeps receiving', { skip }, async () => {
  const probe = await Probe.start(c1, TWO, 'eth0');
  try {
    await probe.join(HEAD);
    const live = await until('live with a pid', async () => {
      const s = await session(TWO);
      return s?.state === 'live' && s.stream?.pid ? s : undefined;
    });
    await probe.log.waitFor('RTP', (e) => e.ev === 'rtp');
    await head.exec('kill', ['-KILL', String(live.stream!.pid)]);
    const killedAt = Date.now();
    const again = await until('a new ffmpeg', async () => {
      const s = await session(TWO);
      return s?.stream?.pid && s.stream.pid !== live.stream!.pid && s.stream.spawns >= 2 ? s : undefined;
    });
    assert.equal(again.state, 'live', 'the session stays live across the restart');
    const mark = probe.log.mark();
    const more = await probe.log.waitFor('RTP from the new ffmpeg', (e) => e.ev === 'rtp' && e.at > killedAt, { after: mark, timeoutMs: 10_000 });
    assert.equal(more.ev === 'rtp' && more.pt, 14);
  } finally {
    await probe.leave();
    await probe.close();
    await until('session gone', async () => (await session(TWO)) === undefined);
  }
});

test('bad sources (HTML, 404, redirect loop, playlist loop) fail with a clear reason; nothing crashes; the next join retries', { skip }, async () => {
  const cases: Array<[string, RegExp]> = [
    [HTML, /resolve html: .*web page/],
    [NOTFOUND, /resolve http-status: .*404/],
    [REDIRECT_LOOP, /resolve redirect-loop/],
    [PLAYLIST_LOOP, /resolve playlist-loop/],
  ];
  for (const [group, reason] of cases) {
    const probe = await Probe.start(c1, group, 'eth0');
    try {
      await probe.join(HEAD);
      const failed = await until(`failure of ${group}`, async () => {
        const s = await session(group);
        return s?.lastError ? s : undefined;
      });
      assert.equal(failed.state, 'idle');
      assert.match(failed.lastError!, reason);
      assert.ok(serve.log.find((l) => l.group === group && /session failed/.test(l.msg ?? '') && reason.test(l.msg ?? '')), `log names the failure of ${group}`);
      await probe.leave();
      await until(`${group} without listeners`, async () => (await session(group))?.listeners === 0);
      // The next join tries again (and fails the same way).
      await probe.join(HEAD);
      await until(`second attempt of ${group}`, async () => {
        const { body } = await api(`/history?group=${group}`);
        return body.split('"fail"').length - 1 >= 2;
      });
      await probe.leave();
    } finally {
      await probe.close();
    }
  }
  assert.equal(serve.child.exitCode, null, 'headend serve still running');
  assert.equal((await api('/status')).status, 200);
});

test('a join for a group with no channel is refused, recorded and shown in status', { skip }, async () => {
  const probe = await Probe.start(c1, UNMAPPED, 'eth0');
  try {
    await probe.join(HEAD);
    const s = await until('refusal', async () => (await session(UNMAPPED))?.refused ? session(UNMAPPED) : undefined);
    assert.equal(s?.refused, 'no channel mapped to this group');
    const { body } = await api(`/history?group=${UNMAPPED}`);
    assert.match(body, /"refused"/);
  } finally {
    await probe.leave();
    await probe.close();
  }
});

test('SIGTERM while live: the session stops, its SAP deletion goes out, ffmpeg is gone, exit 0', { skip }, async () => {
  const probe = await Probe.start(c1, TONE, 'eth0');
  const wire = await Sniffer.start(c1, 'eth0', TONE);
  try {
    await probe.join(HEAD);
    const live = await until('live', async () => {
      const s = await session(TONE);
      return s?.state === 'live' && s.stream?.pid ? s : undefined;
    });
    const pid = live.stream!.pid!;
    const code = await serve.stop();
    assert.equal(code, 0, serve.log.text.slice(-2000));
    await until('SAP deletion on the wire', () => wire.of('sap-deletion').length > 0, 5000);
    assert.throws(() => process.kill(pid, 0), /ESRCH/, `ffmpeg ${pid} still running`);
    assert.ok(serve.log.find((l) => l.msg === 'headend stopped'));
  } finally {
    await Promise.all([probe.close(), wire.close()]);
  }
});
