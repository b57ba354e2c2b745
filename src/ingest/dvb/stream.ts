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
import { ChannelAnnouncement, type ChannelDescription } from '../../announce/channel.js';
import { PT_MP2T } from '../../announce/sdp.js';
import type { Egress } from '../../sessions/egress.js';
import type { RunningStream, StreamHooks } from '../../sessions/driver.js';
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
  private names: { name: string; provider: string } | null = null;
  private readonly announcement: ChannelAnnouncement;
  private readonly onFailed = (e: TunerPoolEvents['failed'][0]): void => {
    if (this.stopped || !e.groups.includes(this.req.group)) return;
    this.handle = undefined;
    this.hooks.failed(`dvb: carrier ${e.carrier} on tuner ${e.adapter} given up: ${e.reason}`);
  };

  constructor(private readonly req: DvbStreamRequest, private readonly deps: DvbStreamDeps, private readonly hooks: StreamHooks) {
    this.log = deps.logger.child({ group: req.group, channel: req.channel.name, serviceId: req.channel.serviceId });
    this.announcement = new ChannelAnnouncement({ config: deps.config, announcer: deps.announcer, group: req.group, egress: req.egress });
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
      sdpVersion: this.announcement.sdpVersion,
    };
  }

  sdp(): string | undefined {
    return this.announcement.sdp();
  }

  async stop(reason: string): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.log.info({ reason, pid: this.pid }, 'stopping DVB service');
    this.deps.pool.off('failed', this.onFailed);
    // Deletion first (RFC 2974 §3.2), then the output goes.
    const withdrawn = this.announcement.withdraw();
    const handle = this.handle;
    this.handle = undefined;
    await Promise.all([withdrawn, handle ? this.deps.pool.release(handle) : undefined]);
  }

  retarget(ifaces: string[]): void {
    // One dvblast output line has one ifindex; the first interface keeps the service.
    if (!ifaces.includes(this.req.egress.iface)) {
      this.log.warn({ ifaces, egress: this.req.egress.iface, pid: this.pid }, 'listeners moved to other interfaces; the service stays on its first one');
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
    this.announcement.announce(this.describe());
    // The SDT names the service; it repeats at least every 2 s (EN 300 468 §5.2.3 via TR 101 211).
    const names = await pool.sdt(handle);
    if (this.stopped || !names) return;
    this.names = names;
    this.announcement.announce(this.describe());
    this.log.info({ serviceName: names.name, provider: names.provider, pid: this.pid }, 'service named from the SDT');
  }

  private describe(): ChannelDescription {
    return {
      name: this.names?.name || this.req.channel.name,
      ...(this.names?.provider ? { info: this.names.provider } : {}),
      payload: { payloadType: PT_MP2T },
    };
  }
}
