// The files in deploy/ are what admins copy: they must stay valid.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { buildConfig } from '../src/config.js';
import { diagnose, type Facts } from '../src/doctor/checks.js';
import { Lab, canUseNetns } from './helpers/netns.js';

test('every example config in deploy/examples passes validation', () => {
  const dir = 'deploy/examples';
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.length >= 4);
  for (const f of files) {
    assert.doesNotThrow(() => buildConfig(parseYaml(readFileSync(join(dir, f), 'utf8'))), `${f} is not a valid config`);
  }
});

test('the systemd unit runs unprivileged with only the raw-socket capabilities, state under /var/lib', () => {
  const unit = readFileSync('deploy/headend.service', 'utf8');
  const value = (key: string) => unit.match(new RegExp(`^${key}=(.*)$`, 'm'))?.[1];
  assert.equal(value('DynamicUser'), 'yes');
  assert.equal(value('AmbientCapabilities'), 'CAP_NET_RAW CAP_NET_ADMIN');
  assert.equal(value('CapabilityBoundingSet'), 'CAP_NET_RAW CAP_NET_ADMIN');
  assert.equal(value('StateDirectory'), 'headend');
  assert.equal(value('Restart'), 'on-failure');
  assert.match(value('ExecStart') ?? '', /dist\/cli\/main\.js serve --config /);
  for (const f of readdirSync('deploy/examples')) {
    const db = (parseYaml(readFileSync(join('deploy/examples', f), 'utf8')) as { database?: string }).database;
    if (f !== 'container.yaml') assert.match(db ?? '', /^\/var\/lib\/headend\//, `${f}: database outside the StateDirectory`);
  }
});

const hasSystemdAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;
test('systemd-analyze verify finds nothing to say about the unit', { skip: !hasSystemdAnalyze && 'no systemd-analyze' }, () => {
  const r = spawnSync('systemd-analyze', ['verify', 'deploy/headend.service'], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  assert.equal((r.stdout + r.stderr).trim(), '', 'unknown keys or bad values in the unit');
});

test('deploy/nftables.conf loads in nft and doctor finds nothing it drops', { skip: !canUseNetns() && 'needs root' }, async () => {
  const text = readFileSync('deploy/nftables.conf', 'utf8');
  const lab = new Lab();
  try {
    const ns = await lab.netns('nft');
    await ns.exec('nft', ['-f', '-'], { input: text });
    const ruleset = await ns.exec('nft', ['list', 'ruleset']);
    const facts = { firewall: ruleset } as Partial<Facts>;
    const fw = diagnose({
      capabilities: { netRaw: true, netAdmin: true }, tools: {}, interfaces: [],
      routeFor: { ipv6Group: 'ff3e::1', ipv6Dev: 'lan0', ipv4Group: '232.1.1.1', ipv4Dev: 'lan0' },
      queriers: [], listenMs: 0, database: { path: 'x', writable: true }, firewall: facts.firewall!,
    }).filter((f) => f.check.startsWith('firewall'));
    assert.deepEqual(fw.map((f) => f.level), ['ok'], JSON.stringify(fw));
  } finally {
    await lab.close();
  }
});
