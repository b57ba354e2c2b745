// ffmpegArgs: the exact argument vector for each payload and input kind,
// payloadFor's choices, and refusals that name the field. The real run
// (RTP received and decoded in a namespace) is test/e2e/announce-rtp.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FfmpegSpecError, ffmpegArgs, payloadFor, payloadTypeOf, rtpUrl, type FfmpegSpec } from '../../src/ingest/ffmpeg.js';

const G6 = 'ff3e:40:2001:db8:1:0:8000:1';
const HEAD = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'warning'];
const out6 = { group: G6, port: 5004, ttl: 1, localAddress: '2001:db8:1::1' };

test('MP3 from stdin, passthrough as MPA (PT 14), minimal probing', () => {
  assert.deepEqual(ffmpegArgs({ input: { source: 'pipe:0', format: 'mp3' }, output: { payload: 'mpa', ...out6 } }), [
    ...HEAD, '-probesize', '32', '-analyzeduration', '0', '-fflags', 'nobuffer', '-f', 'mp3', '-i', 'pipe:0',
    '-map', '0:a:0', '-vn', '-c:a', 'copy', '-f', 'rtp', '-sdp_file', '/dev/null',
    `rtp://[${G6}]:5004?ttl=1&localaddr=2001:db8:1::1&pkt_size=1316`,
  ]);
});

test('ADTS AAC copied into MPEG-TS (PT 33) with ssrc, service name and progress', () => {
  assert.deepEqual(ffmpegArgs({
    input: { source: 'pipe:0', format: 'adts', realtime: true },
    output: { payload: 'mpegts', ...out6, ssrc: 305419896, serviceName: 'Radio One', serviceProvider: 'headend', pktSize: 1128 },
    progress: { periodS: 0.5 },
  }), [
    ...HEAD, '-progress', 'pipe:1', '-stats_period', '0.5',
    '-probesize', '32', '-analyzeduration', '0', '-fflags', 'nobuffer', '-f', 'aac', '-re', '-i', 'pipe:0',
    '-map', '0:v?', '-map', '0:a?', '-dn', '-sn', '-c:v', 'copy', '-c:a', 'copy',
    '-metadata', 'service_name=Radio One', '-metadata', 'service_provider=headend',
    '-muxdelay', '0', '-muxpreload', '0', '-rtp_muxer_options', 'ssrc=305419896', '-f', 'rtp_mpegts',
    `rtp://[${G6}]:5004?ttl=1&localaddr=2001:db8:1::1&pkt_size=1128`,
  ]);
});

test('MPEG-TS input gets real probing; IPv4 URL has no brackets', () => {
  assert.deepEqual(ffmpegArgs({ input: { source: 'udp://127.0.0.1:1234', format: 'mpegts' }, output: { payload: 'mpegts', group: '239.1.2.3', port: 5004, ttl: 4 } }), [
    ...HEAD, '-probesize', '262144', '-analyzeduration', '500000', '-fflags', 'nobuffer', '-f', 'mpegts', '-i', 'udp://127.0.0.1:1234',
    '-map', '0:v?', '-map', '0:a?', '-dn', '-sn', '-c:v', 'copy', '-c:a', 'copy', '-muxdelay', '0', '-muxpreload', '0', '-f', 'rtp_mpegts',
    'rtp://239.1.2.3:5004?ttl=4&pkt_size=1316',
  ]);
});

test('Ogg transcoded: to MP3 inside MPA, to Opus with dynamic PT 96; an HTTP URL with user agent and no low-latency', () => {
  assert.deepEqual(ffmpegArgs({
    input: { source: 'pipe:0', format: 'ogg' }, output: { payload: 'mpa', ...out6, sdpFile: '/run/x.sdp', ssrc: 7 },
    transcode: { codec: 'mp3', bitrateKbps: 128, sampleRate: 44100, channels: 2 }, logLevel: 'error',
  }), [
    '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error',
    '-probesize', '32', '-analyzeduration', '0', '-fflags', 'nobuffer', '-f', 'ogg', '-i', 'pipe:0',
    '-map', '0:a:0', '-vn', '-c:a', 'libmp3lame', '-b:a', '128k', '-ar', '44100', '-ac', '2',
    '-ssrc', '7', '-f', 'rtp', '-sdp_file', '/run/x.sdp', `rtp://[${G6}]:5004?ttl=1&localaddr=2001:db8:1::1&pkt_size=1316`,
  ]);
  assert.deepEqual(ffmpegArgs({
    input: { source: 'http://radio.example/live', lowLatency: false, userAgent: 'ua/1' }, output: { payload: 'opus', ...out6 },
    transcode: { codec: 'opus', bitrateKbps: 96 },
  }), [
    ...HEAD, '-user_agent', 'ua/1', '-i', 'http://radio.example/live',
    '-map', '0:a:0', '-vn', '-c:a', 'libopus', '-b:a', '96k', '-payload_type', '96', '-f', 'rtp', '-sdp_file', '/dev/null',
    `rtp://[${G6}]:5004?ttl=1&localaddr=2001:db8:1::1&pkt_size=1316`,
  ]);
});

