// SAP codec (RFC 2974 §5): round trips both ways, FFmpeg's own packets as
// fixtures, and every malformed case refused with the field and offset.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { SapError, decodeSap, encodeSap, sapHash, sapScopeAddress } from '../../src/announce/sap.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`../../fixtures/sap/${name}`, import.meta.url));

const SDP = 'v=0\r\no=- 1 1 IN IP6 2001:db8::1\r\ns=Tone\r\nc=IN IP6 ff3e::1\r\nt=0 0\r\nm=audio 5004 RTP/AVP 14\r\n';

test('FFmpeg sap muxer packets decode, and re-encode to the same bytes', () => {
  const ann6 = decodeSap(fixture('ffmpeg5.1-ipv6-announce.bin'));
  assert.equal(ann6.deletion, false);
  assert.equal(ann6.origin, '2001:db8::1');
  assert.equal(ann6.msgIdHash, 0x6575);
  assert.equal(ann6.payloadType, 'application/sdp');
  assert.match(ann6.payload.toString(), /^v=0\r\no=- 0 0 IN IP6 ::1\r\n[\s\S]*c=IN IP6 ff3e::4242\r\n[\s\S]*m=audio 5004 RTP\/AVP 14\r\n/);

  const del6 = decodeSap(fixture('ffmpeg5.1-ipv6-deletion.bin'));
  assert.equal(del6.deletion, true);
  assert.equal(del6.msgIdHash, ann6.msgIdHash, 'a deletion names the announcement by its hash');
  assert.deepEqual(del6.payload, ann6.payload);

  const ann4 = decodeSap(fixture('ffmpeg5.1-ipv4-announce.bin'));
  assert.equal(ann4.origin, '10.9.0.1');
  assert.equal(ann4.msgIdHash, 0xea73);
  assert.match(ann4.payload.toString(), /c=IN IP4 239\.255\.12\.42\/1\r\n/);

  for (const name of ['ffmpeg5.1-ipv6-announce.bin', 'ffmpeg5.1-ipv6-deletion.bin', 'ffmpeg5.1-ipv4-announce.bin']) {
    const bytes = fixture(name);
    const p = decodeSap(bytes);
    assert.deepEqual(encodeSap({ ...p, payloadType: p.payloadType ?? null }), bytes, name);
  }
});

test('encode then decode gives the input back (IPv4, IPv6, deletion, auth, no payload type)', () => {
  const cases = [
    { deletion: false, origin: '2001:db8::1', msgIdHash: 1, payloadType: 'application/sdp', payload: Buffer.from(SDP) },
    { deletion: true, origin: '192.0.2.7', msgIdHash: 65535, payloadType: 'application/sdp', payload: Buffer.from(SDP) },
    { deletion: false, origin: '10.0.0.1', msgIdHash: 0x1234, payloadType: 'application/sdp', auth: Buffer.from('abcdefgh'), payload: Buffer.from(SDP) },
  ];
  for (const c of cases) assert.deepEqual(decodeSap(encodeSap(c)), c);
  const bare = decodeSap(encodeSap({ deletion: false, origin: '10.0.0.1', msgIdHash: 9, payloadType: null, payload: SDP }));
  assert.equal(bare.payloadType, undefined);
  assert.equal(bare.payload.toString(), SDP);
});

test('the header carries version 1, the IPv6 and deletion flags, and the hash', () => {
  const b = encodeSap({ deletion: true, origin: '2001:db8::1', msgIdHash: 0xbeef, payload: SDP });
  assert.equal(b[0], 0x20 | 0x10 | 0x04);
  assert.equal(b[1], 0);
  assert.equal(b.readUInt16BE(2), 0xbeef);
  assert.equal(b.subarray(20, 36).toString(), 'application/sdp\0');
  assert.equal(encodeSap({ deletion: false, origin: '192.0.2.1', msgIdHash: 1, payload: SDP })[0], 0x20);
});

