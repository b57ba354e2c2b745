// buildSdp: sdp-transform reads it back to the same description, the lines
// come in the order VLC 4 insists on, SSM and ASM, IPv4 and IPv6.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { write } from 'sdp-transform';
import { PT_MP2T, PT_MPA, SdpError, buildSdp, parseSdp, type SdpOptions } from '../../src/announce/sdp.js';

const base: SdpOptions = {
  group: 'ff3e:40:2001:db8:1:0:8000:1', source: '2001:db8:1::1', port: 5004, rtcpPort: 5005,
  payloadType: PT_MPA, name: 'Tone', info: 'A 440 Hz tone', url: 'http://radio.example/tone',
  sessionId: 2147483649, sessionVersion: 3, originAddress: '2001:db8:1::1', tool: 'mcast-headend 0.1.0',
};

/** The line types in order, with each line's type letter. */
const kinds = (sdp: string): string[] => sdp.split('\r\n').filter(Boolean).map((l) => l[0]!);

function assertVlcOrder(sdp: string): void {
  assert.ok(sdp.endsWith('\r\n'));
  const k = kinds(sdp);
  const m = k.indexOf('m');
  assert.equal(k.filter((x) => x === 'm').length, 1, 'exactly one m= line');
  const order = 'vosiuepcbtrzka';
  const head = k.slice(0, m);
  for (let i = 1; i < head.length; i++) {
    assert.ok(order.indexOf(head[i]!) >= order.indexOf(head[i - 1]!), `line ${i} (${head[i]}=) after ${head[i - 1]}=`);
  }
  assert.deepEqual(head.slice(0, 3), ['v', 'o', 's']);
  assert.ok(head.includes('c') && head.includes('t'));
  assert.ok(k.slice(m + 1).every((x) => 'icba'.includes(x)), 'media block holds only i c b a lines');
  assert.doesNotMatch(sdp, /(^|\r\n)a=control/);
}

test('IPv6 SSM, MPA: exact text, VLC line order, and it parses back identically', () => {
  const sdp = buildSdp(base);
  assert.equal(sdp, [
    'v=0', 'o=- 2147483649 3 IN IP6 2001:db8:1::1', 's=Tone', 'i=A 440 Hz tone', 'u=http://radio.example/tone',
    'c=IN IP6 ff3e:40:2001:db8:1:0:8000:1', 't=0 0', 'a=recvonly',
    'a=source-filter: incl IN IP6 ff3e:40:2001:db8:1:0:8000:1 2001:db8:1::1',
    'a=tool:mcast-headend 0.1.0', 'a=type:broadcast', 'm=audio 5004 RTP/AVP 14', 'a=rtcp:5005', '',
  ].join('\r\n'));
  assertVlcOrder(sdp);
  const parsed = parseSdp(sdp);
  assert.equal(write(parsed), sdp);
  assert.deepEqual(parseSdp(write(parsed)), parsed);
  assert.equal(parsed.media.length, 1);
  assert.equal(parsed.media[0]!.protocol, 'RTP/AVP');
  assert.equal(String(parsed.media[0]!.payloads), '14');
  assert.equal(parsed.media[0]!.rtcp!.port, 5005);
  assert.deepEqual(parsed.sourceFilter, { filterMode: 'incl', netType: 'IN', addressTypes: 'IP6', destAddress: base.group, srcList: base.source });
});

test('IPv4 ASM, MP2T: c= carries the TTL, video m= line, no source filter', () => {
  const sdp = buildSdp({ ...base, group: '239.255.1.1', source: undefined, originAddress: '192.0.2.1', payloadType: PT_MP2T, ttl: 4, info: undefined, url: undefined });
  assertVlcOrder(sdp);
  assert.match(sdp, /\r\nc=IN IP4 239\.255\.1\.1\/4\r\n/);
  assert.match(sdp, /\r\nm=video 5004 RTP\/AVP 33\r\n/);
  assert.match(sdp, /\r\no=- 2147483649 3 IN IP4 192\.0\.2\.1\r\n/);
  assert.doesNotMatch(sdp, /source-filter|i=|u=/);
  const parsed = parseSdp(sdp);
  assert.deepEqual(parseSdp(write(parsed)), parsed);
  assert.equal(parsed.connection!.ip, '239.255.1.1/4');
});

test('IPv4 SSM and IPv6 ASM', () => {
  const v4 = buildSdp({ ...base, group: '232.1.2.3', source: '192.0.2.1', originAddress: '192.0.2.1' });
  assert.match(v4, /a=source-filter: incl IN IP4 232\.1\.2\.3 192\.0\.2\.1\r\n/);
  assert.match(v4, /c=IN IP4 232\.1\.2\.3\/1\r\n/);
  assertVlcOrder(v4);
  const v6 = buildSdp({ ...base, source: undefined });
  assert.doesNotMatch(v6, /source-filter/);
  assertVlcOrder(v6);
});

test('dynamic payload types carry rtpmap and fmtp; bandwidth goes in b=', () => {
  const sdp = buildSdp({ ...base, payloadType: 96, rtpmap: { codec: 'opus', rate: 48000, channels: 2 }, fmtp: 'sprop-stereo=1', bandwidthKbps: 128 });
  assertVlcOrder(sdp);
  assert.match(sdp, /m=audio 5004 RTP\/AVP 96\r\na=rtpmap:96 opus\/48000\/2\r\na=fmtp:96 sprop-stereo=1\r\na=rtcp:5005\r\n/);
  assert.match(sdp, /\r\nb=AS:128\r\nt=0 0\r\n/);
  assert.throws(() => buildSdp({ ...base, payloadType: 97 }), (e: unknown) => e instanceof SdpError && e.field === 'rtpmap');
});

test('names from directories cannot inject lines', () => {
  const sdp = buildSdp({ ...base, name: 'Evil\r\na=control:rtsp://x', info: 'x\ny' });
  assert.equal(sdp.split('\r\n').filter((l) => l.startsWith('s=')).length, 1);
  assert.doesNotMatch(sdp, /\r\na=control/);
  assertVlcOrder(sdp);
});

test('bad options are refused naming the field', () => {
  const cases: Array<[Partial<SdpOptions>, string]> = [
    [{ group: 'not-an-address' }, 'group'],
    [{ originAddress: 'host.example' }, 'originAddress'],
    [{ source: '192.0.2.1' }, 'source'],
    [{ port: 0 }, 'port'],
    [{ rtcpPort: 70000 }, 'rtcpPort'],
    [{ payloadType: 128 }, 'payloadType'],
    [{ name: ' \r\n ' }, 'name'],
    [{ sessionId: 'abc' }, 'sessionId'],
    [{ sessionVersion: -1 }, 'sessionVersion'],
    [{ group: '239.1.1.1', source: undefined, originAddress: '192.0.2.1', ttl: 256 }, 'ttl'],
  ];
  for (const [over, field] of cases) {
    assert.throws(() => buildSdp({ ...base, ...over }), (e: unknown) => e instanceof SdpError && e.field === field, field);
  }
});
