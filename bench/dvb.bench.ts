/**
 * DVB tuner pool figures, with dvblast's UDP input as the carrier (the lab of
 * test/e2e/dvb.test.ts: headend and client namespaces on a veth pair).
 *
 *   dvb_join_to_first_rtp_ms_p50 / _p95: acquire() of a service on a carrier
 *     that is already tuned (a config rewrite and `dvblastctl reload`) until
 *     its first RTP packet reaches a socket at the client. 20 runs. Target < 150.
 *   dvb_acquire_reload_ms_p50: of that, the acquire() call itself (config
 *     rewrite, dvblastctl reload) before dvblast outputs anything.
 *   dvb_reload_lost_packets: RTP sequence numbers missing on the service that
 *     stays on air, across those 20 adds and 20 removes. Target 0.
 */
import { canUseNetns } from '../test/helpers/netns.js';
import { CARRIER_X, RtpListener, SERVICES, startTsSource, withDvbLab } from '../test/ingest/dvb/lab.js';

const RUNS = 20;
const STAYS = 'ff3e:40:2001:db8:1:0:8001:3e9';
const JOINS = 'ff3e:40:2001:db8:1:0:8001:3ea';
const tuning = CARRIER_X;

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

const wallNow = (): number => performance.timeOrigin + performance.now();

export async function run(): Promise<Record<string, number | string | null>> {
  if (!canUseNetns()) return { dvb_join_to_first_rtp_ms_p50: null, dvb_reload_lost_packets: null, dvb_note: 'needs root for namespaces' };
  return withDvbLab({ adapters: [{ name: 'lab0', kind: 'udp', input: '127.0.0.1:41400/udp' }] }, {}, async ({ hd, cl, pool, output }) => {
    startTsSource(hd, 41400);
    const rx = await RtpListener.start(cl, 'eth0', 5004, [STAYS, JOINS]);

    await pool.acquire({ group: STAYS, serviceId: SERVICES.alpha.serviceId, tuning, output });
    await rx.until(() => rx.count(STAYS) >= 20, 5000, 'the staying service on air');
    const from = rx.count(STAYS);

    const joins: number[] = [];
    const acquires: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const before = rx.count(JOINS);
      const t0 = wallNow();
      const h = await pool.acquire({ group: JOINS, serviceId: SERVICES.beta.serviceId, tuning, output });
      acquires.push(wallNow() - t0);
      await rx.until(() => rx.count(JOINS) > before, 5000, `first RTP packet of run ${i}`);
      joins.push(rx.packets.get(JOINS)![before]!.at - t0);
      await pool.release(h);
      // Let the packets already in flight land before the next join counts.
      await new Promise((r) => setTimeout(r, 150));
    }
    await rx.until(() => rx.count(STAYS) >= from + 20, 5000, 'the staying service still on air');
    const lost = rx.lost(STAYS, from);
    rx.stop();
    return {
      dvb_join_to_first_rtp_ms_p50: Math.round(percentile(joins, 50) * 10) / 10,
      dvb_join_to_first_rtp_ms_p95: Math.round(percentile(joins, 95) * 10) / 10,
      dvb_acquire_reload_ms_p50: Math.round(percentile(acquires, 50) * 10) / 10,
      dvb_reload_lost_packets: lost,
      dvb_reloads: RUNS * 2,
    };
  });
}
