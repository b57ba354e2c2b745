// Real receivers report to the headend: ffmpeg sends RTP to an IPv6 SSM
// group, a real RTP client in another namespace receives it and sends RTCP
// receiver reports to [group]:5005, the RtcpReceiver counts it, and loss on
// the link shows up as loss in the figures.
//
// The client is GStreamer's rtpbin (rtcp-client.ts): ffmpeg 5.1's SDP
// demuxer sends no receiver reports for multicast (checked: only the
// sender's own SRs appear on the wire in 40 s), and Debian's VLC is built
// without live555, whose RTCP it would use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Lab, canUseNetns, waitLinkLocal } from '../helpers/netns.js';
import { dropRtpOneInFive, gstRtcpClient } from './rtcp-client.js';

const GROUP = 'ff3e:40:2001:db8:1:0:8000:5';
const SSRC = 0x1234abcd;

test('receivers seen by RTCP, with loss when the link drops packets', { skip: !canUseNetns() && 'needs root' }, async () => {
  const lab = new Lab();
  const dir = mkdtempSync(join(tmpdir(), 'rtcp-e2e-'));
  try {
    const head = await lab.netns('head');
    const client = await lab.netns('client');
    await lab.veth(head, 'lan0', client, 'eth0');
    const ll = await waitLinkLocal(head, 'lan0');
    await dropRtpOneInFive(client);

    const listener = head.spawn(process.execPath, ['--import', 'tsx', 'test/e2e/agents/rtcp-listen.ts', GROUP, 'lan0', String(SSRC)], { cwd: process.cwd() });
    const lines = createInterface({ input: listener.stdout! });
    const sdp = join(dir, 'ch.sdp');
    head.spawn('ffmpeg', ['-v', 'error', '-re', '-f', 'lavfi', '-i', 'sine=f=440', '-c:a', 'libmp3lame', '-b:a', '64k',
      '-ssrc', String(SSRC), '-f', 'rtp', '-sdp_file', sdp, `rtp://[${GROUP}]:5004?ttl=1&localaddr=${ll}%lan0`]);
    for (let i = 0; i < 100 && !(await exists(sdp)); i++) await new Promise((r) => setTimeout(r, 50));
    gstRtcpClient(client, GROUP);

    type Rx = { receivers: number; fractionLost: number; cumulativeLost: number; perReceiver: Array<{ address: string; tool?: string }> };
    let last: { reception?: Rx } | undefined;
    const deadline = Date.now() + 20_000;
    for await (const line of lines) {
      last = JSON.parse(line);
      const rx = last!.reception;
      if (rx && rx.receivers === 1 && rx.cumulativeLost > 0) break;
      if (Date.now() > deadline) break;
    }
    const rx = last?.reception;
    assert.ok(rx, 'receiver printed nothing');
    assert.equal(rx.receivers, 1, `expected one receiver by RTCP, got ${JSON.stringify(last)}`);
    assert.ok(rx.cumulativeLost > 0, `dropping 1 packet in 5 should show as loss, got ${JSON.stringify(rx)}`);
    assert.match(rx.perReceiver[0]!.address, /^fe80:/);
    assert.equal(rx.perReceiver[0]!.tool, 'GStreamer');
  } finally {
    await lab.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

async function exists(p: string): Promise<boolean> {
  try { (await import('node:fs')).statSync(p); return true; } catch { return false; }
}
