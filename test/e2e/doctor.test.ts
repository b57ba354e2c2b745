// `headend doctor` on a namespace broken on purpose: every problem is named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Lab, canUseNetns, type Netns } from '../helpers/netns.js';

const CLI = ['--import', 'tsx', resolve('src/cli/main.ts')];
type Out = { summary: { fail: number }; findings: Array<{ check: string; level: string; message: string }> };

/** Runs doctor inside `ns`; doctor exits 1 when it finds failures, so keep stdout and status. */
function doctor(ns: Netns, args: string[], prefix: string[] = []): { status: number | null; out: Out } {
  const r = spawnSync('ip', ['netns', 'exec', ns.name, ...prefix, process.execPath, ...CLI, 'doctor', ...args, '--json'], { encoding: 'utf8', timeout: 30_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return { status: r.status, out: JSON.parse(line) as Out };
  } catch {
    throw new Error(`doctor printed no JSON (status ${r.status}): ${r.stdout} ${r.stderr}`);
  }
}

test('doctor reports each deliberate breakage in a namespace', { skip: !canUseNetns() && 'needs root' }, async () => {
  const lab = new Lab();
  const dir = mkdtempSync(join(tmpdir(), 'doctor-'));
  try {
    const head = await lab.netns('head');
    const hub = await lab.netns('hub');
    await lab.veth(head, 'lan0', hub, 'p0');
    await head.exec('ip', ['link', 'add', 'lan1', 'type', 'veth', 'peer', 'name', 'lan1b']); // left down
    // A snooping bridge's querier on the far side, querying every second.
    await hub.exec('ip', ['link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '1', 'mcast_querier', '1',
      'mcast_query_interval', '100', 'mcast_startup_query_interval', '100']);
    await hub.exec('ip', ['link', 'set', 'p0', 'master', 'br0']);
    await hub.exec('ip', ['link', 'set', 'br0', 'up']);
    await head.exec('sysctl', ['-qw', 'net.ipv6.conf.lan0.disable_ipv6=1', 'net.ipv4.conf.all.rp_filter=1', 'net.ipv4.conf.lan0.rp_filter=1']);
    await head.exec('nft', ['-f', '-'], { input: 'table inet fw {\n chain input {\n type filter hook input priority 0; policy accept;\n icmpv6 type mld2-listener-report drop\n }\n}\n' });
    const cfg = join(dir, 'headend.yaml');
    writeFileSync(cfg, `interfaces: [lan0, lan1]\ndatabase: ${join(dir, 'db', 'h.db')}\ningest: { ffmpeg: /nonexistent/ffmpeg }\n`);

    const { status, out } = doctor(head, ['--config', cfg, '--listen', '3']);
    assert.equal(status, 1, 'failures make doctor exit 1');
    const text = out.findings.map((f) => `${f.level} ${f.message}`).join('\n');
    for (const re of [/fail ffmpeg not found/, /fail IPv6 is disabled on lan0/, /fail lan1 is down/,
      /warn rp_filter is strict on lan0/, /warn no route for 232\.1\.1\.1/, /fail a firewall rule drops MLD/,
      /warn another IGMP querier \(IGMPv\d\) is on lan0: 0\.0\.0\.0/]) {
      assert.match(text, re, text);
    }
    assert.ok(out.summary.fail >= 4);

    // Without privileges: the capabilities are what is reported.
    const unpriv = doctor(head, ['-i', 'lo', '--listen', '0'],
      ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all']);
    assert.match(unpriv.out.findings.map((f) => `${f.level} ${f.message}`).join('\n'), /fail no CAP_NET_RAW/);
  } finally {
    await lab.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
