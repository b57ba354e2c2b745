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
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { canUseNetns } from '../helpers/netns.js';
import { HEAD_ADDR, Probe, until } from '../../src/lab/parts.js';
import { startOndemandLab, type OndemandLab } from './ondemand-lab.js';

const skip = !canUseNetns() && 'needs root and iproute2';
const GROUP = 'ff3e:40:2001:db8:1:0:8000:31';

let lab: OndemandLab;
const api = (path: string) => lab.api(path);

before(async () => {
  if (skip) return;
  lab = await startOndemandLab('ondemand-opus', 18084, (dir, url) => ({
    ingest: { connectTimeoutMs: 3000, stateDir: join(dir, 'children-here'), restartBackoffMs: 100, restartBackoffFactor: 3 },
    channels: [{ group: GROUP, name: 'Opus tone', url, codec: 'opus' }],
  }));
});

after(async () => {
  if (skip) return;
  const log = lab.serve.log.text.slice(-3000);
  assert.equal(await lab.close(), 0, log);
});

test('codec opus: RTP payload type 96, a=rtpmap:96 opus/48000/2, and ffprobe decodes Opus from the HTTP .sdp', { skip }, async () => {
  const probe = await Probe.start(lab.client, GROUP, 'eth0');
  await probe.join(HEAD_ADDR);
  try {
    const rtp = await until('RTP at the client', () => probe.rtp()[0], 15_000);
    assert.equal(rtp.pt, 96, 'dynamic payload type for Opus');
    const sdp = await until('the live SDP', async () => { const r = await api(`/channels/${GROUP}.sdp`); return r.status === 200 ? r : undefined; }, 5000);
    assert.match(sdp.body, /^m=audio 5004 RTP\/AVP 96\r?$/m);
    assert.match(sdp.body, /^a=rtpmap:96 opus\/48000\/2\r?$/m);
    const file = join(lab.dir, 'opus.sdp');
    await writeFile(file, sdp.body);
    const out = await lab.client.exec('ffprobe', ['-v', 'error', '-analyzeduration', '1000000', '-protocol_whitelist', 'file,udp,rtp',
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
  const lines = lab.serve.log.lines as L[];
  const pidOf = async (): Promise<{ pid?: number; spawns: number } | undefined> => {
    const { body } = await api('/status');
    return (JSON.parse(body) as { live: { sessions: Array<{ group: string; state: string; stream?: { pid?: number; spawns: number } }> } })
      .live.sessions.find((x) => x.group === GROUP && x.state === 'live')?.stream;
  };
  const probe = await Probe.start(lab.client, GROUP, 'eth0');
  await probe.join(HEAD_ADDR);
  try {
    const first = await until('ffmpeg running', async () => { const s = await pidOf(); return s?.pid ? s : undefined; }, 15_000, 100);
    assert.ok((await readdir(join(lab.dir, 'children-here'))).includes(`${first.pid}.json`), 'the pid file is in ingest.stateDir');
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
