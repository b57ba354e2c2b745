/**
 * Zap time: a client joins a group and the first RTP packet reaches it.
 *
 *   [client ns] eth0 ══ veth ══ lan0 [head ns: headend serve, icecast2 on 127.0.0.1]
 *
 * - zap_join_to_first_rtp_ms_p50/_p95: the probe host (src/lab/probe.ts)
 *   joins (S,G) on both the RTP and SAP ports; its kernel sends the MLDv2
 *   report; we time from the join call to the first RTP packet its socket
 *   receives. 20 joins, each followed by a leave and a full stop.
 * - zap_ffmpeg_direct_ms_p50: the baseline, in the same run: with the probe
 *   already joined to another group, ffmpeg is started by hand in the head
 *   namespace the way a person would (`ffmpeg -i URL -map 0:a -c copy -f rtp
 *   rtp://[group]:5004?localaddr=...`), timed from its spawn to the first RTP
 *   packet at the client. zap_ffmpeg_direct_tuned_ms_p50: the same with the
 *   input format named and probing off (`-f mp3 -probesize 32 ...`), which
 *   separates ffmpeg's probing from the source's own answer time.
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
import { HEAD_ADDR, headAndClient, now, Probe, Sniffer, startServe, until } from '../src/lab/parts.js';

const HEAD = HEAD_ADDR;
const GROUP = 'ff3e:40:2001:db8:1:0:8000:1';
const DIRECT = 'ff3e:40:2001:db8:1:0:8000:77';
const JOINS = 20;
const DIRECT_RUNS = 5;

const quantile = (xs: number[], q: number): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]! * 10) / 10;
};

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

    const zaps: number[] = [];
    const leaves: number[] = [];
    const stops = () => serve.log.filter((l) => l.group === GROUP && /^session stop/.test(l.msg ?? '')).length;
    for (let i = 0; i < JOINS; i++) {
      const mark = probe.log.mark();
      const joinedAt = await probe.join(HEAD);
      const first = await probe.log.waitFor('first RTP', (e) => e.ev === 'rtp', { after: mark, timeoutMs: 10_000 });
      zaps.push(first.at! - joinedAt);
      // Listen a little, as a zapping viewer would, then leave.
      await new Promise((r) => setTimeout(r, 300));
      const stopped = stops();
      const leftAt = await probe.leave();
      await until('the session to stop', () => stops() > stopped, 10_000);
      await until('the wire to go quiet', () => {
        const last = wire.of('rtp').at(-1);
        return !last || now() - last.at > 300;
      }, 10_000);
      const last = wire.of('rtp').at(-1)!;
      leaves.push(Math.max(0, last.at - leftAt));
    }
    await serve.stop();

    // Baseline: ffmpeg by hand, same source, same network, same run; once as a
    // person types it, once told the format and not to probe (as we run it).
    const directProbe = await Probe.start(client, DIRECT, 'eth0');
    await directProbe.join(HEAD);
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
      return first.at! - startedAt;
    };
    const direct: number[] = [];
    const tuned: number[] = [];
    for (let i = 0; i < DIRECT_RUNS; i++) {
      direct.push(await byHand([]));
      tuned.push(await byHand(['-f', 'mp3', '-probesize', '32', '-analyzeduration', '0', '-fflags', 'nobuffer']));
    }
    await Promise.all([probe.close(), directProbe.close(), wire.close()]);

    const p50 = quantile(zaps, 0.5);
    const base = quantile(direct, 0.5);
    return {
      zap_join_to_first_rtp_ms_p50: p50,
      zap_join_to_first_rtp_ms_p95: quantile(zaps, 0.95),
      zap_ffmpeg_direct_ms_p50: base,
      zap_vs_direct_ratio: p50 !== null && base ? Math.round((p50 / base) * 100) / 100 : null,
      zap_ffmpeg_direct_tuned_ms_p50: quantile(tuned, 0.5),
      leave_to_last_rtp_ms_p50: quantile(leaves, 0.5),
      zap_joins: zaps.length,
    };
  } finally {
    await ice?.close();
    await lab.close();
    await rm(dir, { recursive: true, force: true });
  }
}
