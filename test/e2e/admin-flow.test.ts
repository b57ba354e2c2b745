// The admin flow of issue 4, end to end, through the CLI as an admin types it
// on the headend host: import an M3U list and a radio-browser JSON, see the
// channels with their groups, decode a group with `plan show`, export an M3U,
// open it in VLC on a client (as nobody: VLC refuses root), and hear the
// first entry play; then re-import a reordered list with an entry dropped and
// check that no station moved to another group, bring the station back and add
// one while the daemon runs (VLC plays it at once), open the ffmpeg-style
// export in ffprobe, and disable a channel (left out of the export, refused).
// The cases run in order on one lab and one store.
//
//   client (eth0, VLC) ── veth ── head (lan0: headend serve, two icecast2 servers, the CLI)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, canUseNetns, type Netns } from '../helpers/netns.js';
import { startIcecast, type Icecast } from '../helpers/icecast.js';
import { HEAD_ADDR, Probe, REPO_ROOT, Sniffer, headAndClient, nodeEntry, startServe, until, type ServeProcess } from '../../src/lab/parts.js';
import type { Channel } from '../../src/store/types.js';

const skip = !canUseNetns() && 'needs root and iproute2';
const API_PORT = 18080;
const TONE_HZ = 440;
const JAZZ_HZ = 660;
// The plan's prefix is derived from lan0's global address (2001:db8:1::/64).
const PLAN_GROUP = /^ff3e:40:2001:db8:1:0:[89a-f][0-9a-f]{0,3}:[0-9a-f]{1,4}$/;

let lab: Lab;
let head: Netns;
let client: Netns;
let tone: Icecast;
let jazz: Icecast;
let dir: string;
let configFile: string;
let m3uFile: string;
let serve: ServeProcess | undefined;

interface CliResult { code: number | null; stdout: string; stderr: string }

/** `headend ARGS --config FILE` run in the headend namespace, as an admin types it there. */
async function headend(...args: string[]): Promise<CliResult> {
  const [cmd, ...pre] = nodeEntry('cli/main');
  const child = head.spawn(cmd!, [...pre, ...args, '--config', configFile], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  return { code, stdout, stderr };
}

async function ok(...args: string[]): Promise<string> {
  const r = await headend(...args);
  assert.equal(r.code, 0, `headend ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
  return r.stdout;
}

const channels = async (): Promise<Channel[]> => JSON.parse(await ok('channel', 'list', '--json')) as Channel[];

interface LiveSession { group: string; state: string; listeners: number; lastError?: string; refused?: string }
async function session(group: string): Promise<LiveSession | undefined> {
  const out = await head.exec('curl', ['-s', '-m', '3', `http://127.0.0.1:${API_PORT}/status`]);
  return (JSON.parse(out) as { live: { sessions: LiveSession[] } }).live.sessions.find((s) => s.group === group);
}

/**
 * The frequency of the sine tone in a WAV file VLC's afile output wrote
 * (s16le, its header's channel count and rate), from the upward zero
 * crossings of the first channel, leaving out the first 0.2 s.
 */
function toneHz(wav: Buffer): number {
  const channelsN = wav.readUInt16LE(22);
  const rate = wav.readUInt32LE(24);
  const data = wav.indexOf('data', 12) + 8;
  const frames = Math.floor((wav.length - data) / (2 * channelsN));
  const from = Math.floor(rate / 5);
  let ups = 0;
  let prev = 0;
  for (let i = from; i < frames; i++) {
    const v = wav.readInt16LE(data + i * 2 * channelsN);
    if (prev < 0 && v >= 0) ups++;
    prev = v;
  }
  return ups / ((frames - from) / rate);
}

/**
 * VLC on the client, as nobody (VLC refuses root): setpriv execs it, so the
 * PID we hold is VLC's. The afile output writes the decoded audio to a WAV
 * file: samples there mean RTP arrived and mpg123 decoded it.
 */
function playInVlc(target: string, tag: string): { plays(c: Channel, wire: Sniffer): Promise<void>; stop(): Promise<void> } {
  const wav = join(dir, `vlc-${tag}.wav`);
  const vlc = client.spawn('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', '--',
    'cvlc', '-I', 'dummy', '-vv', '--no-video', '--aout', 'afile', '--audiofile-file', wav, target,
  ], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOME: dir } });
  let log = '';
  vlc.stdout!.setEncoding('utf8').on('data', (d: string) => { log += d; });
  vlc.stderr!.setEncoding('utf8').on('data', (d: string) => { log += d; });
  const exited = new Promise<void>((resolve) => vlc.once('exit', () => resolve()));
  const explain = (err: Error): never => {
    throw new Error(`${err.message}\nVLC:\n${log.slice(-3000)}\nserve:\n${serve?.log.text.slice(-2000)}`);
  };
  return {
    async plays(c, wire) {
      const live = await until(`${c.name} live with VLC as its one listener`, async () => {
        const s = await session(c.group);
        return s?.state === 'live' && s.listeners === 1 ? s : undefined;
      }, 20_000).catch(explain);
      assert.equal(live.lastError, undefined);
      await until(`RTP to ${c.group} on the client's link`, () => wire.of('rtp').length >= 10, 10_000);
      // VLC's SSM join names the headend as the source.
      assert.ok(log.includes(`net: connecting to [${HEAD_ADDR}]:0 from [${c.group}]:5004`), 'VLC joined source-specific');
      await until('VLC decodes MPEG audio with mpg123', () => log.includes('using audio decoder module "mpg123"'), 10_000).catch(explain);
      await until('a second of decoded audio in VLC\'s output file', async () => ((await stat(wav).catch(() => undefined))?.size ?? 0) > 100_000, 10_000).catch(explain);
      assert.equal(vlc.exitCode, null, 'VLC still playing');
      // The station it plays is this channel's: the two icecast servers send different tones.
      const hz = toneHz(await readFile(wav));
      const want = c.url?.startsWith(tone.url) ? TONE_HZ : JAZZ_HZ;
      assert.ok(Math.abs(hz - want) < want * 0.05, `VLC played ${hz.toFixed(0)} Hz, ${c.name} sends ${want} Hz`);
    },
    async stop() {
      vlc.kill('SIGTERM');
      await exited;
    },
  };
}

