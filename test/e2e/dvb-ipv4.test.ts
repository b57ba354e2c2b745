// IPv4 groups from the DVB pool. dvblast connects its output socket, so an
// IPv4 group needs a route (`ip route add 224.0.0.0/4 dev IF` where there is
// no default route); without one the status says why nothing is sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, canUseNetns } from '../helpers/netns.js';
import { buildConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { TunerPool } from '../../src/ingest/dvb/pool.js';
import type { DvbTuning } from '../../src/ingest/dvb/carrier.js';
import { RtpListener, SERVICES, ifindex, startTsSource, waitFor } from '../ingest/dvb/lab.js';

const tuning: DvbTuning = { frequencyKhz: 11362000, polarisation: 'H', symbolRate: 22000000, system: 'DVBS2', fec: '2/3', modulation: 'PSK_8' };

test('an IPv4 group: no route is a clear status error; with a multicast route RTP flows', { skip: !canUseNetns() && 'needs root and iproute2' }, async () => {
  const lab = new Lab();
  const runDir = mkdtempSync(join(tmpdir(), 'dvb-v4-'));
  let pool: TunerPool | undefined;
  try {
    const hd = await lab.netns('hd');
    const cl = await lab.netns('cl');
    await lab.veth(hd, 'lan0', cl, 'eth0');
    await hd.exec('ip', ['addr', 'add', '192.0.2.1/24', 'dev', 'lan0']);
    await cl.exec('ip', ['addr', 'add', '192.0.2.2/24', 'dev', 'eth0']);
    await cl.exec('ip', ['route', 'add', '224.0.0.0/4', 'dev', 'eth0']);
    startTsSource(hd, 41500);
    const config = buildConfig({ dvb: { runDir, adapters: [{ name: 'lab0', kind: 'udp', input: '127.0.0.1:41500/udp' }] } }).dvb;
    pool = new TunerPool({ config, logger: silentLogger, commandPrefix: ['ip', 'netns', 'exec', hd.name] });
    const output = { iface: 'lan0', ifindex: await ifindex(hd, 'lan0'), ttl: 1, port: 5004 };
    const rx = await RtpListener.start(cl, 'eth0', 5004, ['239.1.2.3']);
    const unrouted = await pool.acquire({ group: '239.1.2.3', serviceId: SERVICES.beta.serviceId, tuning, output });
    await waitFor(() => pool!.status().errors.some((e) => /dvblast: couldn't connect socket \(Network is unreachable\)/.test(e.message)), 5000, 'the unreachable output in status');
    await pool.release(unrouted);
    await hd.exec('ip', ['route', 'add', '224.0.0.0/4', 'dev', 'lan0']);
    await pool.acquire({ group: '239.1.2.3', serviceId: SERVICES.beta.serviceId, tuning, output });
    await rx.until(() => rx.count('239.1.2.3') >= 10, 5000, 'RTP on 239.1.2.3');
    assert.equal(rx.lost('239.1.2.3'), 0);
    rx.stop();
  } finally {
    await pool?.close();
    await lab.close();
    rmSync(runDir, { recursive: true, force: true });
  }
});
