import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import { registerDashboard, sseFrame } from '../../src/api/dashboard.js';

interface SseEvent { event: string; data: string }

/** Reads an SSE stream from a real socket (inject() cannot stream). */
function openEvents(base: string): Promise<{ res: http.IncomingMessage; events: SseEvent[]; next(pred: (e: SseEvent) => boolean, timeoutMs?: number): Promise<SseEvent>; close(): void }> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}/events`, (res) => {
      const events: SseEvent[] = [];
      const waiters: Array<() => void> = [];
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev: SseEvent = { event: 'message', data: '' };
          const data: string[] = [];
          for (const line of frame.split('\n')) {
            if (line.startsWith('event: ')) ev.event = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (!data.length) continue;
          ev.data = data.join('\n');
          events.push(ev);
          for (const w of waiters.splice(0)) w();
        }
      });
      const next = async (pred: (e: SseEvent) => boolean, timeoutMs = 3000): Promise<SseEvent> => {
        const deadline = Date.now() + timeoutMs;
        let from = 0;
        for (;;) {
          const hit = events.slice(from).find(pred);
          if (hit) return hit;
          from = events.length;
          const left = deadline - Date.now();
          if (left <= 0) throw new Error(`no matching event within ${timeoutMs} ms; got ${JSON.stringify(events)}`);
          await new Promise<void>((r) => { const t = setTimeout(r, left); waiters.push(() => { clearTimeout(t); r(); }); });
        }
      };
      resolve({ res, events, next, close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}

async function app(status: () => object, opts: { maxClients?: number; heartbeatMs?: number } = {}): Promise<{ app: FastifyInstance; base: string; dash: { clients(): number } }> {
  const a = Fastify();
  const dash = registerDashboard(a, { status, pollMs: 20, ...opts });
  const base = await a.listen({ host: '127.0.0.1', port: 0 });
  return { app: a, base, dash };
}

test('GET / and /dashboard serve the page; its script and stylesheet are served with their types', async (t) => {
  const a = Fastify();
  registerDashboard(a, { status: () => ({}) });
  t.after(() => a.close());
  for (const path of ['/', '/dashboard']) {
    const res = await a.inject(path);
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /^text\/html/);
    assert.match(res.body, /<table id="live">/);
    assert.match(res.body, /src="\/dashboard\/app\.js"/);
  }
  const js = await a.inject('/dashboard/app.js');
  assert.equal(js.statusCode, 200);
  assert.match(js.headers['content-type'] as string, /^text\/javascript/);
  assert.match(js.body, /new EventSource\('\/events'\)/);
  const css = await a.inject('/dashboard/style.css');
  assert.match(css.headers['content-type'] as string, /^text\/css/);
  const missing = await a.inject('/dashboard/../../package.json');
  assert.equal(missing.statusCode, 404);
  assert.equal((await a.inject('/dashboard/nope.js')).statusCode, 404);
});

test('the page never puts network text into innerHTML (ICY titles are whatever a station sends)', async (t) => {
  const a = Fastify();
  registerDashboard(a, { status: () => ({}) });
  t.after(() => a.close());
  const js = (await a.inject('/dashboard/app.js')).body;
  assert.doesNotMatch(js, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
});

test('sseFrame splits multi-line data into data: lines', () => {
  assert.equal(sseFrame('status', '{"a":1}'), 'event: status\ndata: {"a":1}\n\n');
  assert.equal(sseFrame('x', 'a\nb'), 'event: x\ndata: a\ndata: b\n\n');
});

test('GET /events: the status at once, a status event after a change, nothing while unchanged, heartbeats', async (t) => {
  let sessions: object[] = [];
  const { app: a, base, dash } = await app(() => ({ live: { sessions } }), { heartbeatMs: 50 });
  t.after(() => a.close());
  const s = await openEvents(base);
  t.after(() => s.close());
  assert.equal(s.res.statusCode, 200);
  assert.match(s.res.headers['content-type'] as string, /^text\/event-stream/);
  const first = await s.next((e) => e.event === 'status');
  assert.deepEqual(JSON.parse(first.data), { live: { sessions: [] } });
  await s.next((e) => e.event === 'heartbeat');
  assert.equal(s.events.filter((e) => e.event === 'status').length, 1, 'an unchanged status is not sent again');

  sessions = [{ group: 'ff3e::1', state: 'starting', listeners: 1 }];
  const changed = await s.next((e) => e.event === 'status' && e.data.includes('ff3e::1'));
  assert.equal((JSON.parse(changed.data) as { live: { sessions: Array<{ state: string }> } }).live.sessions[0]!.state, 'starting');
  assert.equal(dash.clients(), 1);
});

test('GET /events: a closed client is dropped; beyond maxClients the answer is 503; app.close() ends open streams', async () => {
  const { app: a, base, dash } = await app(() => ({ n: 1 }), { maxClients: 1 });
  const one = await openEvents(base);
  await one.next((e) => e.event === 'status');
  const refused = await new Promise<http.IncomingMessage>((resolve) => http.get(`${base}/events`, resolve));
  assert.equal(refused.statusCode, 503);
  refused.resume();
  one.close();
  const deadline = Date.now() + 3000;
  while (dash.clients() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(dash.clients(), 0);
  const two = await openEvents(base);
  await two.next((e) => e.event === 'status');
  const ended = new Promise<void>((resolve) => two.res.once('end', resolve));
  await a.close();
  await ended;
  assert.equal(dash.clients(), 0);
});

test('a status provider that throws sends nothing and does not break the stream', async (t) => {
  let fail = false;
  let n = 0;
  let calls = 0;
  const { app: a, base } = await app(() => {
    calls++;
    if (fail) throw new Error('boom');
    return { n };
  });
  t.after(() => a.close());
  const s = await openEvents(base);
  t.after(() => s.close());
  await s.next((e) => e.event === 'status');
  fail = true;
  const failedFrom = calls;
  while (calls < failedFrom + 3) await new Promise((r) => setTimeout(r, 10));
  fail = false;
  n = 2;
  const e = await s.next((ev) => ev.event === 'status' && JSON.parse(ev.data).n === 2);
  assert.equal(JSON.parse(e.data).n, 2);
});
