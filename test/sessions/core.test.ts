// The pure session lifecycle: membership edges and stream outcomes in,
// actions out, the clock moved to the edges instead of sleeping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionCore, type SessionAction, type SessionChannel, type SessionLimits } from '../../src/sessions/core.js';

const G = 'ff3e:40:2001:db8:1:0:8000:1';
const G2 = 'ff3e:40:2001:db8:1:0:8000:2';
const S = '2001:db8:1::1';

const LIMITS: SessionLimits = { lingerMs: 3000, maxSessions: 32, maxStartsPerMinute: 60, retryBackoffMs: 1000, retryBackoffMaxMs: 8000 };

function core(limits: Partial<SessionLimits> = {}, channels: Record<string, SessionChannel> = {}): SessionCore {
  const all: Record<string, SessionChannel> = { [G]: { id: 1, name: 'Tone', enabled: true }, [G2]: { id: 2, name: 'Two', enabled: true }, ...channels };
  return new SessionCore({ ...LIMITS, ...limits }, (g) => all[g]);
}

const join = (c: SessionCore, now: number, group = G, iface = 'lan0', source = S) =>
  c.membership({ type: 'active', iface, group, source, listeners: 1 }, now);
const leave = (c: SessionCore, now: number, group = G, iface = 'lan0', source = S) =>
  c.membership({ type: 'idle', iface, group, source, listeners: 0 }, now);
const types = (actions: SessionAction[]) => actions.map((a) => (a.type === 'history' ? `history:${a.event}` : a.type));

test('first join starts the channel on the listeners\' interface; first RTP makes it live', () => {
  const c = core();
  const out = join(c, 0);
  assert.deepEqual(types(out), ['history:start', 'start']);
  const start = out[1] as Extract<SessionAction, { type: 'start' }>;
  assert.deepEqual(start.ifaces, ['lan0']);
  assert.equal(start.channel.name, 'Tone');
  assert.equal(c.get(G)?.state, 'starting');
  assert.deepEqual(types(c.live(G, 180)), ['history:live']);
  assert.equal(c.get(G)?.state, 'live');
  assert.equal(c.get(G)?.liveAt, 180);
});

test('linger: 2999 ms after the last leave still live, 3000 ms stopping', () => {
  const c = core();
  join(c, 0);
  c.live(G, 100);
  assert.deepEqual(leave(c, 1000), []);
  assert.equal(c.nextDeadline(), 4000);
  assert.deepEqual(c.tick(3999), []);
  assert.equal(c.get(G)?.state, 'live');
  const out = c.tick(4000);
  assert.deepEqual(types(out), ['stop', 'history:stop']);
  assert.equal(c.get(G)?.state, 'stopping');
  assert.deepEqual(c.stopped(G, 4100), []);
  assert.equal(c.get(G), undefined, 'a clean idle session is forgotten');
});

test('a join during linger keeps the stream (channel hopping does not thrash sources)', () => {
  const c = core();
  join(c, 0);
  c.live(G, 100);
  leave(c, 1000);
  assert.deepEqual(join(c, 2000), []);
  assert.equal(c.get(G)?.lingerUntil, undefined);
  assert.deepEqual(c.tick(10_000), []);
  assert.equal(c.get(G)?.state, 'live');
});

test('linger 0 stops at once on the last leave', () => {
  const c = core({ lingerMs: 0 });
  join(c, 0);
  c.live(G, 100);
  assert.deepEqual(types(leave(c, 500)), ['stop', 'history:stop']);
});

test('listeners aggregate across interfaces and sources; stream stays until all leave', () => {
  const c = core({ lingerMs: 0 });
  join(c, 0, G, 'lan0', S);
  c.live(G, 50);
  assert.deepEqual(types(join(c, 100, G, 'lan1', '*')), ['ifaces']);
  assert.deepEqual(join(c, 150, G, 'lan0', '2001:db8::2'), []);
  assert.deepEqual(c.get(G)?.ifaces, ['lan0', 'lan1']);
  assert.equal(c.get(G)?.listeners, 2, 'one per interface: the same host may join two sources');
  assert.deepEqual(leave(c, 200, G, 'lan0', S), []);
  assert.deepEqual(types(leave(c, 300, G, 'lan0', '2001:db8::2')), ['ifaces']);
  assert.deepEqual(types(leave(c, 400, G, 'lan1', '*')), ['stop', 'history:stop']);
});

test('listener counts add up on one interface (two clients: stays until both leave)', () => {
  const c = core({ lingerMs: 0 });
  c.membership({ type: 'active', iface: 'lan0', group: G, source: S, listeners: 1 }, 0);
  c.live(G, 10);
  assert.deepEqual(c.membership({ type: 'active', iface: 'lan0', group: G, source: S, listeners: 2 }, 20), []);
  assert.equal(c.get(G)?.listeners, 2);
  // the membership engine reports one fewer listener as an update of the same pair
  assert.deepEqual(c.membership({ type: 'active', iface: 'lan0', group: G, source: S, listeners: 1 }, 30), []);
  assert.equal(c.get(G)?.state, 'live');
  assert.deepEqual(types(leave(c, 40)), ['stop', 'history:stop']);
});

test('a join for a group with no channel, or a disabled one, is refused, recorded and visible', () => {
  const c = core({}, { [G2]: { id: 2, name: 'Off', enabled: false } });
  const out = join(c, 0, 'ff3e::dead');
  assert.deepEqual(types(out), ['history:refused']);
  assert.match((out[0] as { reason: string }).reason, /no channel/);
  assert.equal(c.get('ff3e::dead')?.refused, 'no channel mapped to this group');
  const off = join(c, 0, G2);
  assert.match((off[0] as { reason: string }).reason, /"Off" is disabled/);
  assert.equal(c.running(), 0);
});

