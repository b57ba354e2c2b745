/**
 * Zap time: a client joins a group and the first RTP packet reaches it, and
 * where that time goes.
 *
 *   [client ns] eth0 ══ veth ══ lan0 [head ns: headend serve, icecast2 on 127.0.0.1]
 *
 * The source is configured like a common station: icecast2 (Debian 2.4.4)
 * with burst-on-connect, fed a 128 kbps MP3 by ffmpeg at its real rate.
 *
 * - zap_join_to_first_rtp_ms_p50/_p95: the probe host (src/lab/probe.ts)
 *   joins (S,G) on both the RTP and SAP ports; its kernel sends the MLDv2
 *   report; we time from the join call to the first RTP packet its socket
 *   receives. 20 joins, each followed by a leave and a full stop.
 * - the breakdown of each join, from three clocks on one machine: the
 *   daemon's "session start" log line, tcpdump on the head namespace's `lo`
 *   (the headend's connection to icecast: SYN, response headers, first audio
 *   byte) and tcpdump on the client's wire (first RTP):
 *     zap_join_to_session_start_ms_p50   client kernel's report + headend hears it
 *     zap_session_to_source_syn_ms_p50   session start to the TCP SYN to the station
 *     zap_source_headers_ms_p50          SYN to icecast's response headers
 *     zap_source_first_byte_ms_p50       SYN to icecast's first audio byte (the station's share)
 *     zap_first_byte_to_rtp_ms_p50       that byte to the first RTP on the client's wire
 *     zap_headend_overhead_ms_p50        per join: the zap minus the station's share
 * - zap_ffmpeg_direct_ms_p50: the baseline, in the same run, used for
 *   zap_vs_direct_ratio: with the probe already joined to another group,
 *   ffmpeg is started by hand in the head namespace on the same URL, told the
 *   input format and not to probe (`-f mp3 -probesize 32 -analyzeduration 0
 *   -fflags nobuffer -i URL -c copy -f rtp rtp://[group]:5004?...`), timed
 *   from its spawn to the first RTP packet at the client; its own source
 *   share is zap_ffmpeg_direct_source_first_byte_ms_p50.
 *   zap_ffmpeg_direct_probing_ms_p50: the same as a person types it, without
 *   the format (ffmpeg then probes several seconds of a live stream).
 * - zap_cold_join_to_first_rtp_ms, zap_cold_session_to_source_syn_ms: the
 *   first join after the daemon started (it pays one-time costs such as
 *   undici compiling its HTTP parser), kept apart; the medians include it.
 * - leave_to_last_rtp_ms_p50: linger 0 and immediate leave (the defaults),
 *   from the leave call to the last RTP packet seen on the client's wire
 *   (tcpdump, which sees the packets after the socket left); 0 when the
 *   last packet came before the leave.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, canUseNetns } from '../test/helpers/netns.js';
import { startIcecast } from '../test/helpers/icecast.js';
import { HEAD_ADDR, headAndClient, now, Probe, Sniffer, startServe, TcpSniffer, until } from '../src/lab/parts.js';

const HEAD = HEAD_ADDR;
const GROUP = 'ff3e:40:2001:db8:1:0:8000:1';
const DIRECT = 'ff3e:40:2001:db8:1:0:8000:77';
const JOINS = 20;
const DIRECT_RUNS = 10;
/** ffmpeg probing a live stream takes seconds a run; a few runs show it. */
const PROBING_RUNS = 3;

const quantile = (xs: number[], q: number): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]! * 10) / 10;
};
const p50 = (xs: number[]): number | null => quantile(xs, 0.5);

/** One figure per join; a part the capture missed is left out of its median. */
class Parts {
  readonly by = new Map<string, number[]>();
  readonly first = new Map<string, number>();
  add(key: string, v: number | undefined): void {
    if (v === undefined || !Number.isFinite(v)) return;
    if (!this.by.has(key)) this.first.set(key, Math.round(v * 10) / 10);
    if (!this.by.has(key)) this.by.set(key, []);
    this.by.get(key)!.push(v);
  }
  p50(key: string): number | null {
    return p50(this.by.get(key) ?? []);
  }
}

