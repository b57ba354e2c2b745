import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DvblastConfError, outputTarget, renderConf } from '../../../src/ingest/dvb/conf.js';

const base = { port: 5004, ifindex: 6, ttl: 1 };

test('one tab-separated line per service: [group]:port/ifindex/ttl, always-on flag, service id', () => {
  const conf = renderConf([
    { ...base, group: 'ff3e:40:2001:db8:1:0:8001:3ea', serviceId: 1002 },
    { ...base, group: 'ff3e:40:2001:db8:1:0:8001:3e9', serviceId: 1001, udp: true },
    { ...base, group: '239.1.2.3', serviceId: 7, ttl: 4 },
  ]);
  assert.equal(conf,
    '239.1.2.3:5004/ifindex=6/ttl=4\t1\t7\n' +
    '[ff3e:40:2001:db8:1:0:8001:3e9]:5004/ifindex=6/ttl=1/udp\t1\t1001\n' +
    '[ff3e:40:2001:db8:1:0:8001:3ea]:5004/ifindex=6/ttl=1\t1\t1002\n');
  assert.equal(renderConf([]), '');
});

test('bad outputs are refused with the field named', () => {
  assert.throws(() => outputTarget({ ...base, group: 'ff3e::1%eth0' }), (e: unknown) => e instanceof DvblastConfError && e.field === 'group');
  assert.throws(() => outputTarget({ ...base, group: '2001:db8::1' }), /not a multicast group/);
  assert.throws(() => outputTarget({ ...base, group: '10.0.0.1' }), /not a multicast group/);
  assert.throws(() => outputTarget({ ...base, group: 'ff3e::1', ttl: 0 }), /ttl/);
  assert.throws(() => outputTarget({ ...base, group: 'ff3e::1', port: 70000 }), /port/);
  assert.throws(() => renderConf([{ ...base, group: 'ff3e::1', serviceId: 0 }]), /serviceId/);
});
