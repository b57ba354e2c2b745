// The dashboard in a real browser: Debian's headless Chromium (driven by
// playwright-core, no browser download) looks at `headend serve` running in
// a namespace, with a real icecast source and a real host joining over MLDv2.
//
//   c1 eth0 ══ veth ══ lan0 [head: headend serve (API on 127.0.0.1), icecast2, chromium]
//
// Chromium runs inside the headend's namespace (its executable is a two-line
// wrapper around `ip netns exec`), so the API never listens beyond loopback;
// playwright talks to it over the pipe it inherited.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { Lab, canUseNetns, type Netns } from '../helpers/netns.js';
import { startIcecast, type Icecast } from '../helpers/icecast.js';
import { launchChromium, noChromium, type Browser } from '../helpers/chromium.js';
import { Probe, REPO_ROOT, startServe, until, type ServeProcess } from '../../src/lab/parts.js';
import { LAB_GROUP, labConfig } from '../../src/lab/run.js';

const skip = !canUseNetns() ? 'needs root and iproute2' : noChromium;

const HEAD = '2001:db8:1::1';
const TONE = LAB_GROUP;
const API_PORT = 18180;
const TOKEN = 'dashboard-test-token';
const ROW = `#live tbody tr[data-group="${TONE}"]`;

let lab: Lab;
let head: Netns;
let c1: Netns;
let ice: Icecast;
let serve: ServeProcess;
let dir: string;
let browser: Browser | undefined;
let page: Page;

async function metrics(): Promise<string> {
  return head.exec('curl', ['-sf', '-m', '3', `http://127.0.0.1:${API_PORT}/metrics`]);
}
/** One sample's value from the text format (the unit test parses it with a real parser). */
function sample(text: string, line: RegExp): number | undefined {
  const m = text.split('\n').find((l) => line.test(l));
  return m === undefined ? undefined : Number(m.slice(m.lastIndexOf(' ') + 1));
}

before(async () => {
  if (skip) return;
  lab = new Lab();
  head = await lab.netns('head');
  c1 = await lab.netns('c1');
  await lab.veth(head, 'lan0', c1, 'eth0');
  await head.exec('ip', ['-6', 'addr', 'add', `${HEAD}/64`, 'dev', 'lan0', 'nodad']);
  await c1.exec('ip', ['-6', 'addr', 'add', '2001:db8:1::10/64', 'dev', 'eth0', 'nodad']);
  ice = await startIcecast({ inNamespace: head, name: 'Lab Tone' });

  dir = await mkdtemp(join(tmpdir(), 'headend-dashboard-'));
  // The lab's config (`headend lab`), with a token so the page can write.
  const config = { ...labConfig(dir, ice.url, TONE, API_PORT), api: { listen: `127.0.0.1:${API_PORT}`, token: TOKEN } };
  await writeFile(join(dir, 'headend.json'), JSON.stringify(config));
  serve = await startServe(head, join(dir, 'headend.json'));

  browser = await launchChromium({ netns: head.name });
  page = browser.page;
  await page.goto(`http://127.0.0.1:${API_PORT}/`);
  // Connected: the event stream is open and the first status arrived.
  await page.waitForSelector('#conn.up', { timeout: 10_000 });
  await page.waitForFunction('document.body.dataset.updated !== undefined', undefined, { timeout: 10_000 });
});

after(async () => {
  if (skip) return;
  try {
    await browser?.close();
    const code = await serve?.stop();
    assert.equal(code, 0, `headend serve exited ${code}:\n${serve?.log.text.slice(-3000)}`);
    await ice?.close();
  } finally {
    await lab.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  }
});

