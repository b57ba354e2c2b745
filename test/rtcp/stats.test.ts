import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RtcpStats, describeReception } from '../../src/rtcp/stats.js';
import type { ParsedRtcp } from '../../src/rtcp/packet.js';

const OURS = 0xaabbccdd;
function rr(reporter: number, fractionLost: number, jitter = 900, source = OURS, cumulativeLost = 3): ParsedRtcp {
  return { reports: [{ reporter, kind: 'rr', blocks: [{ source, fractionLost, cumulativeLost, highestSeq: 1, jitter }] }], sdes: [], byes: [], skipped: 0 };
}

test('receivers are counted per SSRC with loss and jitter in ms', () => {
  const s = new RtcpStats();
  s.open('g', OURS);
  s.ingest(0, 'g', 'fe80::1', rr(1, 0.002));
  s.ingest(10, 'g', 'fe80::2', rr(2, 0, 1800));
  s.ingest(20, 'g', 'fe80::2', { reports: [], sdes: [{ ssrc: 2, cname: 'kodi@box' }], byes: [], skipped: 0 });
  const rx = s.reception('g', 30)!;
  assert.equal(rx.receivers, 2);
  assert.equal(rx.fractionLost, 0.001);
  assert.equal(rx.jitterMs, 20);
  assert.equal(rx.perReceiver.find((r) => r.ssrc === 2)!.cname, 'kodi@box');
  assert.equal(describeReception(2, 'MLD', rx), '2 listeners by MLD, 2 receivers by RTCP, 0.1 % loss');
});

test('blocks about another stream are ignored when our SSRC is known', () => {
  const s = new RtcpStats();
  s.open('g', OURS);
  s.ingest(0, 'g', 'fe80::1', rr(1, 0.5, 900, 0x1234));
  assert.equal(s.reception('g', 0)!.receivers, 0);
  assert.equal(s.ignoredBlocks, 1);
});

test('a BYE removes the receiver at once', () => {
  const s = new RtcpStats();
  s.open('g');
  s.ingest(0, 'g', 'fe80::1', rr(1, 0));
  s.ingest(1, 'g', 'fe80::1', { reports: [], sdes: [], byes: [1], skipped: 0 });
  assert.equal(s.reception('g', 1)!.receivers, 0);
});

test('a silent receiver expires after 5 of its intervals, not before', () => {
  const s = new RtcpStats();
  s.open('g');
  s.ingest(0, 'g', 'a', rr(1, 0));
  s.ingest(6_000, 'g', 'a', rr(1, 0)); // observed interval 6 s -> timeout 30 s
  assert.equal(s.reception('g', 6_000 + 29_999)!.receivers, 1);
  assert.equal(s.reception('g', 6_000 + 30_000)!.receivers, 0);
});

test('the interval never counts below the RFC 3550 minimum of 5 s', () => {
  const s = new RtcpStats();
  s.open('g');
  s.ingest(0, 'g', 'a', rr(1, 0));
  s.ingest(100, 'g', 'a', rr(1, 0)); // reports 100 ms apart still get 25 s
  assert.equal(s.reception('g', 100 + 24_999)!.receivers, 1);
  assert.equal(s.reception('g', 100 + 25_000)!.receivers, 0);
});

test('reports for a channel not opened change nothing', () => {
  const s = new RtcpStats();
  s.ingest(0, 'nope', 'a', rr(1, 0));
  assert.equal(s.reception('nope', 0), undefined);
  assert.equal(describeReception(1, 'IGMP', undefined), '1 listener by IGMP, 0 receivers by RTCP, 0.0 % loss');
});

test('our own sender reports, looped back on the group, are not a receiver', () => {
  const s = new RtcpStats();
  s.open('g', OURS);
  s.ingest(0, 'g', 'fe80::9', { reports: [{ reporter: OURS, kind: 'sr', blocks: [] }], sdes: [{ ssrc: OURS, cname: 'headend' }], byes: [], skipped: 0 });
  assert.equal(s.reception('g', 0)!.receivers, 0);
});
