// End to end in two namespaces (server lan0 <-> client eth0), IPv6 SSM:
// - ffmpeg run by ChildSupervisor with ffmpegArgs sends RTP (MP3 as PT 14,
//   AAC in MPEG-TS as PT 33); the client captures it (sequence numbers step
//   by one, right payload type, from the SSM source) and ffprobe decodes it
//   from an SDP made by buildSdp;
// - the Announcer (in the server namespace) sends SAP to [group]:9875; the
//   client's `ffprobe sap://[group]:9875` finds the stream from it; tshark
//   decodes SAP and RTP with no malformed packets; withdraw() sends a deletion
//   with the announced hash;
// - VLC (3.0, Debian 12) discovers the session on the scoped SAP address,
//   turns the source filter into rtp://[source]@[group]:5004 and decodes it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab, canUseNetns, type Netns } from '../helpers/netns.js';
import { ChildSupervisor } from '../../src/ingest/supervisor.js';
import { ffmpegArgs, payloadTypeOf, type FfmpegSpec } from '../../src/ingest/ffmpeg.js';
import { buildSdp } from '../../src/announce/sdp.js';
import { sapHash } from '../../src/announce/sap.js';
import { silentLogger } from '../../src/log.js';
import { waitFor } from '../helpers/procs.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const GROUP = 'ff3e:40:2001:db8:1:0:8000:1';
const SOURCE = '2001:db8:1::1';
const CLIENT = '2001:db8:1::2';
const SOURCE4 = '10.77.0.1';
const skip = !canUseNetns() && 'needs root and iproute2';

let lab: Lab;
let srv: Netns;
let cli: Netns;
let dir: string;

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'announce-e2e-'));
  lab = new Lab();
  srv = await lab.netns('srv');
  cli = await lab.netns('cli');
  await lab.veth(srv, 'lan0', cli, 'eth0');
  await srv.exec('ip', ['-6', 'addr', 'add', `${SOURCE}/64`, 'dev', 'lan0', 'nodad']);
  await cli.exec('ip', ['-6', 'addr', 'add', `${CLIENT}/64`, 'dev', 'eth0', 'nodad']);
  // IPv4 on the link too, but no multicast route: the socket's interface must do.
  await srv.exec('ip', ['addr', 'add', `${SOURCE4}/24`, 'dev', 'lan0']);
  await cli.exec('ip', ['addr', 'add', '10.77.0.2/24', 'dev', 'eth0']);
});

after(async () => {
  if (skip) return;
  await lab.close();
  if (!process.env.KEEP_TEST_DIR) rmSync(dir, { recursive: true, force: true });
});

