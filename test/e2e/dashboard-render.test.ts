// The dashboard page in headless Chromium against a scripted status: every
// section the real lab cannot fill yet (RTCP figures, the membership table,
// DVB tuners, refused and failed sessions) renders, and text from the network
// stays text. The real join → page path is test/e2e/dashboard.test.ts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Page } from 'playwright-core';
import { registerDashboard } from '../../src/api/dashboard.js';
import { REPO_ROOT } from '../../src/lab/parts.js';
import { launchChromium, noChromium, type Browser } from '../helpers/chromium.js';

const skip = noChromium;

const A = 'ff3e:40:2001:db8:1:0:8000:1';
const B = 'ff3e:40:2001:db8:1:0:8000:2';
const EVIL = '<img src=x onerror="document.body.dataset.pwned=1">Song';

let app: FastifyInstance;
let browser: Browser | undefined;
let page: Page;
const now = Date.now();
let status: Record<string, unknown> = {};

function scripted(): Record<string, unknown> {
  return {
    live: {
      startedAt: new Date(now - 3_600_000).toISOString(),
      interfaces: ['lan0', 'lan1'],
      sessions: [
        {
          group: A, state: 'live', channel: 'Radio A', listeners: 3, ifaces: ['lan0', 'lan1'], since: now - 65_000, startedAt: now - 65_000, liveAt: now - 64_000,
          attempts: 0, starts: 1, failures: 0, refusals: 0,
          stream: { pid: 4242, spawns: 1, format: 'mp3', finalUrl: 'http://radio.example/a.mp3', title: EVIL, sdpVersion: 2, bytesOut: 1 },
          rtcp: { receivers: 2, fractionLost: 0.001, cumulativeLost: 4, jitterMs: 2.25, perReceiver: [] },
        },
        { group: B, state: 'idle', channel: 'Radio B', listeners: 1, ifaces: ['lan0'], since: now, attempts: 1, starts: 1, failures: 1, refusals: 0, lastError: 'HTTP 404 from http://radio.example/b', retryAt: now + 30_000 },
        { group: 'ff3e::99', state: 'idle', listeners: 1, ifaces: ['lan0'], since: now, attempts: 0, starts: 0, failures: 0, refusals: 1, refused: 'no channel mapped to this group' },
      ],
      membership: {
        engine: { received: { 'mldv2 report': 10, 'igmpv3 report': 2 }, rejected: { checksum: 1 }, queriesSent: 5 },
        table: [
          { iface: 'lan0', group: A, mode: 'include', sources: [{ address: '2001:db8:1::1', timerMs: 200000 }], blocked: [], hosts: ['fe80::a', 'fe80::b'], subscribers: 2 },
          { iface: 'lan1', group: A, mode: 'exclude', sources: [], blocked: [], hosts: ['fe80::c'], subscribers: 1 },
        ],
      },
      dvb: {
        tuners: [{ name: 'adapter0', kind: 'dvb-s2', state: 'tuned', carrier: '11494H' }, { name: 'adapter1', kind: 'dvb-s2', state: 'free' }],
        carriers: [{ carrier: '11494H', tuning: '11494 MHz H 22000 DVB-S2', adapter: 'adapter0', state: 'running', lock: 'locked', restarts: 0, since: '', services: [{ group: A, serviceId: 61, iface: 'lan0', name: 'Das Erste' }] }],
        errors: [],
      },
    },
  };
}

before(async () => {
  if (skip) return;
  status = scripted();
  app = Fastify();
  registerDashboard(app, { status: () => status, pollMs: 50 });
  app.get('/history', async () => ({ history: [{ id: 1, at: now, group: B, event: 'fail', reason: 'start failed', listeners: 1, error: 'HTTP 404' }] }));
  app.get('/channels', async () => ({ total: 0, channels: [] }));
  app.get('/channels/:ref', async (_req, reply) => reply.code(404).send({ error: 'not-found' }));
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  browser = await launchChromium();
  page = browser.page;
  await page.goto(`${base}/dashboard`);
  await page.waitForSelector('#conn.up', { timeout: 10_000 });
});