test('encode refuses hash 0, out-of-range hashes, bad origins and ragged auth', () => {
  for (const msgIdHash of [0, -1, 65536, 1.5]) {
    assert.throws(() => encodeSap({ deletion: false, origin: '10.0.0.1', msgIdHash, payload: SDP }), (e: unknown) => e instanceof SapError && e.field === 'msgIdHash');
  }
  assert.throws(() => encodeSap({ deletion: false, origin: 'example.org', msgIdHash: 1, payload: SDP }), (e: unknown) => e instanceof SapError && e.field === 'origin');
  assert.throws(() => encodeSap({ deletion: false, origin: '10.0.0.1', msgIdHash: 1, auth: Buffer.alloc(3), payload: SDP }), (e: unknown) => e instanceof SapError && e.field === 'auth');
});

test('decode refuses malformed packets, naming field and offset', () => {
  const good = encodeSap({ deletion: false, origin: '2001:db8::1', msgIdHash: 7, payload: SDP });
  const bad = (mutate: (b: Buffer) => Buffer, field: string, offset: number): void => {
    const b = mutate(Buffer.from(good));
    assert.throws(() => decodeSap(b), (e: unknown) => {
      assert.ok(e instanceof SapError, String(e));
      assert.equal(e.field, field, e.message);
      assert.equal(e.offset, offset, e.message);
      return true;
    });
  };
  bad((b) => b.subarray(0, 3), 'header', 0);
  bad((b) => { b[0] = 0x00 | 0x10; return b; }, 'version', 0);
  bad((b) => { b[0] = 0x40 | 0x10; return b; }, 'version', 0);
  bad((b) => { b[0] |= 0x02; return b; }, 'encrypted', 0);
  bad((b) => { b[0] |= 0x01; return b; }, 'compressed', 0);
  bad((b) => b.subarray(0, 12), 'origin', 4);
  bad((b) => { b[1] = 200; return b; }, 'auth', 20);
  bad((b) => Buffer.concat([b.subarray(0, 20), Buffer.from('application/sdp')]), 'payloadType', 20);
  bad((b) => Buffer.concat([b.subarray(0, 20), Buffer.from('no slash\0v=0')]), 'payloadType', 20);
  bad((b) => b.subarray(0, 36), 'payload', 36);
  // An IPv4 packet whose flag claims IPv6 runs out of origin bytes.
  const v4 = encodeSap({ deletion: false, origin: '10.0.0.1', msgIdHash: 7, payloadType: null, payload: 'v=0' });
  v4[0] |= 0x10;
  assert.throws(() => decodeSap(v4), (e: unknown) => e instanceof SapError && e.field === 'origin');
  // The reserved bit is ignored (RFC 2974 §5).
  const r = Buffer.from(good); r[0] |= 0x08;
  assert.equal(decodeSap(r).msgIdHash, 7);
});

test('sapHash is 16-bit, non-zero, and follows the SDP', () => {
  const a = sapHash(SDP);
  assert.ok(a >= 1 && a <= 0xffff);
  assert.equal(sapHash(SDP), a);
  assert.notEqual(sapHash(SDP.replace('o=- 1 1', 'o=- 1 2')), a);
  const seen = new Set<number>();
  for (let i = 0; i < 2000; i++) {
    const h = sapHash(`${SDP}a=x:${i}\r\n`);
    assert.ok(h >= 1 && h <= 0xffff);
    seen.add(h);
  }
  assert.ok(seen.size > 1900, `hashes spread (${seen.size} distinct of 2000)`);
});

test('sapScopeAddress follows the RFC 2974 scope rule', () => {
  const cases: Array<[string, string]> = [
    ['ff3e:40:2001:db8:1:0:8000:1', 'ff0e::2:7ffe'],
    ['ff3e::4242', 'ff0e::2:7ffe'],
    ['ff15::1', 'ff05::2:7ffe'],
    ['ff02::1:3', 'ff02::2:7ffe'],
    ['ff38::1', 'ff08::2:7ffe'],
    ['239.255.12.42', '239.255.255.255'],
    ['239.192.0.1', '239.195.255.255'],
    ['239.195.255.1', '239.195.255.255'],
    ['239.196.0.1', '224.2.127.254'],
    ['224.0.0.251', '224.0.0.255'],
    ['232.1.2.3', '224.2.127.254'],
    ['233.128.1.1', '224.2.127.254'],
  ];
  for (const [group, want] of cases) assert.equal(sapScopeAddress(group), want, group);
  for (const notGroup of ['2001:db8::1', '10.0.0.1', 'nonsense']) assert.throws(() => sapScopeAddress(notGroup), RangeError);
});
