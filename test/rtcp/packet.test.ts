import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRtcp, RtcpError } from '../../src/rtcp/packet.js';

// Written from RFC 3550 §6.4.2 / §6.5 / §6.6 by hand, not by the parser's own serializer.
const RR = '81c90007' + '11111111' + 'aabbccdd' + '40000010' + '00010005' + '00000384' + '00000000' + '00000000';
const SDES = '81ca0004' + '11111111' + '01' + '09' + Buffer.from('rx@client').toString('hex') + '00';
const BYE = '81cb0001' + '11111111';
const APP = '80cc0002' + '11111111' + Buffer.from('TEST').toString('hex');

test('a compound RR + SDES yields the report block and the CNAME', () => {
  const p = parseRtcp(Buffer.from(RR + SDES, 'hex'));
  assert.deepEqual(p.reports, [{
    reporter: 0x11111111, kind: 'rr',
    blocks: [{ source: 0xaabbccdd, fractionLost: 0.25, cumulativeLost: 16, highestSeq: 0x10005, jitter: 900 }],
  }]);
  assert.deepEqual(p.sdes, [{ ssrc: 0x11111111, cname: 'rx@client' }]);
  assert.deepEqual(p.byes, []);
});

test('cumulative loss is 24-bit signed: duplicates make it negative', () => {
  const rr = RR.replace('40000010', '00ffffff');
  assert.equal(parseRtcp(Buffer.from(rr, 'hex')).reports[0]!.blocks[0]!.cumulativeLost, -1);
  // Above 12 bits: rtp.js's own getter would report 0x345 here.
  const big = RR.replace('40000010', '00012345');
  assert.equal(parseRtcp(Buffer.from(big, 'hex')).reports[0]!.blocks[0]!.cumulativeLost, 0x12345);
});

test('BYE lists the leaving SSRC; unknown packet types are skipped by length', () => {
  const p = parseRtcp(Buffer.from(RR + APP + BYE, 'hex'));
  assert.deepEqual(p.byes, [0x11111111]);
  assert.equal(p.skipped, 1);
  assert.equal(p.reports.length, 1);
});

test('malformed datagrams raise RtcpError naming the problem, never another error', () => {
  const cases: Record<string, string> = {
    'too short': '81c9',
    'not RTCP (RTP header)': '8021000100000000',
    'length beyond the datagram': '81c90009' + RR.slice(8),
    'report count beyond the packet': '82c90007' + RR.slice(8),
    'truncated second packet': RR + '81ca0004111111',
  };
  for (const [what, hex] of Object.entries(cases)) {
    assert.throws(() => parseRtcp(Buffer.from(hex, 'hex')), (e: unknown) => {
      assert.ok(e instanceof RtcpError, `${what}: ${String(e)}`);
      assert.match(e.message, /^malformed RTCP: .+/);
      return true;
    }, what);
  }
});

test('every truncation of a valid compound packet is refused or parsed, never crashes', () => {
  const full = Buffer.from(RR + SDES + BYE, 'hex');
  for (let n = 0; n < full.length; n++) {
    try { parseRtcp(full.subarray(0, n)); } catch (e) { assert.ok(e instanceof RtcpError, `length ${n}: ${String(e)}`); }
  }
});
