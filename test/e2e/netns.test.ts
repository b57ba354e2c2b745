// The namespace harness itself: two hosts on a veth pair reach each other,
// and close() leaves no namespace behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Lab, canUseNetns } from '../helpers/netns.js';

test('veth pair between two namespaces carries IPv6 link-local traffic; close() removes both', { skip: !canUseNetns() && 'needs root and iproute2' }, async () => {
  const lab = new Lab();
  try {
    const a = await lab.netns('a');
    const b = await lab.netns('b');
    await lab.veth(a, 'lan0', b, 'eth0');
    const out = await b.exec('ip', ['-6', '-j', 'addr', 'show', 'dev', 'eth0', 'scope', 'link']);
    const ll = (JSON.parse(out) as Array<{ addr_info: Array<{ local: string }> }>)[0]!.addr_info[0]!.local;
    const ping = await a.exec('ping', ['-6', '-c', '1', '-W', '2', `${ll}%lan0`]);
    assert.match(ping, /1 received/);
  } finally {
    await lab.close();
  }
  const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  for (const name of lab.namespaces) assert.ok(!left.includes(name), `${name} still exists`);
});
