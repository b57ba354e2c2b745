import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildConfig, ConfigError, DEFAULT_CONFIG } from '../src/config.js';

test('an empty config is all defaults, RFC 9776 §8 timers derived', () => {
  const cfg = buildConfig({});
  assert.equal(cfg.membership.queryIntervalMs, 125_000);
  assert.equal(cfg.membership.startupQueryIntervalMs, 31_250);
  assert.equal(cfg.membership.lastMemberQueryCount, 2);
  assert.equal(cfg.database, DEFAULT_CONFIG.database);
});

test('derived timers follow the values they derive from unless set', () => {
  const cfg = buildConfig({ membership: { robustness: 3, queryIntervalMs: 20_000, queryResponseIntervalMs: 2000 } });
  assert.equal(cfg.membership.lastMemberQueryCount, 3);
  assert.equal(cfg.membership.startupQueryCount, 3);
  assert.equal(cfg.membership.startupQueryIntervalMs, 5_000);
  const set = buildConfig({ membership: { robustness: 3, lastMemberQueryCount: 1 } });
  assert.equal(set.membership.lastMemberQueryCount, 1);
});

test('a bad value is refused with its key named', () => {
  assert.throws(() => buildConfig({ membership: { robustness: 0 } }), (e: unknown) =>
    e instanceof ConfigError && e.message.includes('membership.robustness'));
  assert.throws(() => buildConfig({ membership: { queryIntervalMs: 'soon' } }), /membership\.queryIntervalMs: must be a number/);
  assert.throws(() => buildConfig({ membership: { querierr: true } }), /membership\.querierr: unknown key/);
  assert.throws(() => buildConfig({ api: { listen: 'everywhere' } }), /api\.listen/);
  assert.throws(() => buildConfig({ interfaces: ['eth0', 'a name with spaces'] }), /interfaces\[1\]/);
  assert.throws(() => buildConfig({ channels: [{ group: 'ff3e::1' }] }), /channels\[0\]\.name/);
  assert.throws(() => buildConfig({ membership: { queryResponseIntervalMs: 200_000 } }), /queryResponseIntervalMs/);
});
