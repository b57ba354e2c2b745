import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_PLAN_OPTIONS, Plan, PlanError, canonicalGroup, macV4, macV4Text, planFromConfig, prefix64Of, resolvePrefix,
} from '../../src/plan/plan.js';

const plan = new Plan({ ...DEFAULT_PLAN_OPTIONS, prefix: '2001:db8:1:0::/64' });
const code = (c: string) => (err: unknown) => err instanceof PlanError && err.code === c;

test('groups are ff3e:40:<prefix>:<service number> and map back', () => {
  assert.equal(plan.groupFor(0x8000_0001), 'ff3e:40:2001:db8:1:0:8000:1');
  assert.equal(plan.serviceNumberFor('ff3e:40:2001:db8:1:0:8000:1'), 0x8000_0001);
  // any spelling of the same group
  assert.equal(plan.serviceNumberFor('FF3E:0040:2001:0DB8:0001:0000:8000:0001'), 0x8000_0001);
  assert.equal(plan.groupFor(0xffff_ffff), 'ff3e:40:2001:db8:1:0:ffff:ffff');
  assert.equal(plan.serviceNumberFor(plan.groupFor(0)), 0);
  assert.throws(() => plan.groupFor(2 ** 32), code('bad-number'));
  assert.throws(() => plan.groupFor(-1), code('bad-number'));
  assert.throws(() => plan.groupFor(1.5), code('bad-number'));
});

test('groups of another prefix, scope or family are not in the plan', () => {
  assert.equal(plan.tryServiceNumberFor('ff3e:40:2001:db8:2:0:8000:1'), undefined);
  assert.equal(plan.tryServiceNumberFor('ff3e:30:2001:db8:1:0:8000:1'), undefined);
  assert.equal(plan.tryServiceNumberFor('ff35:40:2001:db8:1:0:8000:1'), undefined);
  assert.equal(plan.tryServiceNumberFor('232.1.1.1'), undefined);
  assert.equal(plan.tryServiceNumberFor('not an address'), undefined);
  assert.throws(() => plan.serviceNumberFor('ff3e::1'), code('not-in-plan'));
});

test('radio numbers: directory in the high bits, entry in the low bits, both boundaries', () => {
  // directoryBits 10 → 20 entry bits
  assert.equal(plan.maxDirectory, 1023);
  assert.equal(plan.maxEntry, 2 ** 20 - 1);
  for (const [dir, entry] of [[0, 1], [1, 1], [2, 0], [1023, 2 ** 20 - 1], [512, 77]]) {
    const n = plan.radioNumber(dir, entry);
    assert.ok(n >= 0x8000_0000 && n < 0xc000_0000, `top bit set, DVB bit clear for ${dir}/${entry}`);
    assert.deepEqual(plan.describe(n), { kind: 'radio', directory: dir, entry });
    assert.equal(plan.serviceNumberFor(plan.groupFor(n)), n);
  }
  assert.equal(plan.radioNumber(1, 1), 0x8010_0001);
  assert.equal(plan.radioNumber(1023, 2 ** 20 - 1), 0xbfff_ffff);
  assert.throws(() => plan.radioNumber(1024, 1), code('directory-out-of-range'));
  assert.throws(() => plan.radioNumber(1, 2 ** 20), code('entry-out-of-range'));
  assert.throws(() => plan.radioNumber(-1, 1), code('directory-out-of-range'));
});

test('directoryBits moves the split', () => {
  const p = new Plan({ ...DEFAULT_PLAN_OPTIONS, prefix: '2001:db8::/64', directoryBits: 4 });
  assert.equal(p.maxDirectory, 15);
  assert.equal(p.maxEntry, 2 ** 26 - 1);
  assert.deepEqual(p.describe(p.radioNumber(15, 2 ** 26 - 1)), { kind: 'radio', directory: 15, entry: 2 ** 26 - 1 });
  assert.throws(() => new Plan({ ...DEFAULT_PLAN_OPTIONS, prefix: '2001:db8::/64', directoryBits: 0 }), code('bad-number'));
  assert.throws(() => new Plan({ ...DEFAULT_PLAN_OPTIONS, prefix: '2001:db8::/64', directoryBits: 21 }), code('bad-number'));
});

test('DVB numbers pack (frequency on the 250 kHz grid, polarisation, service id)', () => {
  const cases: [number, 'H' | 'V' | 'L' | 'R', number][] = [
    [10_700_000, 'H', 1], // lowest carrier, lowest sid
    [12_747_750, 'V', 65535], // highest carrier, highest sid
    [10_773_000, 'H', 6940],
    [11_778_250, 'R', 4103],
  ];
  const seen = new Set<number>();
  for (const [f, p, sid] of cases) {
    const n = plan.dvbNumber(f, p, sid);
    assert.ok(n >= 0xc000_0000, 'top two bits set');
    seen.add(n);
    const d = plan.describe(n);
    assert.equal(d.kind, 'dvb');
    if (d.kind !== 'dvb') return;
    assert.equal(d.frequencyKhz, f);
    assert.equal(d.serviceId, sid);
    assert.equal(d.polarisationBit, p === 'V' || p === 'R' ? 1 : 0);
    assert.equal(plan.serviceNumberFor(plan.groupFor(n)), n);
  }
  assert.equal(seen.size, cases.length);
  assert.equal(plan.dvbNumber(10_700_000, 'H', 1), 0xc000_0001);
  assert.equal(plan.dvbNumber(12_747_750, 'V', 65535), 0xffff_ffff);
  // H and V of one frequency differ; L shares H's LNB voltage by design
  assert.notEqual(plan.dvbNumber(11_000_000, 'H', 5), plan.dvbNumber(11_000_000, 'V', 5));
  assert.equal(plan.dvbNumber(11_000_000, 'L', 5), plan.dvbNumber(11_000_000, 'H', 5));
});

