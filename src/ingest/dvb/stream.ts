/**
 * One DVB service on air for one session: what the headend's stream runner
 * starts for a channel of kind 'dvb' (the radio path's counterpart is
 * src/ingest/radio.ts). It takes the service from the tuner pool, announces
 * it with SAP (SDP payload type 33, MP2T, RFC 3551 §6 / RFC 2250), names it
 * from the carrier's SDT, and gives it back on stop.
 *
 *   const s = startDvb({ group, channel, egress }, { config, pool, announcer, logger }, hooks);
 *   await s.stop('idle');
 *
 * hooks.live() fires once the pool has the service in dvblast's output
 * (first RTP follows within dvb.outputLatencyMs); hooks.failed() when the
 * pool refuses (no free tuner, no lock) or gives the carrier up.
 */
import { readFileSync } from 'node:fs';
import type { HeadendConfig } from '../../config.js';
import type { Logger } from '../../log.js';
import type { Announcer } from '../../announce/announcer.js';
import { buildSdp, PT_MP2T } from '../../announce/sdp.js';
import type { Egress } from '../../sessions/egress.js';
import type { RunningStream, StreamHooks } from '../../sessions/driver.js';
import { isSsmGroup } from '../radio.js';
import type { DvbTuning } from './carrier.js';
import type { DvbServiceHandle, TunerPool, TunerPoolEvents } from './pool.js';

export interface DvbChannel {
  id?: number;
  name: string;
  serviceId: number;
  tuning: DvbTuning;
}

export interface DvbStreamRequest {
  group: string;
  channel: DvbChannel;
  egress: Egress;
}

export interface DvbStreamDeps {
  config: HeadendConfig;
  pool: TunerPool;
  announcer: Announcer;
  logger: Logger;
  /** Interface name → index (dvblast's /ifindex=); default reads /sys/class/net. */
  ifindex?: (iface: string) => number;
}

export interface DvbStreamStatus {
  carrier?: string;
  adapter?: string;
  pid?: number;
  serviceId: number;
  serviceName?: string;
  provider?: string;
  sdpVersion: number;
}

export interface DvbStream extends RunningStream {
  status(): DvbStreamStatus;
  sdp(): string | undefined;
  readonly pid: number | undefined;
}

/** The kernel's index for an interface of this network namespace. */
export function sysIfindex(iface: string): number {
  if (!/^[\w.:-]{1,15}$/.test(iface)) throw new Error(`not an interface name: ${JSON.stringify(iface)}`);
  const text = readFileSync(`/sys/class/net/${iface}/ifindex`, 'utf8');
  return Number(text.trim());
}

export function startDvb(req: DvbStreamRequest, deps: DvbStreamDeps, hooks: StreamHooks): DvbStream {
  return new DvbRunner(req, deps, hooks);
}

class DvbRunner implements DvbStream {
  private readonly log: Logger;
  private handle: DvbServiceHandle | undefined;
  private stopped = false;
  private announced = false;
  private names: { name: string; provider: string } | null = null;
  private readonly sessionId = String(Math.floor(Date.now() / 1000) + 2_208_988_800); // NTP seconds, RFC 8866 §5.2
  private sdpVersion = 1;
  private currentSdp: string | undefined;
  private readonly onFailed = (e: TunerPoolEvents['failed'][0]): void => {
    if (this.stopped || !e.groups.includes(this.req.group)) return;
    this.handle = undefined;
    this.hooks.failed(`dvb: carrier ${e.carrier} on tuner ${e.adapter} given up: ${e.reason}`);
  };

  constructor(private readonly req: DvbStreamRequest, private readonly deps: DvbStreamDeps, private readonly hooks: StreamHooks) {
    this.log = deps.logger.child({ group: req.group, channel: req.channel.name, serviceId: req.channel.serviceId });
    void this.run();
  }

  get pid(): number | undefined {
    return this.handle ? this.deps.pool.pidOf(this.handle.carrier) : undefined;
  }

  status(): DvbStreamStatus {
    return {
      ...(this.handle ? { carrier: this.handle.carrier, adapter: this.handle.adapter } : {}),
      ...(this.pid !== undefined ? { pid: this.pid } : {}),
      serviceId: this.req.channel.serviceId,
      ...(this.names ? { serviceName: this.names.name, provider: this.names.provider } : {}),
      sdpVersion: this.sdpVersion,
    };
  }

  sdp(): string | undefined {
    return this.currentSdp;
  }

  async stop(reason: string): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.log.info({ reason }, 'stopping DVB service');
    this.deps.pool.off('failed', this.onFailed);
    // Deletion first (RFC 2974 §3.2), then the output goes.
    const withdrawn = this.announced ? this.deps.announcer.withdraw(this.req.group) : Promise.resolve();
    const handle = this.handle;
    this.handle = undefined;
    await Promise.all([withdrawn, handle ? this.deps.pool.release(handle) : undefined]);
  }

  retarget(ifaces: string[]): void {
    // One dvblast output line has one ifindex; the first interface keeps the service.
    if (!ifaces.includes(this.req.egress.iface)) {
      this.log.warn({ ifaces, egress: this.req.egress.iface }, 'listeners moved to other interfaces; the service stays on its first one');
    }
  }

  private async run(): Promise<void> {
    const { config, pool } = this.deps;
    const { group, channel, egress } = this.req;
    pool.on('failed', this.onFailed);
    let handle: DvbServiceHandle;
    try {
      const ifindex = (this.deps.ifindex ?? sysIfindex)(egress.iface);
      handle = await pool.acquire({
        group, serviceId: channel.serviceId, tuning: channel.tuning,
        output: { iface: egress.iface, ifindex, ttl: config.rtp.ttl, port: config.rtp.port },
      });
    } catch (err) {
      pool.off('failed', this.onFailed);
      if (!this.stopped) this.hooks.failed(`dvb: ${(err as Error).message}`);
      return;
    }
    if (this.stopped) {
      await pool.release(handle);
      return;
    }
    this.handle = handle;
    this.hooks.live();
    this.announce();
    // The SDT names the service; it repeats at least every 2 s (EN 300 468 §5.2.3 via TR 101 211).
    const names = await pool.sdt(handle);
    if (this.stopped || !names) return;
    this.names = names;
    this.sdpVersion += 1;
    this.currentSdp = this.buildSdp();
    this.deps.announcer.update(group, this.currentSdp);
    this.log.info({ serviceName: names.name, provider: names.provider }, 'service named from the SDT');
  }

  private buildSdp(): string {
    const { config } = this.deps;
    const { group, egress, channel } = this.req;
    return buildSdp({
      group,
      ...(isSsmGroup(group) ? { source: egress.address } : {}),
      port: config.rtp.port,
      rtcpPort: config.rtp.rtcpPort,
      payloadType: PT_MP2T,
      name: this.names?.name || channel.name,
      ...(this.names?.provider ? { info: this.names.provider } : {}),
      sessionId: this.sessionId,
      sessionVersion: this.sdpVersion,
      originAddress: egress.address,
      tool: 'mcast-headend 0.1.0',
      ttl: config.rtp.ttl,
    });
  }

  private announce(): void {
    const { config, announcer } = this.deps;
    this.currentSdp = this.buildSdp();
    announcer.announce(this.req.group, {
      group: this.req.group,
      sdp: this.currentSdp,
      iface: this.req.egress.iface,
      originAddress: this.req.egress.address,
      ttl: config.announce.ttl,
      alsoScoped: config.announce.scopedAddress,
    });
    this.announced = true;
  }
}