/** Resolves with the first line of `stream` matching `re`. */
function lineMatching(stream: NodeJS.ReadableStream, re: RegExp, what: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}: ${buf.slice(-300)}`)), timeoutMs);
    stream.on('data', (d: Buffer) => {
      buf += d.toString();
      const line = buf.split('\n').find((l) => re.test(l));
      if (line !== undefined) { clearTimeout(timer); resolve(line); }
    });
  });
}

/** ffprobe may be done after a packet or two; let the capture hold at least ten full RTP packets. */
const enoughRtp = (file: string): Promise<void> => waitFor(`16 kB of capture in ${file}`, () => statSync(file).size > 16_384, 10_000);

/** tcpdump on the client's eth0 into a pcap; stop() flushes and ends it. Immediate mode: otherwise packets still in libpcap's ring block are lost on SIGINT. */
async function capture(name: string): Promise<{ file: string; stop: () => Promise<void> }> {
  const file = join(dir, `${name}.pcap`);
  const proc = cli.spawn('tcpdump', ['-i', 'eth0', '--immediate-mode', '-U', '-n', '-w', file, 'udp']);
  await lineMatching(proc.stderr!, /listening on/, 'tcpdump');
  return {
    file,
    stop: async () => {
      const gone = once(proc, 'exit');
      proc.kill('SIGINT');
      await gone;
    },
  };
}

/** An ffmpeg in the server namespace with our arguments, fed by a lavfi tone encoder on stdin. */
async function sender(spec: FfmpegSpec, encoder: string[]): Promise<ChildSupervisor> {
  const generators: ChildProcess[] = [];
  const sup = new ChildSupervisor({
    name: 'ffmpeg', command: 'ip', args: ['netns', 'exec', srv.name, 'ffmpeg', ...ffmpegArgs(spec)],
    logger: silentLogger, stdin: 'pipe', stdout: 'pipe',
    startupCheck: { kind: 'stdout', timeoutMs: 10_000 },
    watchdog: { stallMs: 5_000, progress: 'stdout' },
    onSpawn: (child) => {
      const gen = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', ...encoder, '-'], { stdio: ['ignore', 'pipe', 'ignore'] });
      generators.push(gen);
      gen.stdout!.pipe(child.stdin!);
    },
  });
  sup.once('stopped', () => { for (const g of generators) g.kill('SIGKILL'); });
  await sup.start();
  return sup;
}

async function tshark(file: string, filter: string, fields: string[]): Promise<string[][]> {
  const out = await cli.exec('tshark', ['-n', '-r', file, '-d', 'udp.port==5004,rtp', '-Y', filter, '-T', 'fields', ...fields.flatMap((f) => ['-e', f])]);
  return out.split('\n').filter(Boolean).map((l) => l.split('\t'));
}

/** RTP packets in the capture: all from the source, one payload type, sequence numbers stepping by one. */
async function assertRtp(file: string, pt: number): Promise<void> {
  const rows = await tshark(file, 'rtp && udp.dstport == 5004', ['ipv6.src', 'ipv6.dst', 'rtp.p_type', 'rtp.seq', 'rtp.ssrc']);
  assert.ok(rows.length >= 5, `only ${rows.length} RTP packets captured`);
  for (const [src, dst, type] of rows) {
    assert.equal(src, SOURCE);
    assert.equal(dst, GROUP);
    assert.equal(Number(type), pt);
  }
  const seqs = rows.map((r) => Number(r[3]));
  for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], (seqs[i - 1]! + 1) % 65536, `sequence at packet ${i}`);
  assert.equal(new Set(rows.map((r) => r[4])).size, 1, 'one SSRC');
  const malformed = await tshark(file, '_ws.malformed', ['frame.number']);
  assert.deepEqual(malformed, [], 'tshark finds no malformed packet');
}

async function ffprobe(target: string): Promise<Array<{ codec_name: string; codec_type: string }>> {
  const out = await cli.exec('ffprobe', ['-v', 'error', '-protocol_whitelist', 'file,rtp,udp,sap', '-show_streams', '-of', 'json', target], { timeoutMs: 15_000 });
  return (JSON.parse(out) as { streams: Array<{ codec_name: string; codec_type: string }> }).streams;
}

const output = { group: GROUP, port: 5004, ttl: 1, localAddress: SOURCE };
const sdpFor = (pt: number): string => buildSdp({
  group: GROUP, source: SOURCE, port: 5004, rtcpPort: 5005, payloadType: pt, name: 'Tone',
  sessionId: 1, sessionVersion: 1, originAddress: SOURCE, tool: 'mcast-headend test',
});

async function rtpRound(name: string, spec: FfmpegSpec, encoder: string[], codec: string): Promise<void> {
  const pt = payloadTypeOf(spec.output.payload);
  const cap = await capture(name);
  const sup = await sender(spec, encoder);
  try {
    const sdpFile = join(dir, `${name}.sdp`);
    writeFileSync(sdpFile, sdpFor(pt));
    const streams = await ffprobe(sdpFile);
    assert.equal(streams[0]?.codec_name, codec, JSON.stringify(streams));
    await enoughRtp(cap.file);
  } finally {
    await sup.stop();
    await cap.stop();
  }
  await assertRtp(cap.file, pt);
}

test('MP3 passthrough: RTP payload type 14 to the SSM group, decoded by ffprobe from our SDP', { skip }, async () => {
  await rtpRound('mpa', { input: { source: 'pipe:0', format: 'mp3' }, output: { payload: 'mpa', ...output }, progress: { periodS: 0.5 } },
    ['-c:a', 'libmp3lame', '-b:a', '128k', '-f', 'mp3'], 'mp3');
});

test('AAC in MPEG-TS: RTP payload type 33, decoded by ffprobe from our SDP', { skip }, async () => {
  await rtpRound('mp2t', { input: { source: 'pipe:0', format: 'adts' }, output: { payload: 'mpegts', ...output }, progress: { periodS: 0.5 } },
    ['-c:a', 'aac', '-b:a', '96k', '-f', 'adts'], 'aac');
});

/**
 * The Announcer runs in the server namespace (its sockets must live there),
 * in a small node process driven over stdin: `withdraw` withdraws and exits.
 */
async function startAnnouncer(sdp: string, where: { group: string; originAddress: string; ttl: number } = { group: GROUP, originAddress: SOURCE, ttl: 1 }): Promise<{ hash: number; withdraw: () => Promise<{ sendErrors: number; sent: number }> }> {
  const script = join(dir, 'announcer.mts');
  writeFileSync(script, `
    import { Announcer } from ${JSON.stringify(join(ROOT, 'src/announce/announcer.ts'))};
    import { silentLogger } from ${JSON.stringify(join(ROOT, 'src/log.ts'))};
    import { createInterface } from 'node:readline';
    const [params] = process.argv.slice(2);
    const a = new Announcer({ logger: silentLogger, intervalMs: 500, scoped: true });
    a.announce('k', JSON.parse(params));
    console.log('announced ' + a.hashOf('k'));
    for await (const line of createInterface({ input: process.stdin })) {
      if (line === 'withdraw') { await a.withdraw('k'); console.log('withdrawn ' + JSON.stringify(a.stats())); await a.close(); process.exit(0); }
    }
  `);
  const params = JSON.stringify({ ...where, sdp, iface: 'lan0' });
  const ann = srv.spawn(process.execPath, ['--import', 'tsx', script, params], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  const hash = Number((await lineMatching(ann.stdout!, /^announced \d+/, 'announcer')).split(' ')[1]);
  return {
    hash,
    withdraw: async () => {
      const withdrawn = lineMatching(ann.stdout!, /^withdrawn /, 'withdraw');
      ann.stdin!.write('withdraw\n');
      return JSON.parse((await withdrawn).slice('withdrawn '.length)) as { sendErrors: number; sent: number };
    },
  };
}

test('SAP from the Announcer: ffprobe sap://[group]:9875 finds the stream; withdraw sends a deletion with the same hash', { skip }, async () => {
  const sdp = sdpFor(14);
  const cap = await capture('sap');
  const sup = await sender({ input: { source: 'pipe:0', format: 'mp3' }, output: { payload: 'mpa', ...output }, progress: { periodS: 0.5 } },
    ['-c:a', 'libmp3lame', '-b:a', '128k', '-f', 'mp3']);
  let hash: number;
  try {
    const ann = await startAnnouncer(sdp);
    hash = ann.hash;
    assert.equal(hash, sapHash(sdp));
    const streams = await ffprobe(`sap://[${GROUP}]:9875`);
    assert.equal(streams[0]?.codec_name, 'mp3', JSON.stringify(streams));
    await enoughRtp(cap.file);
    const stats = await ann.withdraw();
    assert.equal(stats.sendErrors, 0);
    assert.ok(stats.sent >= 4, `sent ${stats.sent}`);
  } finally {
    await sup.stop();
    await cap.stop();
  }
  const sap = await tshark(cap.file, 'sap', ['ipv6.src', 'ipv6.dst', 'sap.flags.t', 'sap.message_identifier_hash', 'sdp.media']);
  const toGroup = sap.filter((r) => r[1] === GROUP);
  assert.ok(toGroup.length >= 2, `SAP packets to the group: ${toGroup.length}`);
  assert.ok(sap.some((r) => r[1] === 'ff0e::2:7ffe'), 'also sent to the scoped SAP address');
  for (const [src, , , h] of sap) {
    assert.equal(src, SOURCE);
    assert.equal(Number(h), hash!);
  }
  assert.ok(sap.every((r) => r[4] === 'audio 5004 RTP/AVP 14'), 'tshark decodes the SDP media line');
  const flags = sap.map((r) => Number(r[2]));
  assert.ok(flags.includes(0), 'announcements');
  assert.deepEqual(flags.slice(-2), [1, 1], 'the last packets (group and scoped) are deletions');
  assert.equal(flags.filter((f) => f === 1).length, 2, 'exactly one deletion per destination');
  await assertRtp(cap.file, 14);
});

