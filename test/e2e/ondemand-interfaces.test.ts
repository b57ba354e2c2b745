// One group wanted on two interfaces: each link gets its own RTP and SAP from
// its own address, and a link that empties stops only its own stream. With
// two links ffmpeg must pin its interface by binding to the link-local
// address (src/sessions/egress.ts), so that is the source clients join.
//
//   c1 eth0 ══ lan0 [head: headend serve, icecast2] lan1 ══ eth0 c2
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, canUseNetns, type Netns } from '../helpers/netns.js';
import { startIcecast } from '../helpers/icecast.js';
import { Probe, startServe, until } from '../../src/lab/parts.js';

const GROUP = 'ff3e:40:2001:db8:1:0:8000:5';

/** The link-local address of an interface (waitLinkLocal in netns.ts trips over `ip -j` listing a filtered global address as {}). */
async function linkLocal(ns: Netns, ifName: string): Promise<string> {
  const out = await ns.exec('ip', ['-6', '-o', 'addr', 'show', 'dev', ifName, 'scope', 'link']);
  const m = /inet6 (fe80::[0-9a-f:]+)\//.exec(out);
  if (!m) throw new Error(`no link-local address on ${ifName}: ${out}`);
  return m[1]!;
}
const API_PORT = 18083;

test('a group wanted on lan0 and lan1 is sent on both, each from its own address; leaving one link stops only its stream', { skip: !canUseNetns() && 'needs root and iproute2' }, async () => {
  const lab = new Lab();
  const dir = await mkdtemp(join(tmpdir(), 'headend-ifaces-'));
  try {
    const head = await lab.netns('head');
    const c1 = await lab.netns('c1');
    const c2 = await lab.netns('c2');
    await lab.veth(head, 'lan0', c1, 'eth0');
    await lab.veth(head, 'lan1', c2, 'eth0');
    await head.exec('ip', ['-6', 'addr', 'add', '2001:db8:1::1/64', 'dev', 'lan0', 'nodad']);
    await head.exec('ip', ['-6', 'addr', 'add', '2001:db8:2::1/64', 'dev', 'lan1', 'nodad']);
    await c1.exec('ip', ['-6', 'addr', 'add', '2001:db8:1::10/64', 'dev', 'eth0', 'nodad']);
    await c2.exec('ip', ['-6', 'addr', 'add', '2001:db8:2::10/64', 'dev', 'eth0', 'nodad']);
    const ll0 = await linkLocal(head, 'lan0');
    const ll1 = await linkLocal(head, 'lan1');
    const ice = await startIcecast({ inNamespace: head });
    await writeFile(join(dir, 'headend.json'), JSON.stringify({
      interfaces: ['lan0', 'lan1'],
      database: join(dir, 'headend.db'),
      api: { listen: `127.0.0.1:${API_PORT}` },
      sessions: { lingerMs: 0 },
      channels: [{ group: GROUP, name: 'Tone', url: ice.url }],
    }));
    const serve = await startServe(head, join(dir, 'headend.json'));
    const session = async () => {
      const st = JSON.parse(await head.exec('curl', ['-s', '-m', '3', `http://127.0.0.1:${API_PORT}/status`])) as
        { live: { sessions: Array<{ group: string; state: string; ifaces: string[]; stream?: { interfaces: string[] } }> } };
      return st.live.sessions.find((s) => s.group === GROUP);
    };
    const a = await Probe.start(c1, GROUP, 'eth0');
    const b = await Probe.start(c2, GROUP, 'eth0');
    try {
      await a.join(ll0);
      await a.log.waitFor('RTP on lan0', (e) => e.ev === 'rtp', { timeoutMs: 10_000 });
      await b.join(ll1);
      await b.log.waitFor('RTP on lan1', (e) => e.ev === 'rtp', { timeoutMs: 10_000 });
      const sapA = await a.log.waitFor('SAP on lan0', (e) => e.ev === 'sap' && !e.deletion);
      const sapB = await b.log.waitFor('SAP on lan1', (e) => e.ev === 'sap' && !e.deletion);
      assert.equal(sapA.ev === 'sap' && sapA.origin, ll0);
      assert.equal(sapB.ev === 'sap' && sapB.origin, ll1);
      assert.ok(sapB.ev === 'sap' && sapB.sdp.includes(`a=source-filter: incl IN IP6 ${GROUP} ${ll1}\r\n`), 'SDP names the lan1 source');
      assert.deepEqual((await session())?.stream?.interfaces, ['lan0', 'lan1']);

      await a.leave();
      await until('lan0 no longer served', async () => (await session())?.stream?.interfaces.join() === 'lan1');
      const mark = b.log.mark();
      await b.log.waitFor('RTP on lan1 after lan0 left', (e) => e.ev === 'rtp', { after: mark, timeoutMs: 3000 });
      assert.equal((await session())?.state, 'live');
      await b.leave();
      await until('stopped', async () => (await session()) === undefined);
    } finally {
      await Promise.all([a.close(), b.close()]);
      assert.equal(await serve.stop(), 0, serve.log.text.slice(-2000));
      await ice.close();
    }
  } finally {
    await lab.close();
    await rm(dir, { recursive: true, force: true });
  }
});
