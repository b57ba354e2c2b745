import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildConfig } from '../../../src/config.js';
import { carrierKey, dvblastArgs, dvblastFec, lnbVoltage, mayTune, parseCarrierRange, type DvbTuning } from '../../../src/ingest/dvb/carrier.js';

const tuning: DvbTuning = { frequencyKhz: 11362000, polarisation: 'H', symbolRate: 22000000, system: 'DVBS2', fec: '2/3', modulation: 'PSK_8' };
const files = { configFile: '/run/d/t0.conf', socket: '/run/d/t0.sock' };

test('a carrier is named by frequency and polarisation', () => {
  assert.equal(carrierKey(tuning), '11362000H');
  assert.equal(carrierKey({ ...tuning, symbolRate: 27500000 } as DvbTuning), '11362000H');
  assert.notEqual(carrierKey({ ...tuning, polarisation: 'V' }), carrierKey(tuning));
});

test('LNB voltage: 18 V for H and L, 13 V for V and R', () => {
  assert.deepEqual((['H', 'V', 'L', 'R'] as const).map(lnbVoltage), [18, 13, 18, 13]);
});

test('FEC goes to dvblast without the slash; auto is 999; junk is refused', () => {
  assert.equal(dvblastFec('3/4'), '34');
  assert.equal(dvblastFec('9/10'), '910');
  assert.equal(dvblastFec('auto'), '999');
  assert.throws(() => dvblastFec('three quarters'), /tuning\.fec/);
});

test('carrier allow-lists: exact, range, range with polarisations, empty = any', () => {
  assert.deepEqual(parseCarrierRange('10700000-11700000HV'), { fromKhz: 10700000, toKhz: 11700000, polarisations: new Set(['H', 'V']) });
  assert.equal(mayTune({ carriers: [] }, tuning), true);
  assert.equal(mayTune({ carriers: ['11362000H'] }, tuning), true);
  assert.equal(mayTune({ carriers: ['11362000V'] }, tuning), false);
  assert.equal(mayTune({ carriers: ['10700000-11700000'] }, tuning), true);
  assert.equal(mayTune({ carriers: ['11700000-12750000'] }, tuning), false);
  assert.equal(mayTune({ carriers: ['10700000-11700000V', '11362000'] }, tuning), true);
  assert.throws(() => parseCarrierRange('11.3GHz'), /not a carrier range/);
});

test('a card is tuned with -a -n -f -v -5 -s -F -8 -m and its DiSEqC; a udp adapter reads -D', () => {
  const cfg = buildConfig({ dvb: { adapters: [
    { name: 'sat0', adapter: 1, diseqc: 2 },
    { name: 'lab', kind: 'udp', input: '127.0.0.1:1234/udp' },
  ] } });
  const card = dvblastArgs(cfg.dvb.adapters[0]!, tuning, files);
  assert.deepEqual(card, ['-a', '1', '-n', '0', '-f', '11362000', '-v', '18', '-5', 'DVBS2', '-s', '22000000', '-F', '23', '-8', 'universal', '-m', 'psk_8', '-S', '2',
    '-q', '-x', 'xml', '-c', files.configFile, '-r', files.socket, '-6', '1000', '-L', '30']);
  const dvbs = dvblastArgs(cfg.dvb.adapters[0]!, { ...tuning, system: 'DVBS', modulation: 'QPSK', polarisation: 'V' }, files);
  assert.ok(!dvbs.includes('-m'), 'DVB-S has no -m');
  assert.equal(dvbs[dvbs.indexOf('-v') + 1], '13');
  assert.deepEqual(dvblastArgs(cfg.dvb.adapters[1]!, tuning, files).slice(0, 2), ['-D', '127.0.0.1:1234/udp']);
});

test('dvb config: defaults per adapter, bad keys named', () => {
  const cfg = buildConfig({ dvb: { adapters: [{ name: 'sat0' }] } });
  assert.equal(cfg.dvb.adapters[0]!.kind, 'card');
  assert.equal(cfg.dvb.adapters[0]!.lnb, 'universal');
  assert.equal(cfg.dvb.lockTimeoutMs, 10_000);
  assert.throws(() => buildConfig({ dvb: { adapters: [{ name: 'a' }, { name: 'a' }] } }), /dvb\.adapters\[1\]\.name: duplicate/);
  assert.throws(() => buildConfig({ dvb: { adapters: [{ name: 'a', kind: 'udp' }] } }), /dvb\.adapters\[0\]\.input/);
  assert.throws(() => buildConfig({ dvb: { adapters: [{ name: 'a', diseqc: 7 }] } }), /dvb\.adapters\[0\]\.diseqc/);
  assert.throws(() => buildConfig({ dvb: { adapters: [{ name: 'a', carriers: ['lots'] }] } }), /dvb\.adapters\[0\]\.carriers\[0\]/);
  assert.throws(() => buildConfig({ dvb: { adapters: [{ name: 'a', tunner: 1 }] } }), /dvb\.adapters\[0\]\.tunner: unknown key/);
  assert.throws(() => buildConfig({ dvb: { lockTimeoutMs: 5 } }), /dvb\.lockTimeoutMs/);
});