export async function run(): Promise<Record<string, number | string | null>> {
  if (!canUseNetns()) return { zap_skipped: 'needs root and iproute2' };
  const lab = new Lab();
  const dir = await mkdtemp(join(tmpdir(), 'headend-zap-'));
  let ice: Awaited<ReturnType<typeof startIcecast>> | undefined;
  try {
    const { head, client } = await headAndClient(lab);
    ice = await startIcecast({ inNamespace: head });
    const config = {
      interfaces: ['lan0'],
      database: join(dir, 'headend.db'),
      api: { listen: '127.0.0.1:18081' },
      log: { level: 'info' },
      sessions: { lingerMs: 0, maxStartsPerMinute: 1000 },
      membership: { immediateLeave: true },
      channels: [{ group: GROUP, name: 'Tone', url: ice.url }],
    };
    await writeFile(join(dir, 'headend.json'), JSON.stringify(config));
    const serve = await startServe(head, join(dir, 'headend.json'));
    const probe = await Probe.start(client, GROUP, 'eth0');
    const wire = await Sniffer.start(client, 'eth0', GROUP);
    const source = await TcpSniffer.start(head, 'lo', ice.port);

    const zaps: number[] = [];
    const leaves: number[] = [];
    const parts = new Parts();
    const logsOf = (re: RegExp, after: number) => serve.log.filter((l) => l.group === GROUP && re.test(l.msg ?? ''), after);
    for (let i = 0; i < JOINS; i++) {
      const mark = probe.log.mark();
      const logMark = serve.log.mark();
      const wireMark = wire.mark();
      const joinedAt = await probe.join(HEAD);
      const first = await probe.log.waitFor('first RTP', (e) => e.ev === 'rtp', { after: mark, timeoutMs: 10_000 });
      const zap = first.at! - joinedAt;
      zaps.push(zap);
      // Listen a little, as a zapping viewer would, then leave.
      await new Promise((r) => setTimeout(r, 300));
      const sessionAt = logsOf(/^session start/, logMark)[0]?.time;
      const conn = source.openedAfter(joinedAt);
      const rtpOnWire = wire.of('rtp', wireMark)[0]?.at;
      const sourceShare = conn?.secondData !== undefined ? conn.secondData - conn.syn : undefined;
      parts.add('join_to_session_start', sessionAt !== undefined ? sessionAt - joinedAt : undefined);
      parts.add('session_to_source_syn', conn && sessionAt !== undefined ? conn.syn - sessionAt : undefined);
      parts.add('source_headers', conn?.firstData !== undefined ? conn.firstData - conn.syn : undefined);
      parts.add('source_first_byte', sourceShare);
      parts.add('first_byte_to_rtp', conn?.secondData !== undefined && rtpOnWire !== undefined ? rtpOnWire - conn.secondData : undefined);
      parts.add('headend_overhead', sourceShare !== undefined ? zap - sourceShare : undefined);

      const stopped = logsOf(/^session stop/, 0).length;
      const leftAt = await probe.leave();
      await until('the session to stop', () => logsOf(/^session stop/, 0).length > stopped, 10_000);
      await until('the wire to go quiet', () => {
        const last = wire.of('rtp').at(-1);
        return !last || now() - last.at > 300;
      }, 10_000);
      const last = wire.of('rtp').at(-1)!;
      leaves.push(Math.max(0, last.at - leftAt));
    }
    await serve.stop();

    // Baseline: ffmpeg by hand, same source, same network, same run; told the
    // format and not to probe (as the headend runs it), and as a person types it.
    const directProbe = await Probe.start(client, DIRECT, 'eth0');
    await directProbe.join(HEAD);
    const directSource: number[] = [];
    const byHand = async (inputArgs: string[]): Promise<number> => {
      const mark = directProbe.log.mark();
      const startedAt = now();
      const ff = head.spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', ...inputArgs, '-i', ice!.url, '-map', '0:a', '-c', 'copy',
        '-f', 'rtp', `rtp://[${DIRECT}]:5004?ttl=1&localaddr=${HEAD}&pkt_size=1316`], { stdio: ['ignore', 'ignore', 'pipe'] });
      const first = await directProbe.log.waitFor('first RTP (direct)', (e) => e.ev === 'rtp', { after: mark, timeoutMs: 15_000 });
      await new Promise<void>((resolve) => { ff.once('exit', () => resolve()); ff.kill('SIGTERM'); });
      await until('the direct stream to stop', () => {
        const last = directProbe.rtp(mark).at(-1);
        return !last || now() - last.at > 200;
      });
      const conn = source.openedAfter(startedAt);
      if (inputArgs.length > 0 && conn?.secondData !== undefined) directSource.push(conn.secondData - conn.syn);
      return first.at! - startedAt;
    };
    const told: number[] = [];
    const probing: number[] = [];
    for (let i = 0; i < DIRECT_RUNS; i++) told.push(await byHand(['-f', 'mp3', '-probesize', '32', '-analyzeduration', '0', '-fflags', 'nobuffer']));
    for (let i = 0; i < PROBING_RUNS; i++) probing.push(await byHand([]));
    await Promise.all([probe.close(), directProbe.close(), wire.close(), source.close()]);

    const zap50 = p50(zaps);
    const base = p50(told);
    return {
      zap_join_to_first_rtp_ms_p50: zap50,
      zap_join_to_first_rtp_ms_p95: quantile(zaps, 0.95),
      zap_join_to_session_start_ms_p50: parts.p50('join_to_session_start'),
      zap_session_to_source_syn_ms_p50: parts.p50('session_to_source_syn'),
      zap_source_headers_ms_p50: parts.p50('source_headers'),
      zap_source_first_byte_ms_p50: parts.p50('source_first_byte'),
      zap_first_byte_to_rtp_ms_p50: parts.p50('first_byte_to_rtp'),
      zap_headend_overhead_ms_p50: parts.p50('headend_overhead'),
      zap_headend_overhead_ms_p95: quantile(parts.by.get('headend_overhead') ?? [], 0.95),
      zap_cold_join_to_first_rtp_ms: zaps[0] !== undefined ? Math.round(zaps[0] * 10) / 10 : null,
      zap_cold_session_to_source_syn_ms: parts.first.get('session_to_source_syn') ?? null,
      zap_ffmpeg_direct_ms_p50: base,
      zap_ffmpeg_direct_source_first_byte_ms_p50: p50(directSource),
      zap_ffmpeg_direct_probing_ms_p50: p50(probing),
      zap_vs_direct_ratio: zap50 !== null && base ? Math.round((zap50 / base) * 100) / 100 : null,
      leave_to_last_rtp_ms_p50: p50(leaves),
      zap_joins: zaps.length,
    };
  } finally {
    await ice?.close();
    await lab.close();
    await rm(dir, { recursive: true, force: true });
  }
}
