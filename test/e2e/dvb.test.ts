// The DVB tuner pool for real, with dvblast's UDP input standing in for a
// card: ffmpeg's three-service TS is one carrier. Two services share one
// dvblast; adding one never costs the other a packet; the last release
// ends dvblast; a second carrier waits for the only tuner; dvblast killed
// with SIGKILL comes back with its outputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canUseNetns } from '../helpers/netns.js';
import { buildSdp, PT_MP2T } from '../../src/announce/sdp.js';
import { NoFreeTunerError, type AcquireRequest } from '../../src/ingest/dvb/pool.js';
import { CARRIER_X, CARRIER_Y, PROVIDER, RtpListener, SERVICES, pidAlive, startTsSource, waitFor, withDvbLab } from '../ingest/dvb/lab.js';

const GROUP_A = 'ff3e:40:2001:db8:1:0:8001:3e9';
const GROUP_B = 'ff3e:40:2001:db8:1:0:8001:3ea';
const GROUP_C = 'ff3e:40:2001:db8:1:0:8002:3eb';
const TS_PORT = 41234;

test('two services share one dvblast on demand; reloads lose no packet; one tuner serves one carrier; dvblast killed comes back',
  { skip: !canUseNetns() && 'needs root and iproute2' }, () => withDvbLab(
    { lockTimeoutMs: 4000, adapters: [{ name: 'lab0', kind: 'udp', input: `127.0.0.1:${TS_PORT}/udp` }] },
    { backoff: { initialMs: 100 } },
    async ({ hd, cl, pool, output, runDir }) => {
      const source = startTsSource(hd, TS_PORT);
      const req = (group: string, serviceId: number, tuning = CARRIER_X): AcquireRequest => ({ group, serviceId, tuning, output });
      const rx = await RtpListener.start(cl, 'eth0', 5004, [GROUP_A, GROUP_B]);

      // Join A: the tuner is taken, dvblast outputs A as RTP.
      const a = await pool.acquire(req(GROUP_A, SERVICES.alpha.serviceId));
      const pid = pool.pidOf('11362000H');
      assert.ok(pid && pidAlive(pid), 'dvblast runs');
      await rx.until(() => rx.count(GROUP_A) >= 20, 5000, 'RTP of A at the client');
      assert.equal(rx.count(GROUP_B), 0, 'B is not sent before it is asked for');

      // The SDT names the service; an SDP with PT 33 lets ffprobe at the client decode it.
      const names = await pool.sdt(a);
      assert.deepEqual(names, { name: SERVICES.alpha.name, provider: PROVIDER });
      const sdpFile = join(runDir, 'a.sdp');
      writeFileSync(sdpFile, buildSdp({ group: GROUP_A, port: 5004, rtcpPort: 5005, payloadType: PT_MP2T, name: names!.name, info: names!.provider,
        sessionId: 1, sessionVersion: 1, originAddress: '2001:db8::1', tool: 'dvb-e2e' }));
      const probe = JSON.parse(await cl.exec('ffprobe', ['-v', 'error', '-protocol_whitelist', 'file,udp,rtp', '-show_streams', '-of', 'json', sdpFile], { timeoutMs: 15_000 })) as { streams: Array<{ codec_name: string }> };
      assert.deepEqual(probe.streams.map((s) => s.codec_name).sort(), ['mp2', 'mpeg2video']);

      // Join B on the same carrier: the same dvblast serves both, A loses nothing during the reload.
      const beforeB = rx.count(GROUP_A);
      const b = await pool.acquire(req(GROUP_B, SERVICES.beta.serviceId));
      assert.equal(pool.pidOf('11362000H'), pid, 'the same dvblast process serves B');
      await rx.until(() => rx.count(GROUP_B) >= 20 && rx.count(GROUP_A) >= beforeB + 20, 5000, 'RTP of B, and A still flowing');
      assert.equal(rx.lost(GROUP_A, Math.max(0, beforeB - 5)), 0, 'no RTP sequence gap on A across the reload that added B');
      const st = pool.status();
      assert.equal(st.carriers.length, 1);
      assert.equal(st.carriers[0]!.lock, 'locked');
      assert.deepEqual(st.carriers[0]!.services.map((s) => s.serviceId).sort(), [1001, 1002]);

      // A second carrier while the only tuner is busy: refused, by name.
      await assert.rejects(pool.acquire(req(GROUP_C, SERVICES.gamma.serviceId, CARRIER_Y)), (e: unknown) =>
        e instanceof NoFreeTunerError && /no free tuner for 11494000H/.test(e.message));

      // Leave A: B keeps playing with no gap, A stops.
      const beforeRelease = rx.count(GROUP_B);
      await pool.release(a);
      const aStopped = rx.count(GROUP_A);
      await rx.until(() => rx.count(GROUP_B) >= beforeRelease + 30, 5000, 'B still flowing after A left');
      assert.ok(rx.count(GROUP_A) - aStopped <= 2, 'A stopped with its release');
      assert.equal(rx.lost(GROUP_B, Math.max(0, beforeRelease - 5)), 0, 'no gap on B across the reload that removed A');
      assert.equal(pool.pidOf('11362000H'), pid);

      // dvblast killed: the supervisor restarts it and B's output returns.
      process.kill(pid!, 'SIGKILL');
      await waitFor(() => { const p = pool.pidOf('11362000H'); return p !== undefined && p !== pid; }, 5000, 'a new dvblast');
      const afterKill = rx.count(GROUP_B);
      await rx.until(() => rx.count(GROUP_B) >= afterKill + 20, 8000, 'B back after dvblast was killed');
      assert.ok(pool.status().errors.some((e) => /died \(signal SIGKILL\)/.test(e.message)), 'the death is in the status');
      const pid2 = pool.pidOf('11362000H')!;

      // Leave B: dvblast exits, the tuner is free, and the other carrier can now be tuned.
      await pool.release(b);
      assert.equal(pidAlive(pid2), false, 'dvblast exited with the last release');
      assert.deepEqual(pool.status().tuners, [{ name: 'lab0', kind: 'udp', state: 'free' }]);
      const c = await pool.acquire(req(GROUP_C, SERVICES.gamma.serviceId, CARRIER_Y));
      assert.equal(pool.status().carriers[0]!.carrier, '11494000H');
      await pool.release(c);
      rx.stop();
      source.kill('SIGTERM');
    }));