test('a channel that cannot run says why (unavailable), like a DVB channel with no pool', () => {
  const c = core({}, { [G2]: { id: 2, name: 'Sat', enabled: true, unavailable: 'DVB channels are refused: pool not wired' } });
  const out = join(c, 0, G2);
  assert.deepEqual(types(out), ['history:refused']);
  assert.equal(c.get(G2)?.refused, 'DVB channels are refused: pool not wired');
});

test('maxSessions: a join over the limit is refused, never queued', () => {
  const c = core({ maxSessions: 1, lingerMs: 0 });
  join(c, 0, G);
  const out = join(c, 10, G2);
  assert.deepEqual(types(out), ['history:refused']);
  assert.match(c.get(G2)!.refused!, /sessions\.maxSessions/);
  // The first session ending does not start the refused one behind anyone's back.
  c.live(G, 20);
  leave(c, 30, G);
  const freed = c.stopped(G, 40);
  assert.deepEqual(freed, []);
  assert.equal(c.get(G2)?.state, 'idle');
  // A new join for it does start it.
  assert.deepEqual(types(join(c, 50, G2, 'lan1')), ['history:start', 'start']);
});

test('maxStartsPerMinute: the window slides; at 60 s the oldest start no longer counts', () => {
  const c = core({ maxStartsPerMinute: 2, lingerMs: 0 });
  for (const [t, g] of [[0, G], [1000, G2]] as const) {
    join(c, t, g); c.live(g, t + 1); leave(c, t + 2, g); c.stopped(g, t + 3);
  }
  assert.deepEqual(types(join(c, 59_999, G)), ['history:refused']);
  assert.match(c.get(G)!.refused!, /starts in the last minute/);
  leave(c, 59_999, G);
  assert.deepEqual(types(join(c, 60_000, G)), ['history:start', 'start']);
  assert.equal(c.get(G)?.refused, undefined);
});

test('a repeated report (same listener count) does not re-trigger a refused start', () => {
  const c = core({}, {});
  join(c, 0, 'ff3e::dead');
  assert.deepEqual(join(c, 10, 'ff3e::dead'), []);
  assert.equal(c.get('ff3e::dead')?.refusals, 1);
});

test('failed start → idle with the reason; retried with backoff while listeners remain', () => {
  const c = core();
  join(c, 0);
  const out = c.failed(G, 'resolve: http-status 404', 200);
  assert.deepEqual(types(out), ['history:fail']);
  assert.equal((out[0] as { error?: string }).error, 'resolve: http-status 404');
  let st = c.get(G)!;
  assert.equal(st.state, 'idle');
  assert.equal(st.lastError, 'resolve: http-status 404');
  assert.equal(st.retryAt, 1200);
  assert.deepEqual(c.tick(1199), []);
  assert.deepEqual(types(c.tick(1200)), ['history:start', 'start']);
  c.failed(G, 'again', 1300);
  assert.equal(c.get(G)?.retryAt, 3300, 'backoff doubles');
  c.tick(3300);
  c.failed(G, 'again', 3400);
  c.tick(7400);
  c.failed(G, 'again', 7500);
  assert.equal(c.get(G)?.retryAt, 15_500, 'capped at retryBackoffMaxMs');
  c.tick(15_500);
  c.live(G, 15_600);
  st = c.get(G)!;
  assert.equal(st.lastError, undefined);
  assert.equal(st.attempts, 0);
  assert.equal(st.failures, 4);
});

test('a failure with no listener left: no retry, but the next join retries at once', () => {
  const c = core({ lingerMs: 0 });
  join(c, 0);
  c.failed(G, 'html page', 100);
  leave(c, 200);
  assert.equal(c.get(G)?.retryAt, undefined);
  assert.equal(c.get(G)?.lastError, 'html page', 'the reason stays visible in status');
  assert.deepEqual(c.tick(100_000), []);
  assert.deepEqual(types(join(c, 100_001)), ['history:start', 'start']);
});

test('leave while starting with linger 0 stops the start', () => {
  const c = core({ lingerMs: 0 });
  join(c, 0);
  assert.deepEqual(types(leave(c, 10)), ['stop', 'history:stop']);
  assert.deepEqual(c.live(G, 20), [], 'a late live for a stopping session is ignored');
});

test('join while stopping starts again once stopped', () => {
  const c = core({ lingerMs: 0 });
  join(c, 0);
  c.live(G, 10);
  leave(c, 20);
  assert.deepEqual(join(c, 30), []);
  assert.deepEqual(types(c.stopped(G, 40)), ['history:start', 'start']);
});

test('a stream that dies for good while live goes idle and is retried', () => {
  const c = core();
  join(c, 0);
  c.live(G, 10);
  c.failed(G, 'ffmpeg gave up after 10 restarts', 5000);
  assert.equal(c.get(G)?.state, 'idle');
  assert.equal(c.get(G)?.retryAt, 6000);
});

test('stopAll stops every running session', () => {
  const c = core();
  join(c, 0, G);
  join(c, 0, G2);
  c.live(G, 5);
  const out = c.stopAll(10, 'shutdown');
  assert.deepEqual(types(out), ['stop', 'history:stop', 'stop', 'history:stop']);
});