const m3u = (entries: Array<[name: string, group: string, url: string]>): string =>
  ['#EXTM3U', ...entries.flatMap(([name, g, url]) => [`#EXTINF:-1 tvg-name="${name}" group-title="${g}",${name}`, url])].join('\n') + '\n';

before(async () => {
  if (skip) return;
  lab = new Lab();
  ({ head, client } = await headAndClient(lab) as { head: Netns; client: Netns });
  [tone, jazz] = await Promise.all([
    startIcecast({ inNamespace: head, name: 'Lab Tone', frequency: TONE_HZ }),
    startIcecast({ inNamespace: head, name: 'Lab Jazz', mount: '/jazz.mp3', frequency: JAZZ_HZ }),
  ]);
  dir = await mkdtemp(join(tmpdir(), 'headend-admin-'));
  // VLC runs as nobody and reads the playlist and writes its audio here.
  await chmod(dir, 0o777);
  configFile = join(dir, 'headend.yaml');
  m3uFile = join(dir, 'lab-radio.m3u');
  // JSON is YAML; the admin CLI and the daemon read the same file.
  await writeFile(configFile, JSON.stringify({
    interfaces: ['lan0'],
    database: join(dir, 'headend.db'),
    api: { listen: `127.0.0.1:${API_PORT}` },
    sessions: { lingerMs: 0 },
    ingest: { restartBackoffMs: 100, connectTimeoutMs: 3000 },
  }));
});

after(async () => {
  if (skip) return;
  try {
    const code = await serve?.stop();
    assert.ok(code === undefined || code === 0, `headend serve exited ${code}:\n${serve?.log.text.slice(-3000)}`);
    await Promise.all([tone?.close(), jazz?.close()]);
  } finally {
    await lab.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  }
});

// Filled by the first test, checked by the last.
let before1: Channel[] = [];