const hasVlc = ((): boolean => { try { return statSync('/usr/bin/cvlc').isFile(); } catch { return false; } })();

test('VLC finds the stream by SAP on the scoped address and plays it as SSM', { skip: skip || (!hasVlc && 'cvlc not installed') }, async () => {
  const sdp = sdpFor(14);
  const sup = await sender({ input: { source: 'pipe:0', format: 'mp3' }, output: { payload: 'mpa', ...output }, progress: { periodS: 0.5 } },
    ['-c:a', 'libmp3lame', '-b:a', '128k', '-f', 'mp3']);
  // VLC refuses to run as root; give it an empty home it may write.
  const home = mkdtempSync(join(tmpdir(), 'vlc-home-'));
  chmodSync(home, 0o777);
  let vlc: ChildProcess | undefined;
  try {
    const ann = await startAnnouncer(sdp);
    vlc = cli.spawn('setpriv', ['--reuid', 'nobody', '--regid', 'nogroup', '--clear-groups', 'env', `HOME=${home}`,
      'cvlc', '-vv', '-I', 'rc', '--rc-fake-tty', '--aout', 'dummy', '--services-discovery', 'sap'], { stdio: ['pipe', 'pipe', 'pipe'] });
    await lineMatching(vlc.stderr!, /services discovery debug: adding: Tone$/, 'VLC SAP discovery', 15_000);
    const item = lineMatching(vlc.stdout!, /\|\s+\d+ - Tone\b/, 'the SAP item in the playlist');
    vlc.stdin!.write('playlist\n');
    const id = /(\d+) - Tone/.exec(await item)![1];
    const opened = lineMatching(vlc.stderr!, /successfully opened/, 'VLC opening the stream', 10_000);
    const decoding = lineMatching(vlc.stderr!, /using audio decoder module/, 'VLC decoding', 10_000);
    vlc.stdin!.write(`goto ${id}\n`);
    // VLC turns the source filter into an SSM URL: rtp://[source]@[group]:port.
    assert.match(await opened, new RegExp(`rtp://\\[${SOURCE}\\]@\\[${GROUP}\\]:5004`));
    await decoding;
    await ann.withdraw();
  } finally {
    await sup.stop();
    // VLC must be gone before its home is removed, or it makes the folder again.
    if (vlc && vlc.exitCode === null && vlc.signalCode === null) {
      const gone = once(vlc, 'exit');
      vlc.kill('SIGKILL');
      await gone;
    }
    rmSync(home, { recursive: true, force: true });
  }
});

