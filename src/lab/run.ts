/**
 * `headend lab`: the whole product on one machine, for a newcomer and as our
 * end-to-end harness.
 *
 *   [client ns] eth0 ══ veth ══ lan0 [headend ns: headend serve, icecast2 on 127.0.0.1 fed a tone by ffmpeg]
 *
 * The client runs `ffprobe sap://[group]:9875` (reading ~6 s of packets): its
 * kernel joins the group, the headend hears the MLDv2 report, resolves the
 * icecast mount, starts ffmpeg, sends RTP and SAP; ffprobe reads the SDP from
 * SAP, decodes the stream and reports the codec. Meanwhile the lab changes the
 * ICY title at icecast and watches the new SAP announcement reach the client.
 * When ffprobe exits the kernel leaves the group, and the lab watches the RTP
 * stop and the SAP deletion go by. Timings come from three clocks on one
 * machine (all epoch ms): the client wire (tcpdump), the headend's log lines,
 * and this process.
 */
import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { CLIENT_ADDR, HEAD_ADDR, headAndClient, now, Sniffer, startServe, TcpSniffer, until, type LabLike, type NsLike, type ServeProcess } from './parts.js';

/** What the lab needs of a source server (icecast.ts `startIcecast`). */
export interface IcecastLike {
  readonly url: string;
  setTitle(title: string): Promise<void>;
  close(): Promise<void>;
}
export type StartIcecast = (opts: { inNamespace: NsLike; name?: string }) => Promise<IcecastLike>;

export interface LabOptions {
  lab: LabLike;
  startIcecast: StartIcecast;
  /** A line for a person, as things happen. */
  say: (line: string) => void;
  /** Keep everything running after the run until this promise resolves (`--keep`). */
  keepUntil?: () => Promise<void>;
  group?: string;
  /** How long the client reads packets (ms); the title change happens meanwhile. */
  listenMs?: number;
  apiPort?: number;
}

export type LabFigures = Record<string, number | string | null>;

export const LAB_GROUP = 'ff3e:40:2001:db8:1:0:8000:1';

/** The config the lab's headend runs with; config/lab.yaml is the commented version of it. */
export function labConfig(dir: string, url: string, group: string, apiPort: number): Record<string, unknown> {
  return {
    interfaces: ['lan0'],
    database: join(dir, 'headend.db'),
    api: { listen: `127.0.0.1:${apiPort}` },
    // ffmpeg's sap demuxer (ffprobe/ffplay sap://) joins the SAP port any-source,
    // which RFC 4604 tells a router to ignore for an SSM group; the lab lets
    // such joins count. The RTP itself is joined source-specific (a=source-filter).
    membership: { ssmRanges: [] },
    sessions: { lingerMs: 0 },
    announce: { intervalMs: 1000 },
    channels: [{ group, name: 'Lab Tone', url }],
  };
}