test('DVB carriers that do not fit are refused with the reason', () => {
  assert.throws(() => plan.dvbNumber(10_773_100, 'H', 1), (e: unknown) => code('carrier-off-grid')(e) && /250 kHz grid/.test((e as Error).message));
  assert.throws(() => plan.dvbNumber(10_699_750, 'H', 1), code('carrier-out-of-range'));
  assert.throws(() => plan.dvbNumber(12_748_000, 'H', 1), code('carrier-out-of-range'));
  assert.throws(() => plan.dvbNumber(11_000_000, 'H', 0), code('bad-service-id'));
  assert.throws(() => plan.dvbNumber(11_000_000, 'H', 65536), code('bad-service-id'));
  // another base moves the band
  const c = new Plan({ ...DEFAULT_PLAN_OPTIONS, prefix: '2001:db8::/64', dvbBaseKhz: 3_400_000, dvbStepKhz: 500 });
  assert.deepEqual(c.describe(c.dvbNumber(3_400_500, 'V', 9)), { kind: 'dvb', frequencyKhz: 3_400_500, polarisationBit: 1, polarisation: 'V/R', serviceId: 9 });
});

test('numbers without the top bit are static (hand-written groups)', () => {
  assert.deepEqual(plan.describe(0x1234), { kind: 'static' });
  assert.deepEqual(plan.describe(0x7fff_ffff), { kind: 'static' });
});

test('prefixes: configured, derived from an interface, or the fallback', () => {
  assert.equal(new Plan({ ...DEFAULT_PLAN_OPTIONS, prefix: '2001:db8:1::' }).prefix, '2001:db8:1::/64');
  assert.throws(() => new Plan({ ...DEFAULT_PLAN_OPTIONS, prefix: '2001:db8:1::1/64' }), code('bad-prefix'));
  assert.throws(() => new Plan({ ...DEFAULT_PLAN_OPTIONS, prefix: '10.0.0.0/8' }), code('bad-prefix'));
  assert.equal(prefix64Of('2001:db8:aa:bb:1:2:3:4'), '2001:db8:aa:bb::/64');
  const ifaces = {
    lan0: [
      { address: 'fe80::1', family: 'IPv6', netmask: 'ffff:ffff:ffff:ffff::', mac: '00:00:00:00:00:00', internal: false, cidr: null, scopeid: 2 },
      { address: '2001:db8:5:6::10', family: 'IPv6', netmask: 'ffff:ffff:ffff:ffff::', mac: '00:00:00:00:00:00', internal: false, cidr: null, scopeid: 0 },
    ],
  } as unknown as NodeJS.Dict<import('node:os').NetworkInterfaceInfo[]>;
  assert.deepEqual(resolvePrefix('', ['lan0'], ifaces), { prefix: '2001:db8:5:6::/64', derivedFrom: 'lan0 2001:db8:5:6::10' });
  assert.equal(resolvePrefix('2001:db8:9::/64', ['lan0'], ifaces).prefix, '2001:db8:9::/64');
  assert.equal(resolvePrefix('', ['eth9'], ifaces).derivedFrom, 'fallback');
  const p = planFromConfig({ interfaces: ['lan0'], plan: {} }, ifaces);
  assert.equal(p.groupFor(0x8000_0001), 'ff3e:40:2001:db8:5:6:8000:1');
});

test('IPv4: the 23-bit MAC mapping finds the colliding pairs', () => {
  assert.equal(macV4('228.0.1.1'), macV4('233.128.1.1'));
  assert.equal(macV4Text('239.1.2.3'), '01:00:5e:01:02:03');
  assert.equal(macV4Text('239.129.2.3'), '01:00:5e:01:02:03');
  assert.notEqual(macV4('232.64.0.1'), macV4('232.64.0.2'));
  const p = new Plan({ ...DEFAULT_PLAN_OPTIONS, prefix: '2001:db8::/64', ipv4Ssm: '232.64.0.0/16', ipv4Asm: '239.65.0.0/16' });
  assert.equal(p.ipv4Range?.text, '232.64.0.0/16');
  assert.equal(p.ipv4Range?.size, 65536);
  assert.throws(() => new Plan({ ...DEFAULT_PLAN_OPTIONS, prefix: '2001:db8::/64', ipv4Ssm: '239.1.0.0/16' }), code('bad-ipv4-range'));
  assert.throws(() => new Plan({ ...DEFAULT_PLAN_OPTIONS, prefix: '2001:db8::/64', ipv4Asm: '239.1.0.0/4' }), code('bad-ipv4-range'));
  assert.throws(() => new Plan({ ...DEFAULT_PLAN_OPTIONS, prefix: '2001:db8::/64', ipv4Asm: 'x' }), code('bad-ipv4-range'));
});

test('canonical group text is RFC 5952', () => {
  assert.equal(canonicalGroup('FF3E:0040:2001:0DB8:0000:0000:8000:0001'), 'ff3e:40:2001:db8::8000:1');
  assert.equal(canonicalGroup('232.001.2.3'.replace('001', '1')), '232.1.2.3');
});
