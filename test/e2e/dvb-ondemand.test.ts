// Two DVB services sharing one carrier on demand, through the real daemon:
// two listeners join two groups whose channels live on the same carrier;
// one dvblast serves both; `headend dvb status` shows it; each leave takes
// only its own service off, the last one frees the tuner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, canUseNetns } from '../helpers/netns.js';
import { SERVICES, startTsSource, writeDvbDaemonConfig } from '../ingest/dvb/lab.js';
import { HEAD_ADDR as HEAD, Probe, headAndClient, nodeEntry, startServe, until } from '../../src/lab/parts.js';
import type { DvbStatusReport } from '../../src/cli/commands/dvb.js';

const GROUP_A = 'ff3e:40:2001:db8:1:0:9000:11';
const GROUP_B = 'ff3e:40:2001:db8:1:0:9000:12';
const TS_PORT = 21240;
const API_PORT = 18093;

test('two listeners, two services, one carrier, one dvblast; leaves free only what they held', { skip: !canUseNetns() && 'needs root and iproute2' }, async () => {
  const lab = new Lab();
  const dir = await mkdtemp(join(tmpdir(), 'dvb-ondemand-'));
  let stopServe: (() => Promise<number | null>) | undefined;
  try {
    const { head, client } = await headAndClient(lab);
    startTsSource(head, TS_PORT);
    const cfgFile = await writeDvbDaemonConfig(dir, { api: API_PORT, ts: TS_PORT }, [
      { name: 'Sat A', serviceId: SERVICES.alpha.serviceId, group: GROUP_A },
      { name: 'Sat B', serviceId: SERVICES.beta.serviceId, group: GROUP_B },
    ]);
    const serve = await startServe(head, cfgFile);
    stopServe = serve.stop;
    const dvbStatus = async (): Promise<DvbStatusReport> => {
      const [cmd, ...args] = nodeEntry('cli/main');
      return JSON.parse(await head.exec(cmd!, [...args, 'dvb', 'status', '--config', cfgFile, '--json'], { timeoutMs: 20_000 })) as DvbStatusReport;
    };

    const a = await Probe.start(client, GROUP_A, 'eth0');
    const b = await Probe.start(client, GROUP_B, 'eth0');
    await a.join(HEAD);
    await a.log.waitFor('RTP of A', (e) => e.ev === 'rtp', { timeoutMs: 15_000 });
    await b.join(HEAD);
    await b.log.waitFor('RTP of B', (e) => e.ev === 'rtp', { timeoutMs: 15_000 });

    // One carrier, one dvblast, both services, named from the SDT: as `headend dvb status` tells it.
    const both = await until('both services named in the status', async () => {
      const r = await dvbStatus();
      return r.carriers[0]?.services.length === 2 && r.carriers[0].services.every((s) => s.name) ? r : undefined;
    }, 10_000, 200);
    assert.equal(both.reachable, true);
    assert.equal(both.carriers.length, 1);
    const pid = both.carriers[0]!.pid;
    assert.ok(pid);
    assert.deepEqual(both.carriers[0]!.services.map((s) => [s.group, s.serviceId, s.name]).sort(), [
      [GROUP_A, SERVICES.alpha.serviceId, SERVICES.alpha.name], [GROUP_B, SERVICES.beta.serviceId, SERVICES.beta.name],
    ]);

    // A leaves: B keeps playing from the same dvblast.
    await a.leave();
    const mark = b.log.mark();
    await until('A off the carrier', async () => ((await dvbStatus()).carriers[0]?.services.length === 1 ? true : undefined), 10_000, 200);
    await b.log.waitFor('B still playing after A left', (e) => e.ev === 'rtp', { after: mark, timeoutMs: 5000 });
    assert.equal((await dvbStatus()).carriers[0]!.pid, pid);

    // B leaves: the tuner is free.
    await b.leave();
    await until('tuner free', async () => {
      const r = await dvbStatus();
      return r.carriers.length === 0 && r.tuners[0]?.state === 'free' ? true : undefined;
    }, 10_000, 200);
    await a.close();
    await b.close();
    assert.equal(await serve.stop(), 0, serve.log.text.slice(-3000));
  } finally {
    await stopServe?.();
    await lab.close();
    await rm(dir, { recursive: true, force: true });
  }
});