test('dir import m3u and radio-browser → channel list shows every station with its ff3e:40:<prefix> group; plan show maps a group back', { skip }, async () => {
  await writeFile(m3uFile, m3u([
    ['Lab Tone', 'Tones', tone.url],
    ['Lab Jazz', 'Jazz', jazz.url],
    ['Lab Tone Again', 'Tones', `${tone.url}?again=1`],
  ]));
  const imported = await ok('dir', 'import', 'm3u', m3uFile);
  assert.match(imported, /"lab-radio" \(m3u\): 3 added, 0 updated, 0 unchanged, 0 missing, 0 skipped; 3 channels/);

  const rbFile = join(dir, 'stations.json');
  await writeFile(rbFile, JSON.stringify([
    { stationuuid: '0a1b2c3d-0000-4000-8000-000000000001', name: 'RB Jazz', url: `${jazz.url}?rb`, url_resolved: jazz.url, tags: 'jazz,lab', countrycode: 'DE', codec: 'MP3', bitrate: 128 },
    { stationuuid: '0a1b2c3d-0000-4000-8000-000000000002', name: 'RB Tone', url: tone.url, url_resolved: '', tags: 'tone', codec: 'MP3', bitrate: 128 },
    { name: 'no uuid', url: tone.url },
  ]));
  const rb = await ok('dir', 'import', 'radio-browser', rbFile, '--name', 'radio-browser');
  assert.match(rb, /"radio-browser" \(radio-browser\): 2 added, .* 1 skipped; 2 channels/);
  assert.match(rb, /skipped 1: no stationuuid/);

  const table = await ok('channel', 'list');
  const list = await channels();
  before1 = list;
  assert.deepEqual(list.map((c) => c.name).sort(), ['Lab Jazz', 'Lab Tone', 'Lab Tone Again', 'RB Jazz', 'RB Tone']);
  assert.equal(new Set(list.map((c) => c.group)).size, 5, 'five distinct groups');
  for (const c of list) {
    assert.match(c.group, PLAN_GROUP, `${c.name}: ${c.group}`);
    // The table an admin reads carries the group on the channel's row.
    assert.match(table, new RegExp(`^${c.id}\\s+${c.group}\\s+-\\s+yes\\s+radio\\s+${c.name}$`, 'm'));
  }
  const rbTone = list.find((c) => c.name === 'RB Tone')!;
  assert.equal(rbTone.url, tone.url, 'url_resolved empty: the url is used');

  for (const c of [list.find((x) => x.name === 'Lab Jazz')!, rbTone]) {
    const shown = JSON.parse(await ok('plan', 'show', c.group)) as { prefix: string; serviceNumber: number; group: string; channel?: { id: number; name: string } };
    assert.equal(shown.prefix, '2001:db8:1::/64');
    assert.equal(shown.group, c.group);
    assert.equal(shown.serviceNumber, c.serviceNumber);
    assert.deepEqual(shown.channel && { id: shown.channel.id, name: shown.channel.name }, { id: c.id, name: c.name });
  }
});

