// On demand for DVB: a join for a DVB channel makes the headend's tuner pool
// output the service (dvblast, RTP with MPEG-TS) to the group and announce
// it with SAP named from the SDT; the last leave frees the tuner. The "card"
// is a UDP transport stream from ffmpeg (dvb.adapters kind udp), as in H6's
// own tests; everything else is the real daemon.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, canUseNetns, type Netns } from '../helpers/netns.js';
import { SERVICES, startTsSource, writeDvbDaemonConfig } from '../ingest/dvb/lab.js';
import { HEAD_ADDR, headAndClient, Probe, startServe, until, type ServeProcess } from '../../src/lab/parts.js';

const skip = !canUseNetns() && 'needs root and iproute2';
const HEAD = HEAD_ADDR;
const GROUP = 'ff3e:40:2001:db8:1:0:9000:2';
const TS_PORT = 21234;
const API_PORT = 18082;

let lab: Lab;
let head: Netns;
let client: Netns;
let serve: ServeProcess;
let dir: string;

async function status(): Promise<{ live: { sessions: Array<{ group: string; state: string; stream?: { carrier?: string } }>; dvb?: { tuners: Array<{ state: string }> } } }> {
  return JSON.parse(await head.exec('curl', ['-s', '-m', '3', `http://127.0.0.1:${API_PORT}/status`])) as never;
}

before(async () => {
  if (skip) return;
  lab = new Lab();
  ({ head, client } = await headAndClient(lab) as { head: Netns; client: Netns });
  startTsSource(head, TS_PORT);
  dir = await mkdtemp(join(tmpdir(), 'headend-ondemand-dvb-'));
  // The DVB channel, as a DVB list import would leave it in the store.
  const cfgFile = await writeDvbDaemonConfig(dir, { api: API_PORT, ts: TS_PORT }, [
    { name: 'Sat Beta', serviceId: SERVICES.beta.serviceId, group: GROUP },
  ]);
  serve = await startServe(head, cfgFile);
});

after(async () => {
  if (skip) return;
  try {
    assert.equal(await serve?.stop(), 0, serve?.log.text.slice(-3000));
  } finally {
    await lab.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  }
});

test('a join for a DVB channel tunes, sends MPEG-TS RTP (PT 33) and SAP named from the SDT; the last leave frees the tuner', { skip }, async () => {
  const probe = await Probe.start(client, GROUP, 'eth0');
  try {
    await probe.join(HEAD);
    const rtp = await probe.log.waitFor('RTP from dvblast', (e) => e.ev === 'rtp', { timeoutMs: 15_000 });
    assert.equal(rtp.ev === 'rtp' && rtp.pt, 33);
    const named = await probe.log.waitFor('SAP named by the SDT', (e) => e.ev === 'sap' && /^s=Beta$/m.test(e.sdp), { timeoutMs: 10_000 });
    assert.ok(named.ev === 'sap');
    assert.match(named.sdp, /^m=video 5004 RTP\/AVP 33$/m);
    assert.match(named.sdp, new RegExp(`^a=source-filter: incl IN IP6 ${GROUP} ${HEAD}$`, 'm'));
    const st = await status();
    assert.equal(st.live.sessions.find((s) => s.group === GROUP)?.state, 'live');
    assert.equal(st.live.dvb?.tuners[0]?.state, 'tuned');
  } finally {
    await probe.leave();
    await probe.close();
  }
  await until('the tuner free again', async () => {
    const st = await status();
    return st.live.sessions.find((s) => s.group === GROUP) === undefined && st.live.dvb?.tuners[0]?.state === 'free';
  }, 10_000);
});

test('log lines about the DVB stream carry its group, channel and dvblast\'s pid', { skip }, async () => {
  type L = { msg?: string; group?: string; channel?: string; pid?: number };
  const lines = serve.log.lines as L[];
  const stream = lines.filter((l) => l.msg === 'service named from the SDT' || l.msg === 'stopping DVB service');
  const sessions = lines.filter((l) => typeof l.msg === 'string' && /^session (start|live|stop)/.test(l.msg) && l.group === GROUP);
  assert.equal(stream.length, 2, `named and stopped lines: ${JSON.stringify(stream)}`);
  assert.ok(sessions.length >= 3, `session start, live and stop: ${JSON.stringify(sessions)}`);
  for (const l of [...stream, ...sessions]) assert.deepEqual([l.group, l.channel], [GROUP, 'Sat Beta'], JSON.stringify(l));
  for (const l of stream) assert.equal(typeof l.pid, 'number', `no pid on ${JSON.stringify(l)}`);
});
