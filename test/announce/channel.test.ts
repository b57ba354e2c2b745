// One channel's SDP and SAP over its life, as the radio and DVB paths both
// use it: the announcer is a recorder; the SDP is read back with sdp-transform.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChannelAnnouncement, isSsmGroup } from '../../src/announce/channel.js';
import { parseSdp } from '../../src/announce/sdp.js';
import { buildConfig } from '../../src/config.js';
import { choosePayload, payloadOverride, sdpPayloadOf } from '../../src/ingest/radio.js';

const config = buildConfig({ interfaces: ['lan0'], announce: { scopedAddress: true } });
const egress = { iface: 'lan0', address: '2001:db8:1::1', localaddr: '2001:db8:1::1', family: 6 as const };

function recorder() {
  const calls: Array<[string, string, unknown?]> = [];
  return {
    calls,
    announcer: {
      announce: (key: string, p: { sdp: string }) => { calls.push(['announce', key, p]); },
      update: (key: string, sdp: string) => { calls.push(['update', key, sdp]); },
      withdraw: async (key: string) => { calls.push(['withdraw', key]); },
    },
  };
}

test('first announce starts SAP at version 1; each change raises the version and keeps the session id; withdraw once', async () => {
  const { calls, announcer } = recorder();
  const group = 'ff3e:40:2001:db8:1:0:8000:1';
  const a = new ChannelAnnouncement({ config, announcer, group, egress, key: `${group}%lan0`, now: () => 1_700_000_000_000 });
  assert.equal(a.sdp(), undefined);
  assert.equal(await a.withdraw(), undefined);
  assert.equal(calls.length, 0, 'nothing to withdraw before the first announce');

  a.announce({ name: 'Tone', payload: { payloadType: 14 } });
  const first = parseSdp(a.sdp()!);
  assert.deepEqual(first.origin, { username: '-', sessionId: 1_700_000_000 + 2_208_988_800, sessionVersion: 1, netType: 'IN', ipVer: 6, address: egress.address });
  assert.equal(first.sourceFilter?.srcList, egress.address, 'SSM: a=source-filter names the egress address');
  assert.equal(String(first.media[0]!.payloads), '14');
  assert.equal(first.media[0]!.rtcp?.port, config.rtp.rtcpPort);
  assert.deepEqual(calls[0]!.slice(0, 2), ['announce', `${group}%lan0`]);
  assert.deepEqual(calls[0]![2], { group, sdp: a.sdp(), iface: 'lan0', originAddress: egress.address, ttl: config.announce.ttl, alsoScoped: true });

  a.announce({ name: 'Tone', info: 'Now: a song', payload: { payloadType: 14 } });
  const second = parseSdp(a.sdp()!);
  assert.equal(second.origin?.sessionVersion, 2);
  assert.equal(second.origin?.sessionId, first.origin?.sessionId);
  assert.equal(second.description, 'Now: a song');
  assert.deepEqual(calls[1], ['update', `${group}%lan0`, a.sdp()]);
  assert.equal(a.sdpVersion, 2);

  await a.withdraw();
  await a.withdraw();
  assert.deepEqual(calls.slice(2), [['withdraw', `${group}%lan0`]]);
});

test('an ASM group has no source filter; the key defaults to the group', () => {
  const { calls, announcer } = recorder();
  const a = new ChannelAnnouncement({ config, announcer, group: 'ff0e::1234', egress });
  a.announce({ name: 'Sat', info: 'Provider', payload: { payloadType: 33 } });
  assert.equal(parseSdp(a.sdp()!).sourceFilter, undefined);
  assert.equal(calls[0]![1], 'ff0e::1234');
  assert.equal(isSsmGroup('232.1.2.3'), true);
  assert.equal(isSsmGroup('239.1.2.3'), false);
  assert.equal(isSsmGroup('FF3E:40::1'), true);
});

test('per-channel payload: codec opus re-encodes to Opus and the SDP carries a=rtpmap:96 opus/48000/2 (RFC 7587)', () => {
  assert.equal(payloadOverride('Opus'), 'opus');
  assert.equal(payloadOverride('MP3'), undefined, 'a directory hint is no override');
  assert.deepEqual(choosePayload('mp3', 'opus'), { format: 'mp3', payload: 'opus', transcode: { codec: 'opus', bitrateKbps: 96, sampleRate: 48000, channels: 2 } });
  assert.deepEqual(choosePayload('mp3'), { format: 'mp3', payload: 'mpa' });
  assert.deepEqual(choosePayload('mp3', 'mpegts'), { format: 'mp3', payload: 'mpegts' });
  assert.deepEqual(choosePayload('aac', 'mpa'), { format: 'aac', payload: 'mpa', transcode: { codec: 'mp3', bitrateKbps: 128 } });
  const { announcer } = recorder();
  const a = new ChannelAnnouncement({ config, announcer, group: 'ff3e:40:2001:db8:1:0:8000:3', egress });
  a.announce({ name: 'Opus tone', payload: sdpPayloadOf('opus') });
  const m = parseSdp(a.sdp()!).media[0]!;
  assert.equal(m.type, 'audio');
  assert.equal(String(m.payloads), '96');
  assert.deepEqual(m.rtp, [{ payload: 96, codec: 'opus', rate: 48000, encoding: 2 }]);
  assert.match(a.sdp()!, /^a=rtpmap:96 opus\/48000\/2\r?$/m);
});
