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

async function api(path: string): Promise<{ status: number; body: string }> {
  const out = await head.exec('curl', ['-s', '-m', '3', '-w', '\\n%{http_code}', `http://127.0.0.1:${API_PORT}${path}`]);
  const nl = out.lastIndexOf('\n');
  return { status: Number(out.slice(nl + 1)), body: out.slice(0, nl) };
}

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
    const out = await c1.exec('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,sample_rate,channels', '-of', 'json', `sap://[${TONE}]:9875`], { timeoutMs: 20_000 });
    const streams = (JSON.parse(out) as { streams: Array<{ codec_name: string; sample_rate: string }> }).streams;
    assert.equal(streams[0]?.codec_name, 'mp3');
    assert.equal(streams[0]?.sample_rate, '44100');
    // the live SDP over HTTP decodes too (while the probe host keeps the group wanted)
    const sdp = await api(`/channels/${TONE}.sdp`);
    assert.equal(sdp.status, 200);
    assert.match(sdp.body, /^m=audio 5004 RTP\/AVP 14$/m);
    assert.match(sdp.body, new RegExp(`^a=source-filter: incl IN IP6 ${TONE} ${HEAD}$`, 'm'));
    await writeFile(join(dir, 'tone.sdp'), sdp.body);
    const viaHttp = await c1.exec('ffprobe', ['-v', 'error', '-protocol_whitelist', 'file,udp,rtp', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', join(dir, 'tone.sdp')], { timeoutMs: 20_000 });
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
