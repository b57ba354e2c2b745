// IPv4 groups from the DVB pool. dvblast connects its output socket, so an
// IPv4 group needs a route (`ip route add 224.0.0.0/4 dev IF` where there is
// no default route); without one the status says why nothing is sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canUseNetns } from '../helpers/netns.js';
import { CARRIER_X, RtpListener, SERVICES, startTsSource, waitFor, withDvbLab } from '../ingest/dvb/lab.js';

const GROUP = '239.1.2.3';

test('an IPv4 group: no route is a clear status error; with a multicast route RTP flows', { skip: !canUseNetns() && 'needs root and iproute2' }, () => withDvbLab(
  { adapters: [{ name: 'lab0', kind: 'udp', input: '127.0.0.1:41500/udp' }] }, {},
  async ({ hd, cl, pool, output }) => {
    await hd.exec('ip', ['addr', 'add', '192.0.2.1/24', 'dev', 'lan0']);
    await cl.exec('ip', ['addr', 'add', '192.0.2.2/24', 'dev', 'eth0']);
    await cl.exec('ip', ['route', 'add', '224.0.0.0/4', 'dev', 'eth0']);
    startTsSource(hd, 41500);
    const rx = await RtpListener.start(cl, 'eth0', 5004, [GROUP]);
    const req = { group: GROUP, serviceId: SERVICES.beta.serviceId, tuning: CARRIER_X, output };
    const unrouted = await pool.acquire(req);
    await waitFor(() => pool.status().errors.some((e) => /dvblast: couldn't connect socket \(Network is unreachable\)/.test(e.message)), 5000, 'the unreachable output in status');
    await pool.release(unrouted);
    await hd.exec('ip', ['route', 'add', '224.0.0.0/4', 'dev', 'lan0']);
    await pool.acquire(req);
    await rx.until(() => rx.count(GROUP) >= 10, 5000, `RTP on ${GROUP}`);
    assert.equal(rx.lost(GROUP), 0);
    rx.stop();
  }));