after(async () => {
  if (skip) return;
  await browser?.close();
  await app?.close();
});

test('every section renders from the status: RTCP, listeners per interface, membership, tuners, problems, history', { skip }, async (t) => {
  const row = page.locator(`#live tbody tr[data-group="${A}"]`);
  await row.waitFor({ timeout: 5000 });
  assert.equal(await page.locator('#live tbody tr').count(), 1, 'idle sessions are not live channels');
  assert.equal(await row.locator('td.listeners').textContent(), 'lan0: 2, lan1: 1');
  const cells = await row.locator('td').allTextContents();
  assert.deepEqual(cells.slice(0, 5), ['Radio A', A, 'http://radio.example/a.mp3', 'mp3', 'live']);
  assert.deepEqual(cells.slice(7, 10), ['2', '0.1 %', '2.3 ms']);
  assert.match(await page.textContent('#summary') ?? '', /^1 playing · 3 listeners by MLD\/IGMP · 2 receivers by RTCP · 0\.1 % loss$/);

  // Text from a station stays text.
  assert.equal(await row.locator('td.title').textContent(), EVIL);
  assert.equal(await row.locator('td.title img').count(), 0);
  assert.equal(await page.evaluate('document.body.dataset.pwned'), undefined);

  assert.deepEqual(await page.locator('#membership tbody tr').evaluateAll((trs) => trs.map((tr) => tr.textContent)), [
    `lan0${A}include2001:db8:1::12`,
    `lan1${A}excludeany1`,
  ]);
  assert.match(await page.textContent('#membership-stats') ?? '', /^12 messages received · 1 rejected \(checksum: 1\) · 5 queries sent$/);
  assert.deepEqual(await page.locator('#tuners tbody tr td:nth-child(3)').allTextContents(), ['tuned', 'free']);
  assert.match(await page.locator('#tuners tbody tr').first().textContent() ?? '', /lockedDas Erste$/);
  const problems = await page.locator('#errors li').allTextContents();
  assert.equal(problems.length, 2);
  assert.match(problems[0]!, /^ff3e:40:2001:db8:1:0:8000:2 \(Radio B\) failed: HTTP 404 from http:\/\/radio\.example\/b — retry in \d+ s$/);
  assert.match(problems[1]!, /join refused: no channel mapped to this group$/);
  await page.locator('#history tbody tr.fail').waitFor({ timeout: 5000 });

  await mkdir(join(REPO_ROOT, 'test-results'), { recursive: true });
  const shot = join(REPO_ROOT, 'test-results', 'dashboard-all-sections.png');
  await page.screenshot({ path: shot, fullPage: true });
  t.diagnostic(`screenshot: ${shot}`);

  // A change in the status reaches the page without a reload.
  const reloads: string[] = [];
  page.on('framenavigated', (f) => reloads.push(f.url()));
  status = { live: { ...(status.live as object), sessions: [] } };
  await row.waitFor({ state: 'detached', timeout: 2000 });
  assert.ok(await page.isVisible('#live-empty'));
  assert.deepEqual(reloads, []);
});

test('a page refused for too many open streams (503) connects once one closes', { skip }, async (t) => {
  const busy = Fastify();
  registerDashboard(busy, { status: () => ({ live: { sessions: [] } }), maxClients: 1 });
  const base = await busy.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => busy.close());
  const first = await browser!.context.newPage();
  await first.goto(`${base}/`);
  await first.waitForSelector('#conn.up', { timeout: 5000 });
  const second = await browser!.context.newPage();
  await second.goto(`${base}/`);
  await second.waitForSelector('#conn.down', { timeout: 5000 });
  assert.equal(await second.textContent('#conn'), 'reconnecting…');
  await first.close();
  await second.waitForSelector('#conn.up', { timeout: 10_000 });
  await second.close();
});