test('a real join makes the channel appear live on the page within a second, with its title; a leave makes it go; /metrics moves', { skip }, async (t) => {
  assert.equal(await page.locator('#live tbody tr').count(), 0, 'nothing live before the join');
  assert.ok(await page.isVisible('#live-empty'));
  const before = await metrics();
  assert.equal(sample(before, /^headend_listeners\{/), undefined);

  const probe = await Probe.start(c1, TONE, 'eth0');
  try {
    await probe.join(HEAD);
    // Pushed over the event stream: no reload, no polling by the page.
    await page.waitForSelector(ROW, { timeout: 1000 });
    await page.waitForSelector(`${ROW}[data-state="live"]`, { timeout: 15_000 });
    const row = page.locator(ROW);
    assert.equal(await row.locator('td.name').textContent(), 'Lab Tone');
    assert.equal(await row.locator('td.listeners').textContent(), '1 (lan0)');
    assert.match((await row.locator('td.src').textContent()) ?? '', /^http:\/\/127\.0\.0\.1:\d+\//);
    assert.match(await page.textContent('#summary') ?? '', /^1 playing · 1 listener by MLD\/IGMP/);

    const title = `Dashboard Artist - Song ${process.pid}`;
    await ice.setTitle(title);
    await row.locator('td.title', { hasText: title }).waitFor({ timeout: 10_000 });
    assert.equal(await row.locator('td.title').textContent(), title);
    // The history table followed the session (start, then first RTP).
    await page.locator('#history tbody td', { hasText: /^live$/ }).first().waitFor({ timeout: 5000 });

    const during = await metrics();
    assert.equal(sample(during, new RegExp(`^headend_listeners\\{group="${TONE}"\\}`)), 1);
    assert.equal(sample(during, /^headend_sessions\{state="live"\}/), 1);
    assert.ok((sample(during, /^headend_membership_messages_received_total\{kind="mldv2 report"\}/) ?? 0) >= 1, 'the join was counted');
    assert.equal(sample(during, /^headend_session_events_total\{event="start",reason="join"\}/), 1);

    await mkdir(join(REPO_ROOT, 'test-results'), { recursive: true });
    const shot = join(REPO_ROOT, 'test-results', 'dashboard-live.png');
    await page.screenshot({ path: shot, fullPage: true });
    t.diagnostic(`screenshot: ${shot}`);
    console.log(`dashboard screenshot: ${shot}`);
  } finally {
    await probe.leave();
    await probe.close();
  }
  await page.waitForSelector(ROW, { state: 'detached', timeout: 5000 });
  assert.ok(await page.isVisible('#live-empty'));
  const left = await metrics();
  assert.equal(sample(left, /^headend_session_events_total\{event="stop",reason="last-leave"\}/), 1);
});

test('enable/disable from the directory: a wrong token shows 401 clearly, the right one disables and enables', { skip }, async () => {
  const row = page.locator('#directory tbody tr').filter({ hasText: 'Lab Tone' });
  await row.waitFor({ timeout: 5000 });
  await page.fill('#token', 'wrong');
  await row.locator('button').click();
  await page.waitForSelector('#dir-message.error', { timeout: 5000 });
  assert.match(await page.textContent('#dir-message') ?? '', /^401 Unauthorized/);

  await page.fill('#token', TOKEN);
  await row.locator('button', { hasText: 'Disable' }).click();
  await page.locator('#dir-message.ok', { hasText: /^Lab Tone: disabled$/ }).waitFor({ timeout: 5000 });
  await until('disabled in the store', async () => (JSON.parse(await head.exec('curl', ['-sf', `http://127.0.0.1:${API_PORT}/channels/${TONE}`])) as { enabled: boolean }).enabled === false, 5000);
  await row.locator('button', { hasText: 'Enable' }).click();
  await page.locator('#dir-message.ok', { hasText: /^Lab Tone: enabled$/ }).waitFor({ timeout: 5000 });

  // Search narrows the list.
  await page.fill('#dir-q', 'no such channel anywhere');
  await page.locator('#directory tbody tr').first().waitFor({ state: 'detached', timeout: 5000 });
  assert.match(await page.textContent('#dir-count') ?? '', /^\(0 of 0\)$/);
});
