/**
 * One DVB service on air as a session's stream: the tuner pool outputs the
 * service (dvblast, RTP with MPEG-TS, PT 33) to the group, and the SAP/SDP
 * names it with the service name from the carrier's SDT.
 *
 * "Live" here is the pool's acquire() resolving: the carrier is locked (a
 * card) or its TS is flowing (a UDP input), and dvblast has the output line;
 * its first RTP packet follows within dvb.outputLatencyMs. dvblast restarts
 * are the pool's business; only a carrier the pool gives up ('failed')
 * fails the session.
 */
import { readFileSync } from 'node:fs';
import type { HeadendConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { Announcer } from '../announce/announcer.js';
import { buildSdp, PT_MP2T } from '../announce/sdp.js';
import type { DvbServiceHandle, TunerPool } from '../ingest/dvb/pool.js';
import type { DvbTuning } from '../store/types.js';
import type { Egress } from './egress.js';
import type { RunningStream, StreamHooks } from './driver.js';

export interface DvbRequest {
  group: string;
  channel: { id?: number; name: string; serviceId: number; tuning: DvbTuning };
  egress: Egress;
}

export interface DvbDeps {
  config: HeadendConfig;
  pool: TunerPool;
  announcer: Announcer;
  logger: Logger;
}

export interface DvbStream extends RunningStream {
  status(): { carrier?: string; adapter?: string; serviceId: number; name?: string; provider?: string };
  sdp(): string | undefined;
  /** The pool says the carrier carrying this group was given up. */
  carrierFailed(reason: string): void;
  readonly pid: undefined;
}

/** The kernel's index of an interface (dvblast names the output interface by it). */
export function interfaceIndex(iface: string): number {
  const text = readFileSync(`/sys/class/net/${iface}/ifindex`, 'utf8').trim();
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`interface ${iface}: no ifindex (${text})`);
  return n;
}

export function startDvb(req: DvbRequest, deps: DvbDeps, hooks: StreamHooks): DvbStream {
  const log = deps.logger.child({ group: req.group, channel: req.channel.name });
  let handle: DvbServiceHandle | undefined;
  let stopped = false;
  let sdp: string | undefined;
  let sdt: { name: string; provider: string } | null = null;
  const { config, pool, announcer } = deps;
  // RFC 8866 §5.2: one session id for the stream's life, the version up on each change.
  const sessionId = String(Math.floor(Date.now() / 1000) + 2_208_988_800);
  let version = 0;

  const announce = (): void => {
    sdp = buildSdp({
      group: req.group,
      source: req.egress.address,
      port: config.rtp.port,
      rtcpPort: config.rtp.rtcpPort,
      payloadType: PT_MP2T,
      name: sdt?.name || req.channel.name,
      ...(sdt?.provider ? { info: sdt.provider } : {}),
      sessionId,
      sessionVersion: ++version,
      originAddress: req.egress.address,
      tool: 'mcast-headend 0.1.0',
      ttl: config.rtp.ttl,
    });
    announcer.announce(req.group, {
      group: req.group, sdp, iface: req.egress.iface, originAddress: req.egress.address,
      ttl: config.announce.ttl, alsoScoped: config.announce.scopedAddress,
    });
  };

  const started = (async () => {
    try {
      handle = await pool.acquire({
        group: req.group,
        serviceId: req.channel.serviceId,
        tuning: req.channel.tuning,
        output: { iface: req.egress.iface, ifindex: interfaceIndex(req.egress.iface), ttl: config.rtp.ttl, port: config.rtp.port },
      });
    } catch (err) {
      if (!stopped) hooks.failed(`dvb: ${(err as Error).message}`);
      return;
    }
    if (stopped) {
      await pool.release(handle);
      return;
    }
    announce();
    hooks.live();
    // The SDT name arrives within about 2 s of lock; re-announce with it then
    // (not awaited: a stop must not wait for it).
    const h = handle;
    void pool.sdt(h).catch(() => null).then((found) => {
      sdt = found;
      if (sdt && !stopped && sdt.name !== req.channel.name) {
        log.info({ sdt }, 'service named by its SDT');
        announce();
      }
    });
  })();

  return {
    pid: undefined,
    sdp: () => sdp,
    status: () => ({
      serviceId: req.channel.serviceId,
      ...(handle ? { carrier: handle.carrier, adapter: handle.adapter } : {}),
      ...(sdt ? { name: sdt.name, provider: sdt.provider } : {}),
    }),
    carrierFailed: (reason) => {
      if (!stopped) hooks.failed(`dvb: ${reason}`);
    },
    stop: async (reason) => {
      if (stopped) return;
      stopped = true;
      log.info({ reason }, 'stopping DVB stream');
      const withdrawn = sdp ? announcer.withdraw(req.group) : Promise.resolve();
      await started;
      await Promise.all([withdrawn, handle ? pool.release(handle) : undefined]);
    },
  };
}
