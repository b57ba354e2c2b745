// One stream per interface with listeners (radio), or one stream that moves
// with its listeners (DVB). The streams here are recording stand-ins; the
// real ones run in test/e2e/ondemand-interfaces.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InterfaceFanout, type InterfaceStream } from '../../src/sessions/fanout.js';
import type { StreamHooks } from '../../src/sessions/driver.js';
import { silentLogger } from '../../src/log.js';

interface Rec extends InterfaceStream { iface: string; hooks: StreamHooks; stops: string[] }

function setup(ifaces: string[], perInterface: boolean) {
  const started: Rec[] = [];
  const outcome = { live: 0, failed: [] as string[] };
  const fan = new InterfaceFanout<Rec>((iface, hooks) => {
    const rec: Rec = { iface, hooks, stops: [], pid: undefined, sdp: () => `sdp ${iface}`, stop: async (r) => { rec.stops.push(r); } };
    started.push(rec);
    return rec;
  }, ifaces, { live: () => { outcome.live++; }, failed: (e) => { outcome.failed.push(e); } }, perInterface, silentLogger);
  return { fan, started, outcome };
}

test('per interface: one stream per interface with listeners, added and removed as they come and go', async () => {
  const { fan, started, outcome } = setup(['lan0', 'lan1'], true);
  assert.deepEqual(started.map((s) => s.iface), ['lan0', 'lan1']);
  started[1]!.hooks.live();
  started[0]!.hooks.live();
  assert.equal(outcome.live, 1, 'the session goes live once');
  fan.retarget(['lan1', 'lan2']);
  assert.deepEqual(started.map((s) => s.iface), ['lan0', 'lan1', 'lan2']);
  assert.deepEqual(started[0]!.stops, ['no listener left on lan0']);
  assert.deepEqual(fan.interfaces(), ['lan1', 'lan2']);
  assert.equal(fan.primary()?.sdp(), 'sdp lan1');
  // A removed stream's late failure changes nothing; a served one's fails the session, naming the interface.
  started[0]!.hooks.failed('late');
  started[2]!.hooks.failed('ffmpeg gave up');
  assert.deepEqual(outcome.failed, ['lan2: ffmpeg gave up']);
  await fan.stop('last listener left');
  assert.deepEqual(started[1]!.stops, ['last listener left']);
});

test('one output per group: the stream moves when its interface empties, after the old one is gone', async () => {
  const { fan, started } = setup(['lan0', 'lan1'], false);
  assert.deepEqual(started.map((s) => s.iface), ['lan0']);
  fan.retarget(['lan0', 'lan1']);
  assert.equal(started.length, 1, 'still on lan0 while it has listeners');
  fan.retarget(['lan1']);
  assert.deepEqual(started[0]!.stops, ['listeners moved to lan1']);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(started.map((s) => s.iface), ['lan0', 'lan1']);
  assert.deepEqual(fan.interfaces(), ['lan1']);
  await fan.stop('shutdown');
});

test('a start that throws on a later interface fails the session; on the first it throws to the caller', async () => {
  assert.throws(() => new InterfaceFanout(() => { throw new Error('no address'); }, ['lan0'], { live() {}, failed() {} }, true, silentLogger), /no address/);
  const failed: string[] = [];
  let n = 0;
  const fan = new InterfaceFanout<InterfaceStream>((iface) => {
    if (n++ > 0) throw new Error(`interface ${iface}: has no IPv6 address`);
    return { pid: undefined, sdp: () => undefined, stop: async () => undefined };
  }, ['lan0', 'lan1'], { live() {}, failed: (e) => { failed.push(e); } }, true, silentLogger);
  await new Promise((r) => queueMicrotask(() => r(undefined)));
  assert.deepEqual(failed, ['lan1: interface lan1: has no IPv6 address']);
  await fan.stop('x');
});

test('interface edges: told when a stream starts on an interface and once it is gone from it', async () => {
  const edges: string[] = [];
  const started: Rec[] = [];
  const fan = new InterfaceFanout<Rec>((iface, hooks) => {
    const rec: Rec = { iface, hooks, stops: [], pid: undefined, sdp: () => undefined, stop: async (r) => { rec.stops.push(r); edges.push(`stopping ${iface}`); } };
    started.push(rec);
    return rec;
  }, ['lan0', 'lan1'], { live: () => undefined, failed: () => undefined }, true, silentLogger,
  { added: (i) => edges.push(`+${i}`), removed: (i) => { edges.push(`-${i}`); if (i === 'lan1') throw new Error('observer bug'); } });
  assert.deepEqual(edges, ['+lan0', '+lan1']);
  fan.retarget(['lan1']);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(edges, ['+lan0', '+lan1', 'stopping lan0', '-lan0'], 'removed only after the stream stopped');
  await fan.stop('last listener left');
  assert.deepEqual(edges.slice(4), ['stopping lan1', '-lan1'], 'a throwing observer does not break stop()');
});
