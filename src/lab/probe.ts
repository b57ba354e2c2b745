/**
 * The lab's listening host: a real multicast receiver that runs inside a
 * client namespace and reports, as JSON lines on stdout, every RTP packet and
 * SAP announcement it gets for one group. Its kernel sends the MLD/IGMP
 * reports, exactly as for VLC or ffplay. Used by `headend lab`, the
 * end-to-end tests and the zap benchmark to timestamp what a client sees.
 *
 *   node probe.js GROUP IFACE [--rtp-port 5004] [--sap-port 9875]
 *
 * stdin, one command per line:
 *   join [SOURCE]   join GROUP on IFACE (any-source, or source-specific)
 *   leave           drop the membership (the kernel sends the leave)
 *   exit            close everything and exit 0 (also on stdin end)
 * stdout, one JSON object per line, `at` in epoch ms (performance clock,
 * comparable across processes on one machine):
 *   {"ev":"ready"}
 *   {"ev":"joined"|"left","at"}
 *   {"ev":"rtp","at","seq","ts","pt","ssrc","bytes"}        every RTP packet
 *   {"ev":"sap","at","deletion","hash","origin","sdp"}       every SAP packet
 *   {"ev":"error","message"}
 */
import dgram from 'node:dgram';
import { createInterface } from 'node:readline';
import { isIPv4 } from 'node:net';
import { decodeSap } from '../announce/sap.js';

const now = (): number => performance.timeOrigin + performance.now();
const out = (o: Record<string, unknown>): void => {
  process.stdout.write(JSON.stringify(o) + '\n');
};

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main(): Promise<void> {
  const [group, iface] = process.argv.slice(2);
  if (!group || !iface) {
    process.stderr.write('usage: probe GROUP IFACE [--rtp-port N] [--sap-port N]\n');
    process.exit(2);
  }
  const v4 = isIPv4(group);
  const type = v4 ? 'udp4' : 'udp6';
  // IPv6 names the interface by zone; IPv4 by the kernel's choice (one interface in the lab).
  const ifaceArg = v4 ? undefined : `::%${iface}`;
  const bind = (port: number): Promise<dgram.Socket> => new Promise((resolve, reject) => {
    const s = dgram.createSocket({ type, reuseAddr: true });
    s.once('error', reject);
    s.bind(port, v4 ? '0.0.0.0' : '::', () => resolve(s));
  });
  const rtp = await bind(arg('--rtp-port', 5004));
  const sap = await bind(arg('--sap-port', 9875));

  rtp.on('message', (msg) => {
    const at = now();
    if (msg.length < 12 || msg[0]! >> 6 !== 2) return;
    out({ ev: 'rtp', at, seq: msg.readUInt16BE(2), ts: msg.readUInt32BE(4), pt: msg[1]! & 0x7f, ssrc: msg.readUInt32BE(8), bytes: msg.length });
  });
  sap.on('message', (msg) => {
    const at = now();
    try {
      const p = decodeSap(msg);
      out({ ev: 'sap', at, deletion: p.deletion, hash: p.msgIdHash, origin: p.origin, sdp: p.payload.toString('utf8') });
    } catch (err) {
      out({ ev: 'error', message: `bad SAP packet: ${(err as Error).message}` });
    }
  });

  let joined: { source?: string } | undefined;
  const apply = (s: dgram.Socket, add: boolean, source?: string): void => {
    if (source) {
      if (add) s.addSourceSpecificMembership(source, group, ifaceArg);
      else s.dropSourceSpecificMembership(source, group, ifaceArg);
    } else if (add) s.addMembership(group, ifaceArg);
    else s.dropMembership(group, ifaceArg);
  };
  const close = (): void => {
    rtp.close();
    sap.close();
    process.exit(0);
  };

  createInterface({ input: process.stdin }).on('line', (line) => {
    const [cmd, source] = line.trim().split(/\s+/);
    try {
      if (cmd === 'join') {
        if (joined) throw new Error('already joined');
        joined = { source };
        apply(rtp, true, source);
        apply(sap, true, source);
        out({ ev: 'joined', at: now() });
      } else if (cmd === 'leave') {
        if (!joined) throw new Error('not joined');
        apply(rtp, false, joined.source);
        apply(sap, false, joined.source);
        joined = undefined;
        out({ ev: 'left', at: now() });
      } else if (cmd === 'exit') {
        close();
      } else if (cmd) {
        throw new Error(`unknown command ${cmd}`);
      }
    } catch (err) {
      out({ ev: 'error', message: (err as Error).message });
    }
  }).on('close', close);
  out({ ev: 'ready' });
}

main().catch((err: unknown) => {
  out({ ev: 'error', message: (err as Error).message });
  process.exit(1);
});
