// RTCP into the live headend: a real GStreamer rtpbin client joins a group
// of `headend serve` (real icecast2 source, real ffmpeg), its receiver
// reports reach the headend's RtcpReceiver on [group]:5005, and /status shows
// "1 listener by MLD, 1 receiver by RTCP, x % loss" for the session; packets
// dropped on the client's way in show up as loss. The headend's own RTCP
// socket joins the group too (the kernel then reports membership from the
// headend's own link-local address): that join must not count as a listener.
//
// Why GStreamer and not ffplay/VLC: see test/e2e/rtcp.test.ts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { canUseNetns, waitLinkLocal } from '../helpers/netns.js';
import { CLIENT_ADDR, until } from '../../src/lab/parts.js';
import { startOndemandLab, type OndemandLab } from './ondemand-lab.js';
import { dropRtpOneInFive, gstRtcpClient } from './rtcp-client.js';

const skip = !canUseNetns() && 'needs root and iproute2';
const GROUP = 'ff3e:40:2001:db8:1:0:8000:21';

let lab: OndemandLab;

interface Rx { receivers: number; fractionLost: number; cumulativeLost: number; perReceiver: Array<{ address: string; tool?: string; ssrc: number }> }
interface Session { group: string; state: string; listeners: number; rtcp?: Rx; summary?: string }
interface Status { live: { sessions: Session[]; membership?: { table?: Array<{ iface: string; group: string; hosts: string[]; subscribers: number }>; live?: { own: number } } } }

async function status(): Promise<Status> {
  return JSON.parse((await lab.api('/status')).body) as Status;
}
async function session(): Promise<Session | undefined> {
  return (await status()).live.sessions.find((s) => s.group === GROUP);
}

before(async () => {
  if (skip) return;
  // GStreamer's udpsrc joins any-source (the lab counts those).
  lab = await startOndemandLab('ondemand-rtcp', 18083, (_dir, url) => ({
    ingest: { connectTimeoutMs: 3000 },
    channels: [{ group: GROUP, name: 'Tone', url }],
  }));
});

after(async () => {
  if (skip) return;
  const log = lab.serve.log.text.slice(-3000);
  assert.equal(await lab.close(), 0, log);
});

test('a receiver\'s RTCP shows in /status next to the MLD count, loss when the client drops packets; the headend\'s own join is no listener', { skip }, async () => {
  const headLinkLocal = await waitLinkLocal(lab.head, 'lan0');
  const gst = gstRtcpClient(lab.client, GROUP);
  try {
    const s = await until('one receiver by RTCP', async () => {
      const x = await session();
      return x?.state === 'live' && x.rtcp?.receivers === 1 ? x : undefined;
    }, 20_000, 200).catch(async (err: Error) => {
      throw new Error(`${err.message}; status: ${JSON.stringify(await status())}\n${lab.serve.log.text.slice(-3000)}`);
    });
    assert.equal(s.listeners, 1, 'one host joined: the headend\'s own RTCP join is not a listener');
    assert.match(s.summary ?? '', /^1 listener by MLD, 1 receiver by RTCP, \d+\.\d % loss$/);
    assert.equal(s.rtcp!.perReceiver[0]!.tool, 'GStreamer');
    assert.equal(s.rtcp!.perReceiver[0]!.address, CLIENT_ADDR, 'the report came from the client');

    // The membership table names the client, never the headend itself.
    const st = await status();
    const rows = (st.live.membership?.table ?? []).filter((r) => r.group === GROUP);
    assert.equal(rows.length, 1, `one membership row for the group: ${JSON.stringify(st.live.membership?.table)}`);
    assert.equal(rows[0]!.subscribers, 1);
    assert.ok(!rows[0]!.hosts.includes(headLinkLocal), `the headend is not a host of its own group: ${JSON.stringify(rows[0])}`);
    assert.ok((st.live.membership?.live?.own ?? 0) > 0, 'the headend\'s own reports were heard and dropped as its own');

    // Drop one RTP packet in five on the client's way in.
    await dropRtpOneInFive(lab.client);
    const lossy = await until('loss reported by RTCP', async () => {
      const x = await session();
      return x?.rtcp && x.rtcp.cumulativeLost > 0 && x.rtcp.fractionLost > 0 ? x : undefined;
    }, 30_000, 200);
    assert.equal(lossy.listeners, 1, 'still one listener');
    assert.match(lossy.summary ?? '', /^1 listener by MLD, 1 receiver by RTCP, (?!0\.0 )\d+\.\d % loss$/);
  } finally {
    gst.kill('SIGTERM');
  }
  await until('session gone after the leave', async () => (await session()) === undefined, 15_000, 200);
  // The RTCP socket went with the session: nothing listens on 5005 any more.
  const sockets = await lab.head.exec('ss', ['-H', '-u', '-a', '-n']);
  assert.ok(!/:5005\b/.test(sockets), `RTCP socket left open:\n${sockets}`);
});

test('log lines about the stream carry its group, channel and the child\'s pid', { skip }, async () => {
  type L = { msg?: string; group?: string; channel?: string; pid?: number };
  const lines = lab.serve.log.lines as L[];
  const about = (re: RegExp) => lines.filter((l) => typeof l.msg === 'string' && re.test(l.msg));
  const sessionLines = about(/^session (start|live|stop)/);
  const ffmpegLines = about(/^(ffmpeg (spawned|up|exited)|stopping radio stream)/);
  assert.ok(sessionLines.length >= 3, `session start, live and stop logged: ${JSON.stringify(sessionLines)}`);
  assert.ok(ffmpegLines.length >= 4, `ffmpeg spawned, up, exited and the stop logged: ${JSON.stringify(ffmpegLines)}`);
  for (const l of [...sessionLines, ...ffmpegLines]) {
    assert.equal(l.group, GROUP, `no group on ${JSON.stringify(l)}`);
    assert.equal(l.channel, 'Tone', `no channel on ${JSON.stringify(l)}`);
  }
  for (const l of ffmpegLines) assert.equal(typeof l.pid, 'number', `no pid on ${JSON.stringify(l)}`);
});
