// Picking the egress address ffmpeg binds to (localaddr) from the interface list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NetworkInterfaceInfo } from 'node:os';
import { egressFor, EgressError } from '../../src/sessions/egress.js';

const v6 = (address: string, scopeid: number): NetworkInterfaceInfo =>
  ({ address, netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '02:00:00:00:00:01', internal: false, cidr: null, scopeid });
const v4 = (address: string): NetworkInterfaceInfo =>
  ({ address, netmask: '255.255.255.0', family: 'IPv4', mac: '02:00:00:00:00:01', internal: false, cidr: null });

test('IPv6 group: a global address wins over the link-local', () => {
  const e = egressFor('ff3e:40:2001:db8:1:0:8000:1', 'lan0', { lan0: [v6('fe80::1', 3), v6('2001:db8:1::1', 0)] });
  assert.deepEqual(e, { iface: 'lan0', address: '2001:db8:1::1', localaddr: '2001:db8:1::1', family: 6 });
});

test('IPv6 group, link-local only: localaddr carries the zone, address does not', () => {
  const e = egressFor('ff3e::1', 'lan0', { lan0: [v4('10.0.0.1'), v6('fe80::1', 3)] });
  assert.equal(e.address, 'fe80::1');
  assert.equal(e.localaddr, 'fe80::1%lan0');
});

test('IPv4 group: the interface IPv4 address; none → EgressError naming the interface', () => {
  assert.equal(egressFor('239.1.1.1', 'lan0', { lan0: [v4('10.0.0.1')] }).localaddr, '10.0.0.1');
  assert.throws(() => egressFor('239.1.1.1', 'lan0', { lan0: [v6('fe80::1', 3)] }), (e) => e instanceof EgressError && /lan0/.test(e.message));
  assert.throws(() => egressFor('ff3e::1', 'nope', {}), /interface nope: no such interface/);
});

test('a sender that picks its interface by binding (ffmpeg) uses the link-local address when there is more than one IPv6 link', () => {
  const two = { lan0: [v6('fe80::1', 3), v6('2001:db8:1::1', 0)], lan1: [v6('fe80::2', 4), v6('2001:db8:2::1', 0)] };
  assert.deepEqual(egressFor('ff3e::1', 'lan1', two, 'bind'), { iface: 'lan1', address: 'fe80::2', localaddr: 'fe80::2%lan1', family: 6 });
  assert.equal(egressFor('ff3e::1', 'lan1', two, 'ifindex').address, '2001:db8:2::1', 'dvblast names the interface itself');
  assert.equal(egressFor('ff3e::1', 'lan0', { lan0: two.lan0 }, 'bind').address, '2001:db8:1::1', 'one link: the global address');
});