test('rtpUrl keeps a link-local localaddr with its zone, refuses a zone on the destination', () => {
  assert.equal(rtpUrl({ group: G6, port: 5004, ttl: 1, localAddress: 'fe80::1%lan0' }), `rtp://[${G6}]:5004?ttl=1&localaddr=fe80::1%lan0&pkt_size=1316`);
  assert.throws(() => rtpUrl({ group: `${G6}%lan0`, port: 5004, ttl: 1 }), (e: unknown) => e instanceof FfmpegSpecError && e.field === 'output.group');
});

test('bad specs are refused naming the field', () => {
  const base: FfmpegSpec = { input: { source: 'pipe:0', format: 'mp3' }, output: { payload: 'mpa', ...out6 } };
  const cases: Array<[FfmpegSpec, string]> = [
    [{ ...base, output: { ...base.output, port: 0 } }, 'output.port'],
    [{ ...base, output: { ...base.output, ttl: 300 } }, 'output.ttl'],
    [{ ...base, output: { ...base.output, pktSize: 100 } }, 'output.pktSize'],
    [{ ...base, output: { ...base.output, ssrc: -1 } }, 'output.ssrc'],
    [{ ...base, input: { ...base.input, probeSize: 1 } }, 'input.probeSize'],
    [{ ...base, input: { source: '' } }, 'input.source'],
    [{ ...base, transcode: { codec: 'aac' } }, 'transcode.codec'],
    [{ ...base, output: { ...base.output, payload: 'opus' }, transcode: { codec: 'mp3' } }, 'transcode.codec'],
  ];
  for (const [spec, field] of cases) {
    assert.throws(() => ffmpegArgs(spec), (e: unknown) => e instanceof FfmpegSpecError && e.field === field, field);
  }
});

test('payloadFor: MP3/MP2 pass through as MPA, the rest rides in MPEG-TS', () => {
  assert.deepEqual(payloadFor('audio/mpeg'), { format: 'mp3', payload: 'mpa' });
  assert.deepEqual(payloadFor('Audio/MPEG; charset=x'), { format: 'mp3', payload: 'mpa' });
  assert.deepEqual(payloadFor('mp2'), { format: 'mp2', payload: 'mpa' });
  assert.deepEqual(payloadFor('audio/aacp'), { format: 'aac', payload: 'mpegts' });
  assert.deepEqual(payloadFor('video/MP2T'), { format: 'mpegts', payload: 'mpegts' });
  assert.deepEqual(payloadFor('application/vnd.apple.mpegurl'), { format: 'hls', payload: 'mpegts' });
  assert.deepEqual(payloadFor('audio/ogg'), { format: 'ogg', payload: 'mpegts', transcode: { codec: 'aac', bitrateKbps: 128 } });
  assert.deepEqual(payloadFor('application/octet-stream'), { payload: 'mpegts' });
  assert.deepEqual(['mpa', 'mpegts', 'opus'].map((p) => payloadTypeOf(p as 'mpa')), [14, 33, 96]);
});

test('an SSRC of 2^31 and above goes to ffmpeg as the signed int with the same bits (its option is a C int)', () => {
  const args = (payload: 'mpa' | 'mpegts', ssrc: number): string[] => ffmpegArgs({ input: { source: 'pipe:0', format: 'mp3' }, output: { payload, ...out6, ssrc } });
  assert.equal(args('mpa', 3257469797)[args('mpa', 3257469797).indexOf('-ssrc') + 1], '-1037497499');
  assert.ok(args('mpegts', 0xffffffff).includes('ssrc=-1'));
  assert.equal(args('mpa', 0x7fffffff)[args('mpa', 0x7fffffff).indexOf('-ssrc') + 1], '2147483647');
  assert.equal((-1037497499 >>> 0), 3257469797);
});