test('export m3u → rtp://[HEAD]@[group]:5004 entries; VLC on the client opens it, its join starts the first channel and RTP decodes; VLC stops → the session stops', { skip }, async () => {
  const playlist = join(dir, 'channels.m3u');
  await ok('export', 'm3u', '-o', playlist);
  const text = await readFile(playlist, 'utf8');
  const list = await channels();
  const entries = [...text.matchAll(/^#EXTINF:-1 [^\n]*,(.*)\n(.*)$/gm)].map((m) => ({ name: m[1]!, uri: m[2]! }));
  assert.equal(text.split('\n')[0], '#EXTM3U');
  assert.deepEqual(entries.map((e) => e.name).sort(), list.map((c) => c.name).sort());
  for (const e of entries) {
    const c = list.find((x) => x.name === e.name)!;
    assert.equal(e.uri, `rtp://[${HEAD_ADDR}]@[${c.group}]:5004`, `${e.name}: VLC's SSM form with the headend as source`);
  }
  const first = list.find((c) => c.name === entries[0]!.name)!;

  serve = await startServe(head, configFile);
  // What players fetch over HTTP is the playlist the CLI exported.
  assert.equal(await head.exec('curl', ['-s', '-m', '3', `http://127.0.0.1:${API_PORT}/channels.m3u`]), text);

  const wire = await Sniffer.start(client, 'eth0', first.group);
  const vlc = playInVlc(playlist, 'first');
  try {
    await vlc.plays(first, wire);
  } finally {
    await vlc.stop();
  }
  await until('the session stops once VLC is gone', async () => (await session(first.group)) === undefined, 10_000);
  const deletion = await until('SAP deletion after the stop', () => wire.of('sap-deletion')[0], 5000);
  // Give a straggler the time to show up on the wire, then none may follow the deletion.
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(wire.of('rtp').filter((e) => e.at > deletion.at + 50), [], 'RTP after the session stopped');
  await wire.close();
});

test('re-import the M3U reordered with one entry dropped → same groups for the same stations, the dropped one marked missing, not renumbered', { skip }, async () => {
  await writeFile(m3uFile, m3u([
    ['Lab Tone Again', 'Tones', `${tone.url}?again=1`],
    ['Lab Tone', 'Tones', tone.url],
  ]));
  const out = await ok('dir', 'import', 'm3u', m3uFile);
  assert.match(out, /"lab-radio" \(m3u\): 0 added, .* 1 missing, 0 skipped/);
  const after1 = await channels();
  const table = await ok('channel', 'list');
  assert.equal(after1.length, before1.length, 'nothing deleted');
  for (const was of before1) {
    const now = after1.find((c) => c.id === was.id);
    assert.ok(now, `${was.name} still there`);
    assert.equal(now.name, was.name);
    assert.equal(now.group, was.group, `${was.name} keeps its group`);
    assert.equal(now.serviceNumber, was.serviceNumber, `${was.name} keeps its service number`);
  }
  const dropped = after1.find((c) => c.name === 'Lab Jazz')!;
  assert.ok(dropped.missingSince, 'the dropped station is marked missing');
  assert.match(table, new RegExp(`^${dropped.id}\\s+${dropped.group}\\s+-\\s+gone\\s+radio\\s+Lab Jazz$`, 'm'));
  assert.deepEqual(after1.filter((c) => c.missingSince).map((c) => c.name), ['Lab Jazz']);
});

test('a station the list brings back keeps its group; one added by a re-sync while the headend runs plays at once from VLC', { skip }, async () => {
  await writeFile(m3uFile, m3u([
    ['Lab Jazz', 'Jazz', jazz.url],
    ['Lab Tone', 'Tones', tone.url],
    ['Lab Jazz Late', 'Jazz', `${jazz.url}?late=1`],
    ['Lab Tone Again', 'Tones', `${tone.url}?again=1`],
  ]));
  const out = await ok('dir', 'import', 'm3u', m3uFile);
  assert.match(out, /"lab-radio" \(m3u\): 1 added, .* 0 missing, 0 skipped; 4 channels/);
  const now = await channels();
  for (const was of before1) assert.equal(now.find((c) => c.id === was.id)?.group, was.group, `${was.name} keeps its group`);
  assert.equal(now.find((c) => c.name === 'Lab Jazz')?.missingSince, undefined, 'back in the list: no longer missing');
  const late = now.find((c) => c.name === 'Lab Jazz Late')!;
  assert.match(late.group, PLAN_GROUP);
  assert.ok(!before1.some((c) => c.group === late.group || c.serviceNumber === late.serviceNumber), 'a new station gets a number no one had');

  // The admin hands VLC the one entry; the running daemon finds it in the store.
  const wire = await Sniffer.start(client, 'eth0', late.group);
  const vlc = playInVlc(`rtp://[${HEAD_ADDR}]@[${late.group}]:5004`, 'late');
  try {
    await vlc.plays(late, wire);
  } finally {
    await vlc.stop();
  }
  await until('the session stops once VLC is gone', async () => (await session(late.group)) === undefined, 10_000);
  await wire.close();
});

test('export m3u --style ffmpeg → rtp://[group]:5004?sources=HEAD entries that ffprobe (the ffmpeg-based players\' demuxer) opens and decodes', { skip }, async () => {
  const text = await ok('export', 'm3u', '--style', 'ffmpeg');
  const c = (await channels()).find((x) => x.name === 'RB Jazz')!;
  const uri = `rtp://[${c.group}]:5004?sources=${HEAD_ADDR}`;
  assert.ok(text.split('\n').includes(uri), `${uri} in\n${text}`);
  const out = await client.exec('ffprobe', ['-v', 'error', '-analyzeduration', '1000000', '-show_entries', 'stream=codec_name,sample_rate', '-of', 'json', uri], { timeoutMs: 20_000 });
  const streams = (JSON.parse(out) as { streams: Array<{ codec_name: string; sample_rate: string }> }).streams;
  assert.deepEqual(streams.map((s) => [s.codec_name, s.sample_rate]), [['mp3', '44100']]);
  await until('the session stops once ffprobe is gone', async () => (await session(c.group)) === undefined, 10_000);
});

test('channel disable → the export leaves it out and a join is refused with the reason; enable → it is back', { skip }, async () => {
  const c = (await channels()).find((x) => x.name === 'RB Tone')!;
  assert.match(await ok('channel', 'disable', c.group), new RegExp(`channel ${c.id} ${c.group} "RB Tone" disabled`));
  assert.ok(!(await ok('export', 'm3u')).includes(c.group), 'a disabled channel is not exported');
  const probe = await Probe.start(client, c.group, 'eth0');
  try {
    await probe.join(HEAD_ADDR);
    const s = await until('the refusal in /status', async () => (await session(c.group))?.refused ? session(c.group) : undefined);
    assert.equal(s?.refused, 'channel "RB Tone" is disabled');
    assert.notEqual(s?.state, 'live');
    await probe.leave();
  } finally {
    await probe.close();
  }
  await ok('channel', 'enable', c.group);
  assert.ok((await ok('export', 'm3u')).includes(`rtp://[${HEAD_ADDR}]@[${c.group}]:5004`), 'enabled again: exported');
});
