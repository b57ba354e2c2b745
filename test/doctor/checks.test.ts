import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diagnose, summarize, type Facts, type InterfaceFacts } from '../../src/doctor/checks.js';
import { capabilitiesOf } from '../../src/doctor/gather.js';

const lan0: InterfaceFacts = {
  name: 'lan0', exists: true, up: true, lowerUp: true, multicastFlag: true, ipv4: ['192.0.2.1'],
  linkLocal6: ['fe80::1'], global6: [], disableIpv6: false, rpFilter: 0, forceMldVersion: 0, forceIgmpVersion: 0,
};
const healthy: Facts = {
  capabilities: { netRaw: true, netAdmin: true },
  tools: { ffmpeg: 'ffmpeg version 5.1', dvblast: 'DVBlast 3.4', dvblastctl: '/usr/bin/dvblastctl' },
  interfaces: [lan0],
  routeFor: { ipv6Group: 'ff3e::1', ipv6Dev: 'lan0', ipv4Group: '232.1.1.1', ipv4Dev: 'lan0' },
  firewall: 'table inet filter {\n chain input {\n type filter hook input priority 0; policy accept;\n }\n}',
  queriers: [], listenMs: 3000, database: { path: '/var/lib/headend/headend.db', writable: true },
};
const levels = (f: Facts) => Object.fromEntries(diagnose(f).filter((x) => x.level !== 'ok').map((x) => [x.check, x.level]));

test('a healthy host has nothing to fix', () => {
  assert.deepEqual(summarize(diagnose(healthy)).fail, 0);
  assert.deepEqual(levels(healthy), {});
});

test('each broken thing is reported with a fix', () => {
  const broken: Facts = {
    ...healthy,
    capabilities: { netRaw: false, netAdmin: false },
    tools: { ffmpeg: null, dvblast: null, dvblastctl: null },
    interfaces: [{ ...lan0, up: false, disableIpv6: true, rpFilter: 1 }, { ...lan0, name: 'gone', exists: false }],
    routeFor: { ...healthy.routeFor, ipv4Dev: null, ipv6Dev: 'eth9' },
    firewall: 'table inet f {\n chain input {\n type filter hook input priority 0; policy accept;\n meta l4proto igmp drop\n icmpv6 type mld2-listener-report drop\n }\n}',
    queriers: [{ iface: 'lan0', family: 4, address: '192.0.2.0', version: 'IGMPv3' }],
    database: { path: '/nope/x.db', writable: false, error: 'EACCES' },
  };
  const found = diagnose(broken);
  for (const f of found.filter((x) => x.level !== 'ok')) assert.ok(f.fix, `${f.check} has no fix`);
  const msgs = found.map((f) => `${f.level} ${f.message}`).join('\n');
  for (const re of [/fail no CAP_NET_RAW/, /warn no CAP_NET_ADMIN/, /fail ffmpeg not found/, /warn dvblast not found/,
    /fail lan0 is down/, /fail IPv6 is disabled on lan0/, /warn rp_filter is strict on lan0/, /fail gone does not exist/,
    /warn no route for 232\.1\.1\.1/, /out of eth9, not a headend interface/, /fail a firewall rule drops IGMP/,
    /fail a firewall rule drops MLD/, /warn another IGMP querier \(IGMPv3\) is on lan0: 192\.0\.2\.0/, /fail database \/nope\/x\.db is not writable: EACCES/]) {
    assert.match(msgs, re);
  }
});

test('a drop policy without an IGMP/MLD accept is a warning; with accepts it is fine', () => {
  const policyDrop = 'table inet f {\n chain input {\n type filter hook input priority 0; policy drop;\n }\n}';
  assert.deepEqual(levels({ ...healthy, firewall: policyDrop }), { 'firewall-igmp': 'warn', 'firewall-mld': 'warn' });
  const accepting = policyDrop.replace('policy drop;', 'policy drop;\n meta l4proto igmp accept\n icmpv6 type { mld-listener-query, 143 } accept');
  assert.deepEqual(levels({ ...healthy, firewall: accepting }), {});
});

test('capabilities are read from CapEff bits 12 (NET_ADMIN) and 13 (NET_RAW)', () => {
  assert.deepEqual(capabilitiesOf('CapEff:\t000001ffffffffff\n'), { netRaw: true, netAdmin: true });
  assert.deepEqual(capabilitiesOf('CapEff:\t0000000000002000\n'), { netRaw: true, netAdmin: false });
  assert.deepEqual(capabilitiesOf('CapEff:\t0000000000000000\n'), { netRaw: false, netAdmin: false });
  assert.deepEqual(capabilitiesOf('garbage'), { netRaw: false, netAdmin: false });
});
