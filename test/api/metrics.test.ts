import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import Fastify from 'fastify';
import { registerMetrics } from '../../src/api/metrics.js';
import { buildApi } from '../../src/api/index.js';
import { buildConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { classifyReason, createMetrics } from '../../src/metrics.js';
import { SessionDriver, type RunningStream, type StreamHooks } from '../../src/sessions/driver.js';
import { DEFAULT_PLAN_OPTIONS, Plan } from '../../src/plan/plan.js';
import { openStore, type Store } from '../../src/store/index.js';

// An independent reader of the text format (no types shipped; this is its shape).
interface Sample { labels?: Record<string, string>; value: string }
interface Family { name: string; help: string; type: string; metrics: Sample[] }
const parsePrometheus = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => Family[];

function family(text: string, name: string): Family {
  const f = parsePrometheus(text).find((m) => m.name === name);
  assert.ok(f, `no metric ${name} in:\n${text}`);
  return f;
}

/** The value of one sample, or undefined when that label set is absent. */
function value(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const s = family(text, name).metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return s ? Number(s.value) : undefined;
}

const GROUP = 'ff3e:40:2001:db8:1:0:8000:1';

/** A real session driver and store; the stream "starts" and reports live when told. */
function lab(t: import('node:test').TestContext) {
  const store: Store = openStore(':memory:', { plan: new Plan({ ...DEFAULT_PLAN_OPTIONS, prefix: '2001:db8:1::/64' }) });
  store.channels.add({ name: 'Tone', group: GROUP, url: 'http://127.0.0.1:1/tone.mp3' });
  const hooks = new Map<string, StreamHooks>();
  const driver = new SessionDriver({
    limits: { lingerMs: 0, maxSessions: 4, maxStartsPerMinute: 100, retryBackoffMs: 60_000, retryBackoffMaxMs: 60_000 },
    lookup: (group) => {
      const c = store.channels.byGroup(group);
      return c ? { id: c.id, name: c.name, enabled: c.enabled } : undefined;
    },
    runner: {
      start: (req, h): RunningStream => {
        hooks.set(req.group, h);
        return { stop: async () => { hooks.delete(req.group); } };
      },
    },
    history: (e) => store.history.add({ group: e.group, event: e.event, reason: e.reason, listeners: e.listeners }),
    logger: silentLogger,
  });
  let membership = { engine: { received: {} as Record<string, number>, rejected: {} as Record<string, number>, queriesSent: 0, limitRefusals: 0 } };
  const status = () => ({ live: { sessions: driver.status(), counters: { ...driver.counters }, membership } });
  t.after(async () => {
    await driver.close();
    store.close();
  });
  return { store, driver, hooks, status, setMembership: (m: typeof membership) => { membership = m; } };
}

test('/metrics parses with a Prometheus text-format parser and moves when a join happens', async (t) => {
  const l = lab(t);
  const app = Fastify();
  registerMetrics(app, { status: l.status, history: l.store.history });
  t.after(() => app.close());

  const before = await app.inject('/metrics');
  assert.equal(before.statusCode, 200);
  assert.match(before.headers['content-type'] as string, /^text\/plain; version=0\.0\.4/);
  assert.equal(value(before.body, 'headend_sessions', { state: 'starting' }), 0);
  assert.equal(family(before.body, 'headend_listeners').metrics.length, 0);
  assert.ok(value(before.body, 'headend_process_resident_memory_bytes')! > 0, 'process metrics are there');

  // A join: one host on lan0 wants the group.
  l.driver.membership({ type: 'active', iface: 'lan0', group: GROUP, source: '*', listeners: 1 });
  const joined = (await app.inject('/metrics')).body;
  assert.equal(value(joined, 'headend_sessions', { state: 'starting' }), 1);
  assert.equal(value(joined, 'headend_listeners', { group: GROUP }), 1);
  assert.equal(value(joined, 'headend_membership_edges_total', { edge: 'active' }), 1);
  assert.equal(value(joined, 'headend_session_events_total', { event: 'start', reason: 'join' }), 1);
  assert.equal(family(joined, 'headend_session_events_total').type, 'COUNTER');

  // First RTP, a second listener, then both leave.
  l.hooks.get(GROUP)!.live();
  l.driver.membership({ type: 'active', iface: 'lan0', group: GROUP, source: '*', listeners: 2 });
  const live = (await app.inject('/metrics')).body;
  assert.equal(value(live, 'headend_sessions', { state: 'live' }), 1);
  assert.equal(value(live, 'headend_listeners', { group: GROUP }), 2);
  assert.equal(value(live, 'headend_session_events_total', { event: 'live', reason: 'first-rtp' }), 1);

  l.driver.membership({ type: 'idle', iface: 'lan0', group: GROUP, source: '*', listeners: 0 });
  const deadline = Date.now() + 3000;
  let left = '';
  do left = (await app.inject('/metrics')).body;
  while (value(left, 'headend_sessions', { state: 'stopping' }) !== 0 && Date.now() < deadline);
  assert.equal(value(left, 'headend_listeners', { group: GROUP }), undefined, 'a stopped session has no listener series');
  assert.equal(value(left, 'headend_session_events_total', { event: 'stop', reason: 'last-leave' }), 1);
  assert.equal(value(left, 'headend_session_events_total', { event: 'start', reason: 'join' }), 1, 'counted once across scrapes');
});

test('refused joins are counted by reason class; unmapped groups never become labels', async (t) => {
  const l = lab(t);
  const metrics = createMetrics({ status: l.status, history: l.store.history }, { processMetrics: false });
  for (let i = 0; i < 100; i++) l.driver.membership({ type: 'active', iface: 'lan0', group: `ff3e::${(i + 1).toString(16)}`, source: '*', listeners: 1 });
  const text = await metrics.scrape();
  assert.equal(value(text, 'headend_session_events_total', { event: 'refused', reason: 'no-channel' }), 100);
  assert.equal(value(text, 'headend_sessions', { state: 'idle' }), 100);
  assert.equal(family(text, 'headend_listeners').metrics.length, 0);
});

test('membership counters come from the engine stats; open-ended label sets are capped', async (t) => {
  const l = lab(t);
  const metrics = createMetrics({ status: l.status }, { processMetrics: false, maxLabelValues: 3 });
  const rejected: Record<string, number> = {};
  for (let i = 0; i < 10; i++) rejected[`reason${i}`] = 1;
  l.setMembership({ engine: { received: { 'mldv2 report': 7, 'igmpv3 report': 2 }, rejected, queriesSent: 4, limitRefusals: 1 } });
  const text = await metrics.scrape();
  assert.equal(value(text, 'headend_membership_messages_received_total', { kind: 'mldv2 report' }), 7);
  assert.equal(value(text, 'headend_membership_queries_sent_total'), 4);
  const reasons = family(text, 'headend_membership_messages_rejected_total').metrics;
  assert.equal(reasons.length, 4, 'three admitted, the rest under other');
  assert.equal(value(text, 'headend_membership_messages_rejected_total', { reason: 'other' }), 7);
  // A second scrape mirrors, never doubles.
  const again = await metrics.scrape();
  assert.equal(value(again, 'headend_membership_messages_received_total', { kind: 'mldv2 report' }), 7);
});

test('RTCP figures, tuners and child restarts from the status', async () => {
  let spawns = 1;
  const status = () => ({
    live: {
      sessions: [{ group: GROUP, state: 'live', listeners: 2, ifaces: ['lan0'], stream: { spawns }, rtcp: { receivers: 2, fractionLost: 0.001, cumulativeLost: 3, jitterMs: 1.5 } }],
      dvb: { tuners: [{ name: 'a0', kind: 'dvb', state: 'tuned', carrier: 'c1' }, { name: 'a1', kind: 'dvb', state: 'free' }], carriers: [{ carrier: 'c1', lock: 'locked', restarts: 2 }] },
    },
  });
  const metrics = createMetrics({ status }, { processMetrics: false });
  const text = await metrics.scrape();
  assert.equal(value(text, 'headend_rtcp_receivers', { group: GROUP }), 2);
  assert.equal(value(text, 'headend_rtcp_fraction_lost', { group: GROUP }), 0.001);
  assert.equal(value(text, 'headend_rtcp_jitter_seconds', { group: GROUP }), 0.0015);
  assert.equal(value(text, 'headend_tuners', { state: 'tuned' }), 1);
  assert.equal(value(text, 'headend_tuners', { state: 'free' }), 1);
  assert.equal(value(text, 'headend_child_restarts_total', { kind: 'dvblast' }), 2);
  assert.equal(value(text, 'headend_child_restarts_total', { kind: 'ffmpeg' }), undefined);
  spawns = 3;
  const after = await metrics.scrape();
  assert.equal(value(after, 'headend_child_restarts_total', { kind: 'ffmpeg' }), 2);
  assert.equal(value(after, 'headend_child_restarts_total', { kind: 'dvblast' }), 2);
});

test('classifyReason keeps reasons to a fixed vocabulary', () => {
  assert.equal(classifyReason('start', 'join (retry)'), 'retry');
  assert.equal(classifyReason('stop', 'no listener for 5000 ms'), 'linger-expired');
  assert.equal(classifyReason('refused', 'channel "Radio X" is disabled'), 'disabled');
  assert.equal(classifyReason('refused', 'limit: 4 sessions already running (sessions.maxSessions)'), 'max-sessions');
  assert.equal(classifyReason('refused', 'DVB channels are refused: pool not wired'), 'unavailable');
  assert.equal(classifyReason('fail', 'stream died'), 'stream-died');
});

test('GET /metrics is served by the API next to /status', async (t) => {
  const store = openStore(':memory:');
  const app = buildApi({ store, config: buildConfig({ api: { listen: '127.0.0.1:0' }, interfaces: [] }), logger: silentLogger });
  t.after(async () => { await app.close(); store.close(); });
  const res = await app.inject('/metrics');
  assert.equal(res.statusCode, 200);
  assert.ok(parsePrometheus(res.body).some((f) => f.name === 'headend_sessions'));
});