export async function runLab(opts: LabOptions): Promise<LabFigures> {
  const { lab, say } = opts;
  const group = opts.group ?? LAB_GROUP;
  const apiPort = opts.apiPort ?? 8080;
  const figures: LabFigures = { group };
  let dir: string | undefined;
  let ice: IcecastLike | undefined;
  let serve: ServeProcess | undefined;
  let wire: Sniffer | undefined;
  let station: TcpSniffer | undefined;
  const t = (at: number | undefined, t0: number): number | null => (at === undefined ? null : Math.round(at - t0));

  try {
    const started = now();
    const { head, client } = await headAndClient(lab, { head: 'headend', client: 'client' });
    say(`namespaces: ${head.name} (lan0 ${HEAD_ADDR}) <-veth-> ${client.name} (eth0 ${CLIENT_ADDR})`);

    ice = await opts.startIcecast({ inNamespace: head, name: 'Lab Tone' });
    say(`icecast2 inside ${head.name}: ${ice.url} (ffmpeg feeds it a 440 Hz tone)`);

    dir = await mkdtemp(join(tmpdir(), 'headend-lab-'));
    // Ctrl-C: the namespace harness kills every process and namespace and exits; the files go here.
    const tmp = dir;
    process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));
    const configFile = join(dir, 'headend.yaml');
    await writeFile(configFile, stringify(labConfig(dir, ice.url, group, apiPort)));
    serve = await startServe(head, configFile);
    say(`headend serve --config ${configFile} is up in ${head.name} (API http://127.0.0.1:${apiPort} there)`);
    figures.setup_ms = Math.round(now() - started);

    wire = await Sniffer.start(client, 'eth0', group);
    // The headend's connection to icecast, seen where both run: when the
    // station answers is most of a zap (icecast.ts says why).
    station = await TcpSniffer.start(head, 'lo', Number(new URL(ice.url).port));
    const log = serve.log;
    const logAt = (pred: (l: { msg?: string; group?: string; room?: string }) => boolean, after = 0): number | undefined =>
      log.find((l) => l.group === group && pred(l as { msg?: string }), after)?.time;

    // ---- join: the client's kernel sends the MLDv2 report when ffprobe opens sap://
    const listenS = Math.round((opts.listenMs ?? 6000) / 1000);
    const t0 = now();
    const ffprobe = client.spawn('ffprobe', [
      '-v', 'error', '-of', 'json', '-show_entries', 'stream=codec_name,sample_rate,channels,bit_rate:packet=pts_time',
      '-read_intervals', `%+${listenS}`, `sap://[${group}]:9875`,
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    let probeOut = '';
    let probeErr = '';
    ffprobe.stdout!.on('data', (d: Buffer) => { probeOut += d.toString(); });
    ffprobe.stderr!.on('data', (d: Buffer) => { probeErr += d.toString(); });
    const probeExit = new Promise<number | null>((resolve) => ffprobe.once('exit', (code) => resolve(code)));
    say(`+0 ms      client: ffprobe sap://[${group}]:9875 (joins the group)`);

    await until('the headend to hear the join', () => logAt((l) => l.msg === 'group active'), 10_000);
    const heard = logAt((l) => l.msg === 'group active')!;
    figures.join_heard_ms = t(heard, t0);
    say(`+${t(heard, t0)} ms  headend: MLDv2 join heard on lan0`);
    const start = await until('the session to start', () => logAt((l) => /^session start/.test(l.msg ?? '')), 10_000);
    figures.session_start_ms = t(start, t0);
    say(`+${t(start, t0)} ms  headend: session start (resolve ${ice.url}, spawn ffmpeg)`);
    const live = await until('the first RTP to leave', () => logAt((l) => /^session live/.test(l.msg ?? '')), 15_000);
    const conn = await until('the station to answer', () => station!.conns.find((c) => c.syn >= t0 && c.secondData !== undefined), 10_000);
    figures.source_connect_ms = t(conn.syn, t0);
    figures.source_headers_ms = t(conn.firstData, t0);
    figures.source_first_byte_ms = t(conn.secondData, t0);
    say(`+${t(conn.syn, t0)} ms  headend: connects to the station (TCP SYN)`);
    say(`+${t(conn.firstData, t0)} ms  icecast: response headers`);
    say(`+${t(conn.secondData, t0)} ms  icecast: first audio byte (${Math.round(conn.secondData! - conn.syn)} ms after the connect)`);
    figures.first_rtp_sent_ms = t(live, t0);
    say(`+${t(live, t0)} ms  headend: first RTP packet left ffmpeg (session live)`);
    const sap = await until('SAP at the client', () => wire!.of('sap')[0], 10_000);
    figures.sap_seen_ms = t(sap.at, t0);
    say(`+${t(sap.at, t0)} ms  client: SAP announcement seen (hash ${sap.hash})`);
    const rtp = await until('RTP at the client', () => wire!.of('rtp')[0], 10_000);
    figures.first_rtp_ms = t(rtp.at, t0);
    say(`+${t(rtp.at, t0)} ms  client: first RTP packet`);

    // ---- title change at the source → new SAP (new hash, i= the title)
    const title = `Lab Artist - Title ${new Date().toISOString().slice(11, 19)}`;
    const titleAt = now();
    await ice.setTitle(title);
    const retitled = await until('the new title in a SAP announcement', () => wire!.of('sap').find((e) => e.at >= titleAt && e.sdp?.includes(`i=${title}`)), 10_000);
    figures.title_to_sap_ms = Math.round(retitled.at - titleAt);
    figures.title_change_ms = t(titleAt, t0);
    say(`+${t(titleAt, t0)} ms  icecast: ICY title set to "${title}"`);
    say(`+${t(retitled.at, t0)} ms  client: new SAP announcement with i=${title} (hash ${retitled.hash}, ${figures.title_to_sap_ms} ms after the change)`);

    // ---- ffprobe decodes, exits: the kernel leaves the group
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([probeExit, new Promise<'timeout'>((r) => { timer = setTimeout(() => r('timeout'), listenS * 1000 + 20_000); })]);
    clearTimeout(timer);
    if (code === 'timeout') throw new Error(`ffprobe did not finish: ${probeErr.trim()}`);
    const leftAt = now();
    if (code !== 0) throw new Error(`ffprobe exited ${code}: ${probeErr.trim()}`);
    const parsed = JSON.parse(probeOut) as { streams?: Array<Record<string, string | number>>; packets?: unknown[] };
    const stream = parsed.streams?.[0];
    figures.decoded_codec = stream ? String(stream.codec_name) : null;
    figures.decoded_sample_rate = stream?.sample_rate ? Number(stream.sample_rate) : null;
    figures.decoded_channels = stream?.channels ? Number(stream.channels) : null;
    figures.decoded_packets = parsed.packets?.length ?? 0;
    figures.leave_ms = t(leftAt, t0);
    say(`+${t(leftAt, t0)} ms  client: ffprobe decoded ${figures.decoded_codec} ${figures.decoded_sample_rate} Hz ${figures.decoded_channels} ch (${figures.decoded_packets} packets) and exited (leaves the group)`);

    const stop = await until('the session to stop', () => logAt((l) => /^session stop/.test(l.msg ?? '')), 10_000);
    // The leave that stopped it: the last "group idle" (ffprobe held an any-source
    // and a source-specific membership; the last of them to go counts).
    const idle = log.filter((l) => l.group === group && l.msg === 'group idle' && (l.time ?? 0) <= stop).at(-1)?.time ?? stop;
    figures.leave_heard_ms = t(idle, t0);
    say(`+${t(idle, t0)} ms  headend: leave heard`);
    figures.session_stop_ms = t(stop, t0);
    say(`+${t(stop, t0)} ms  headend: session stop (SAP deletion, ffmpeg SIGTERM)`);
    const deletion = await until('the SAP deletion at the client', () => wire!.of('sap-deletion')[0], 10_000);
    figures.sap_deletion_ms = t(deletion.at, t0);
    say(`+${t(deletion.at, t0)} ms  client: SAP deletion seen (hash ${deletion.hash})`);
    // The RTP has stopped once nothing came for a while.
    await until('the RTP to stop', () => {
      const last = wire!.of('rtp').at(-1);
      return last && now() - last.at > 500 ? last : undefined;
    }, 10_000);
    const lastRtp = wire.of('rtp').at(-1)!;
    figures.last_rtp_ms = t(lastRtp.at, t0);
    // Packets come every ~80 ms: a last packet before the leave was heard means none after it (0).
    figures.leave_to_last_rtp_ms = Math.max(0, Math.round(lastRtp.at - idle));
    figures.rtp_packets = wire.of('rtp').length;
    say(`+${t(lastRtp.at, t0)} ms  client: last RTP packet (${figures.leave_to_last_rtp_ms} ms after the leave was heard; ${figures.rtp_packets} packets in all)`);
    figures.ok = 'yes';

    if (opts.keepUntil) {
      say(`--keep: everything stays up. Try: ip netns exec ${client.name} ffplay sap://[${group}]:9875`);
      say(`        status: ip netns exec ${head.name} curl -s http://127.0.0.1:${apiPort}/status ; Ctrl-C ends the lab`);
      await opts.keepUntil();
    }
    return figures;
  } catch (err) {
    figures.ok = 'no';
    figures.error = (err as Error).message;
    if (serve) say(`headend log (last lines):\n${serve.log.text.split('\n').slice(-15).join('\n')}`);
    throw Object.assign(err as Error, { figures });
  } finally {
    await wire?.close().catch(() => undefined);
    await station?.close().catch(() => undefined);
    const code = await serve?.stop().catch(() => null);
    if (serve && code !== 0) say(`headend serve exited with ${code}`);
    await ice?.close().catch(() => undefined);
    await lab.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    say('cleaned up (namespaces, processes, temp files)');
  }
}
