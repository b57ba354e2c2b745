// Runs inside a test namespace: an RtcpReceiver for one group, printing its
// reception figures as a JSON line every 200 ms. argv: GROUP IFACE [SSRC]
import { RtcpReceiver } from '../../../src/rtcp/receiver.js';
import { silentLogger } from '../../../src/log.js';

const [group, iface, ssrc] = process.argv.slice(2);
const rx = new RtcpReceiver({ logger: silentLogger });
await rx.open({ group: group!, iface: iface!, ssrc: ssrc ? Number(ssrc) : undefined });
setInterval(() => {
  const r = rx.reception(group!);
  process.stdout.write(JSON.stringify({ reception: r, datagrams: rx.counters.datagrams, malformed: Object.fromEntries(rx.counters.malformed) }) + '\n');
}, 200);
