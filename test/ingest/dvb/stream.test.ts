// startDvb: a DVB channel for one session, on the real pool logic with its
// edges faked and an announcer that records what it was asked to send.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildConfig } from '../../../src/config.js';
import { silentLogger } from '../../../src/log.js';
import type { Announcer, AnnounceParams } from '../../../src/announce/announcer.js';
import { parseSdp } from '../../../src/announce/sdp.js';
import { startDvb, type DvbChannel } from '../../../src/ingest/dvb/stream.js';
import type { DvbTuning } from '../../../src/ingest/dvb/carrier.js';
import { setup } from './fakes.js';
import { waitFor } from './lab.js';

const tuning: DvbTuning = { frequencyKhz: 11362000, polarisation: 'H', symbolRate: 22000000, system: 'DVBS2', fec: '2/3', modulation: 'PSK_8' };
const egress = { iface: 'lan0', address: '2001:db8::1', localaddr: '2001:db8::1', family: 6 as const };
const config = buildConfig({});

class RecordingAnnouncer {
  readonly calls: Array<[string, string, string?]> = [];
  announce(key: string, p: AnnounceParams): void { this.calls.push(['announce', key, p.sdp]); }
  update(key: string, sdp: string): void { this.calls.push(['update', key, sdp]); }
  async withdraw(key: string): Promise<void> { this.calls.push(['withdraw', key]); }
}

function hooks() {
  const h = { live: 0, failed: [] as string[] };
  return { h, hooks: { live: () => { h.live++; }, failed: (e: string) => { h.failed.push(e); } } };
}

const channel = (serviceId: number, t = tuning): DvbChannel => ({ name: `Channel ${serviceId}`, serviceId, tuning: t });

test('live, announced as MP2T (PT 33), renamed from the SDT, withdrawn and released on stop', async () => {
  const { pool, procs, calls, done } = setup();
  const ann = new RecordingAnnouncer();
  const { h, hooks: hk } = hooks();
  const s = startDvb({ group: 'ff3e::1', channel: channel(1001), egress }, { config, pool, announcer: ann as unknown as Announcer, logger: silentLogger, ifindex: () => 7 }, hk);
  await waitFor(() => ann.calls.length === 2, 2000, 'announce, then update with the SDT name');
  assert.equal(h.live, 1);
  const first = parseSdp(ann.calls[0]![2]!);
  assert.equal(first.name, 'Channel 1001');
  assert.equal(String(first.media[0]!.payloads), '33');
  const second = parseSdp(ann.calls[1]![2]!);
  assert.equal(second.name, 'Alpha');
  assert.equal(second.description, 'Lab');
  assert.equal(second.origin!.sessionVersion, first.origin!.sessionVersion + 1);
  assert.equal(s.sdp(), ann.calls[1]![2]);
  assert.deepEqual(s.status(), { carrier: '11362000H', adapter: 't0', pid: procs[0]!.pid, serviceId: 1001, serviceName: 'Alpha', provider: 'Lab', sdpVersion: 2 });
  assert.match(procs[0]!.spec.args.join(' '), /-f 11362000/);
  await s.stop('idle');
  assert.deepEqual(ann.calls[2], ['withdraw', 'ff3e::1']);
  assert.equal(procs[0]!.stopped, true);
  await pool.close();
  done();
});

test('refused by the pool, or its carrier given up: failed() with the reason', async () => {
  const { pool, procs, done } = setup();
  const ann = new RecordingAnnouncer();
  const deps = { config, pool, announcer: ann as unknown as Announcer, logger: silentLogger, ifindex: () => 7 };
  const one = hooks();
  const a = startDvb({ group: 'ff3e::1', channel: channel(1001), egress }, deps, one.hooks);
  await waitFor(() => one.h.live === 1, 2000, 'first service live');
  const two = hooks();
  startDvb({ group: 'ff3e::2', channel: channel(1002, { ...tuning, frequencyKhz: 11494000 }), egress }, deps, two.hooks);
  await waitFor(() => two.h.failed.length === 1, 2000, 'second carrier refused');
  assert.match(two.h.failed[0]!, /^dvb: no free tuner for 11494000H/);
  procs[0]!.emit('failed', { reason: 'gave up after 10 restarts; last: exited with code 1' });
  assert.deepEqual(one.h.failed, ['dvb: carrier 11362000H on tuner t0 given up: gave up after 10 restarts; last: exited with code 1']);
  await a.stop('failed');
  await pool.close();
  done();
});