test('IPv4: SAP leaves lan0 from its address with the TTL asked, to the group and to 239.255.255.255', { skip }, async () => {
  const group = '239.255.7.7';
  const sdp = buildSdp({
    group, port: 5004, rtcpPort: 5005, payloadType: 33, name: 'Four', sessionId: 4, sessionVersion: 1,
    originAddress: SOURCE4, tool: 'mcast-headend test', ttl: 3,
  });
  const cap = await capture('sap4');
  try {
    const ann = await startAnnouncer(sdp, { group, originAddress: SOURCE4, ttl: 3 });
    await waitFor('IPv4 SAP in the capture', () => statSync(cap.file).size > 1000, 5000);
    const stats = await ann.withdraw();
    assert.equal(stats.sendErrors, 0);
  } finally {
    await cap.stop();
  }
  const rows = await tshark(cap.file, 'sap', ['ip.src', 'ip.dst', 'ip.ttl', 'sap.flags.t', 'sap.originating_source', 'sdp.connection_info']);
  assert.ok(rows.length >= 3, `SAP packets: ${rows.length}`);
  for (const [src, , ttl, , origin, conn] of rows) {
    assert.equal(src, SOURCE4);
    assert.equal(ttl, '3');
    assert.equal(origin, SOURCE4);
    assert.equal(conn, `IN IP4 ${group}/3`);
  }
  assert.deepEqual([...new Set(rows.map((r) => r[1]))].sort(), [group, '239.255.255.255'].sort());
  assert.deepEqual(rows.slice(-2).map((r) => r[3]), ['1', '1'], 'withdraw ends with deletions');
});
