// The session driver: actions reach the runner and the history sink, hooks
// of replaced streams are ignored, close() waits for every stream.
// The runner here is a recording stand-in: real streams are tested in
// test/e2e/ondemand.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionDriver, type HistoryEntry, type StartRequest, type StreamHooks } from '../../src/sessions/driver.js';
import { silentLogger } from '../../src/log.js';

const G = 'ff3e:40:2001:db8:1:0:8000:1';

function setup(lingerMs = 0) {
  const started: Array<{ req: StartRequest; hooks: StreamHooks; stops: string[] }> = [];
  const history: HistoryEntry[] = [];
  const driver = new SessionDriver({
    limits: { lingerMs, maxSessions: 4, maxStartsPerMinute: 60, retryBackoffMs: 20, retryBackoffMaxMs: 40 },
    lookup: (g) => (g === G ? { id: 7, name: 'Tone', enabled: true } : undefined),
    runner: {
      start(req, hooks) {
        const rec = { req, hooks, stops: [] as string[] };
        started.push(rec);
        return { stop: async (reason) => { rec.stops.push(reason); await new Promise((r) => setTimeout(r, 5)); } };
      },
    },
    history: (e) => history.push(e),
    logger: silentLogger,
  });
  return { driver, started, history };
}

async function until(cond: () => boolean, what: string, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

test('join → runner.start on the listener interface, live → history, leave → stop → idle', async () => {
  const { driver, started, history } = setup();
  driver.membership({ type: 'active', iface: 'lan0', group: G, source: '*', listeners: 1 });
  assert.equal(started.length, 1);
  assert.deepEqual(started[0]!.req.ifaces, ['lan0']);
  started[0]!.hooks.live();
  await until(() => driver.status()[0]?.state === 'live', 'live');
  driver.membership({ type: 'idle', iface: 'lan0', group: G, source: '*', listeners: 0 });
  assert.deepEqual(started[0]!.stops, ['last listener left']);
  await until(() => driver.status().length === 0, 'idle');
  assert.deepEqual(history.map((h) => h.event), ['start', 'live', 'stop']);
  assert.equal(history[0]!.channelId, 7);
  await driver.close();
});

test('refused join is recorded; failed stream is torn down, retried, and a stale hook is ignored', async () => {
  const { driver, started, history } = setup();
  driver.membership({ type: 'active', iface: 'lan0', group: 'ff3e::dead', source: '*', listeners: 1 });
  assert.equal(history.at(-1)?.event, 'refused');
  assert.equal(driver.counters.refused, 1);

  driver.membership({ type: 'active', iface: 'lan0', group: G, source: '*', listeners: 1 });
  const first = started.at(-1)!;
  first.hooks.failed('resolve: html page');
  await until(() => first.stops.length === 1, 'failed stream stopped');
  const fail = history.find((h) => h.event === 'fail');
  assert.equal(fail?.error, 'resolve: html page');
  // The retry (20 ms backoff) starts a second stream; the first stream's late hook changes nothing.
  await until(() => started.length === 2, 'retry start');
  first.hooks.live();
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(driver.status().find((s) => s.group === G)?.state, 'starting');
  started.at(-1)!.hooks.live();
  await until(() => driver.status().find((s) => s.group === G)?.state === 'live', 'live');
  await driver.close();
  assert.deepEqual(started.at(-1)!.stops, ['shutdown']);
});
