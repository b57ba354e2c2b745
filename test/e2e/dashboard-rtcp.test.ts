// The dashboard with RTCP figures from a real receiver (issue 6, "Done when:
// the lab shows a join live on the dashboard with RTCP figures"): Debian's
// headless Chromium looks at `headend serve` in the on-demand lab while
// GStreamer's rtpbin in the client namespace joins a channel over MLDv2 and
// sends receiver reports to [group]:5005. The live row shows the receiver,
// its loss and jitter; an nftables rule dropping RTP on the client's way in
// shows as loss above 0 on the page; the leave takes the row away.
//
//   client eth0 ══ veth ══ lan0 [head: headend serve (API on 127.0.0.1), icecast2, chromium]
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { canUseNetns } from '../helpers/netns.js';
import { launchChromium, noChromium, type Browser } from '../helpers/chromium.js';
import { REPO_ROOT } from '../../src/lab/parts.js';
import { startOndemandLab, type OndemandLab } from './ondemand-lab.js';
import { dropRtpOneInFive, gstRtcpClient } from './rtcp-client.js';

const skip = !canUseNetns() ? 'needs root and iproute2' : noChromium;
const GROUP = 'ff3e:40:2001:db8:1:0:8000:22';
const API_PORT = 18181;
const ROW = `#live tbody tr[data-group="${GROUP}"]`;

let lab: OndemandLab;
let browser: Browser | undefined;
let page: Page;

before(async () => {
  if (skip) return;
  lab = await startOndemandLab('dashboard-rtcp', API_PORT, (_dir, url) => ({
    ingest: { connectTimeoutMs: 3000 },
    channels: [{ group: GROUP, name: 'Tone', url }],
  }));
  browser = await launchChromium({ netns: lab.head.name });
  page = browser.page;
  await page.goto(`http://127.0.0.1:${API_PORT}/`);
  await page.waitForSelector('#conn.up', { timeout: 10_000 });
});

after(async () => {
  if (skip) return;
  try {
    await browser?.close();
  } finally {
    const log = lab.serve.log.text.slice(-3000);
    assert.equal(await lab.close(), 0, log);
  }
});

/** The live row's RTCP cells as the page shows them. */
async function rtcpCells(): Promise<{ receivers: string; loss: string; jitter: string; title: string }> {
  const row = page.locator(ROW);
  return {
    receivers: (await row.locator('td.receivers').textContent()) ?? '',
    loss: (await row.locator('td.loss').textContent()) ?? '',
    jitter: (await row.locator('td.jitter').textContent()) ?? '',
    title: (await row.getAttribute('title')) ?? '',
  };
}

/** The figures the daemon itself reports for the session, for the failure messages. */
async function statusOf(): Promise<string> {
  const st = JSON.parse((await lab.api('/status')).body) as { live: { sessions: Array<{ group: string }> } };
  return JSON.stringify(st.live.sessions.find((s) => s.group === GROUP));
}

test('a receiver sending RTCP shows live on the page with receivers, loss and jitter; dropped packets show as loss; the leave takes the row away', { skip }, async (t) => {
  assert.equal(await page.locator('#live tbody tr').count(), 0, 'nothing live before the join');
  const gst = gstRtcpClient(lab.client, GROUP);
  try {
    // One receiver by RTCP: its first report follows the join by RFC 3550's
    // first interval (half the 5 s minimum, randomized).
    await page.locator(`${ROW}[data-state="live"] td.receivers`, { hasText: /^1$/ }).waitFor({ timeout: 15_000 })
      .catch(async (err: Error) => { throw new Error(`${err.message}\nstatus: ${await statusOf()}\n${lab.serve.log.text.slice(-2000)}`); });
    const first = await rtcpCells();
    assert.match(first.loss, /^\d+\.\d %$/);
    assert.match(first.jitter, /^\d+\.\d ms$/);
    assert.match(first.title, /^1 listener by MLD, 1 receiver by RTCP, \d+\.\d % loss$/);
    assert.equal(await page.locator(ROW).locator('td.listeners').textContent(), '1 (lan0)');
    assert.match(await page.textContent('#summary') ?? '', /^1 playing · 1 listener by MLD\/IGMP · 1 receiver by RTCP · \d+\.\d % loss$/);

    // One RTP packet in five dropped on the client's way in: the next report carries it.
    await dropRtpOneInFive(lab.client);
    await page.locator(`${ROW} td.loss`, { hasText: /^(?!0\.0 )\d+\.\d %$/ }).waitFor({ timeout: 15_000 })
      .catch(async (err: Error) => { throw new Error(`${err.message}\nstatus: ${await statusOf()}`); });
    const lossy = await rtcpCells();
    assert.equal(lossy.receivers, '1');
    assert.match(lossy.title, /^1 listener by MLD, 1 receiver by RTCP, (?!0\.0 )\d+\.\d % loss$/);
    assert.match(await page.textContent('#summary') ?? '', /· 1 receiver by RTCP · (?!0\.0 )\d+\.\d % loss$/);

    await mkdir(join(REPO_ROOT, 'test-results'), { recursive: true });
    const shot = join(REPO_ROOT, 'test-results', 'dashboard-rtcp.png');
    await page.screenshot({ path: shot, fullPage: true });
    t.diagnostic(`screenshot: ${shot}`);
    console.log(`dashboard screenshot: ${shot}; row: ${JSON.stringify(lossy)}`);
  } finally {
    // SIGTERM: the client leaves the group (the kernel sends the MLDv2 leave).
    gst.kill('SIGTERM');
  }
  await page.waitForSelector(ROW, { state: 'detached', timeout: 10_000 });
  assert.ok(await page.isVisible('#live-empty'));
});
