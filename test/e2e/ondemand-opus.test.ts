// Per-channel payload (issue 3: "per-channel override allowed (e.g. Opus)"):
// a static channel with `codec: opus` in the config is re-encoded by ffmpeg
// (libopus, 48 kHz) into RTP payload type 96, its SDP carries
// a=rtpmap:96 opus/48000/2, and ffprobe at the client decodes Opus from the
// SDP served over HTTP. Real icecast2 MP3 source, real `headend serve`.
// The same daemon shows the ingest settings the wiring must honour:
// ingest.stateDir holds the children's pid files, and ingest.restartBackoffFactor
// spaces ffmpeg's restarts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, canUseNetns, type Netns } from '../helpers/netns.js';
import { startIcecast, type Icecast } from '../helpers/icecast.js';
import { HEAD_ADDR, headAndClient, Probe, startServe, until, type ServeProcess } from '../../src/lab/parts.js';

const skip = !canUseNetns() && 'needs root and iproute2';
const GROUP = 'ff3e:40:2001:db8:1:0:8000:31';
const API_PORT = 18084;

let lab: Lab;
let head: Netns;
let client: Netns;
let ice: Icecast;
let serve: ServeProcess;
let dir: string;

async function api(path: string): Promise<{ status: number; body: string }> {
  const out = await head.exec('curl', ['-s', '-m', '3', '-w', '\\n%{http_code}', `http://127.0.0.1:${API_PORT}${path}`]);
  const nl = out.lastIndexOf('\n');
  return { status: Number(out.slice(nl + 1)), body: out.slice(0, nl) };
}

before(async () => {
  if (skip) return;
  lab = new Lab();
  ({ head, client } = await headAndClient(lab) as { head: Netns; client: Netns });
  ice = await startIcecast({ inNamespace: head, name: 'Lab Tone' });
  dir = await mkdtemp(join(tmpdir(), 'headend-ondemand-opus-'));
  await writeFile(join(dir, 'headend.json'), JSON.stringify({
    interfaces: ['lan0'],
    database: join(dir, 'headend.db'),
    api: { listen: `127.0.0.1:${API_PORT}` },
    membership: { ssmRanges: [] },
    sessions: { lingerMs: 0 },
    ingest: { connectTimeoutMs: 3000, stateDir: join(dir, 'children-here'), restartBackoffMs: 100, restartBackoffFactor: 3 },
    channels: [{ group: GROUP, name: 'Opus tone', url: ice.url, codec: 'opus' }],
  }));
  serve = await startServe(head, join(dir, 'headend.json'));
});

after(async () => {
  if (skip) return;
  try {
    assert.equal(await serve?.stop(), 0, serve?.log.text.slice(-3000));
    await ice?.close();
  } finally {
    await lab.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  }
});

test('codec opus: RTP payload type 96, a=rtpmap:96 opus/48000/2, and ffprobe decodes Opus from the HTTP .sdp', { skip }, async () => {
  const probe = await Probe.start(client, GROUP, 'eth0');
  await probe.join(HEAD_ADDR);
  try {
    const rtp = await until('RTP at the client', () => probe.rtp()[0], 15_000);
    assert.equal(rtp.pt, 96, 'dynamic payload type for Opus');
    const sdp = await until('the live SDP', async () => { const r = await api(`/channels/${GROUP}.sdp`); return r.status === 200 ? r : undefined; }, 5000);
    assert.match(sdp.body, /^m=audio 5004 RTP\/AVP 96\r?$/m);
    assert.match(sdp.body, /^a=rtpmap:96 opus\/48000\/2\r?$/m);
    const file = join(dir, 'opus.sdp');
    await writeFile(file, sdp.body);
    const out = await client.exec('ffprobe', ['-v', 'error', '-analyzeduration', '1000000', '-protocol_whitelist', 'file,udp,rtp',
      '-show_entries', 'stream=codec_name,sample_rate,channels', '-of', 'json', file], { timeoutMs: 20_000 });
    const stream = (JSON.parse(out) as { streams: Array<{ codec_name: string; sample_rate: string; channels: number }> }).streams[0];
    assert.equal(stream?.codec_name, 'opus');
    assert.equal(stream?.sample_rate, '48000');
    assert.equal(stream?.channels, 2);
    const { body } = await api('/status');
    const s = (JSON.parse(body) as { live: { sessions: Array<{ group: string; stream?: { payloadType?: number } }> } }).live.sessions.find((x) => x.group === GROUP);
    assert.equal(s?.stream?.payloadType, 96);
  } finally {
    await probe.leave();
    await probe.close();
  }
});

test('ingest.stateDir holds the ffmpeg pid file; restarts back off by ingest.restartBackoffFactor', { skip }, async () => {
  type L = { msg?: string; group?: string; attempt?: number; delayMs?: number; pid?: number };
  const lines = serve.log.lines as L[];
  const pidOf = async (): Promise<{ pid?: number; spawns: number } | undefined> => {
    const { body } = await api('/status');
    return (JSON.parse(body) as { live: { sessions: Array<{ group: string; state: string; stream?: { pid?: number; spawns: number } }> } })
      .live.sessions.find((x) => x.group === GROUP && x.state === 'live')?.stream;
  };
  const probe = await Probe.start(client, GROUP, 'eth0');
  await probe.join(HEAD_ADDR);
  try {
    const first = await until('ffmpeg running', async () => { const s = await pidOf(); return s?.pid ? s : undefined; }, 15_000, 100);
    assert.ok((await readdir(join(dir, 'children-here'))).includes(`${first.pid}.json`), 'the pid file is in ingest.stateDir');
    const mark = lines.length;
    const delays: number[] = [];
    let pid = first.pid!;
    for (const attempt of [1, 2]) {
      process.kill(pid, 'SIGKILL');
      const restarting = await until(`restart ${attempt} logged`, () => lines.slice(mark).find((l) => l.msg === 'ffmpeg restarting' && l.attempt === attempt), 10_000);
      delays.push(restarting.delayMs!);
      const next = await until(`ffmpeg back after restart ${attempt}`, async () => { const s = await pidOf(); return s?.pid && s.pid !== pid && s.spawns === attempt + 1 ? s : undefined; }, 15_000, 100);
      pid = next.pid!;
    }
    assert.deepEqual(delays, [100, 300], 'restartBackoffMs 100, then x restartBackoffFactor 3');
  } finally {
    await probe.leave();
    await probe.close();
  }
});
