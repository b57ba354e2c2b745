/**
 * A one-service headend for test/e2e/dvb-sap.test.ts, run inside the
 * headend's namespace (the announcer's sockets must live there): the tuner
 * pool, the SAP announcer and startDvb for one DVB channel. Prints `live`,
 * then `named NAME` once the SDT named it; SIGTERM stops it cleanly
 * (SAP deletion, dvblast gone) and prints `stopped`.
 *
 *   node --import tsx serve-one.ts '{"runDir", "input", "group", "serviceId", "name", "tuning", "address"}'
 *
 * (It does not import lab.ts: the namespace helper there would take SIGTERM.)
 */
import { buildConfig } from '../../../src/config.js';
import { silentLogger } from '../../../src/log.js';
import { Announcer } from '../../../src/announce/announcer.js';
import { TunerPool } from '../../../src/ingest/dvb/pool.js';
import { startDvb } from '../../../src/ingest/dvb/stream.js';
import type { DvbTuning } from '../../../src/ingest/dvb/carrier.js';

const a = JSON.parse(process.argv[2]!) as { runDir: string; input: string; group: string; serviceId: number; name: string; tuning: DvbTuning; address: string };
const config = buildConfig({ dvb: { runDir: a.runDir, adapters: [{ name: 'lab0', kind: 'udp', input: a.input }] }, announce: { intervalMs: 300 } });
const pool = TunerPool.fromConfig(config, { logger: silentLogger });
const announcer = new Announcer({ logger: silentLogger, intervalMs: config.announce.intervalMs });
const say = (line: string): void => { process.stdout.write(`${line}\n`); };
const stream = startDvb(
  { group: a.group, channel: { name: a.name, serviceId: a.serviceId, tuning: a.tuning }, egress: { iface: 'lan0', address: a.address, localaddr: a.address, family: 6 } },
  { config, pool, announcer, logger: silentLogger },
  { live: () => say('live'), failed: (e) => say(`failed ${e}`) },
);
const named = setInterval(() => {
  if (stream.status().serviceName === undefined) return;
  clearInterval(named);
  say(`named ${stream.status().serviceName}`);
}, 20);
process.once('SIGTERM', () => {
  void (async () => {
    await stream.stop('test over');
    await announcer.close();
    await pool.close();
    say('stopped');
    process.exit(0);
  })();
});
