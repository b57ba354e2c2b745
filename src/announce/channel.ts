/**
 * One channel's announcement while it plays: its SDP and its SAP, for the
 * radio path (ingest/radio.ts) and the DVB path (ingest/dvb/stream.ts) alike.
 *
 *   const a = new ChannelAnnouncement({ config, announcer, group, egress });
 *   a.announce({ name: 'Tone', payload: { payloadType: 14 } });           // live: SAP starts, o= version 1
 *   a.announce({ name: 'Tone', info: 'Now playing', payload: ... });      // title changed: version 2, new SAP hash, sent at once
 *   await a.withdraw();                                                   // stop: the SAP deletion (RFC 2974 §3.2)
 *
 * What both paths share and must not tell differently: the session id (NTP
 * seconds at start, RFC 8866 §5.2) kept for the life of the stream and the
 * version raised on every change; the SSM source filter naming the egress
 * address (RFC 4570); RTP and RTCP ports; the o= and SAP origin being the
 * egress address; the tool line.
 */
import type { HeadendConfig } from '../config.js';
import type { Egress } from '../sessions/egress.js';
import type { Announcer } from './announcer.js';
import { buildSdp, type SdpOptions } from './sdp.js';

/** RTP payload as the SDP names it: a static type (14, 33), or a dynamic one with its rtpmap (RFC 8866 §6.6). */
export type SdpPayload = Pick<SdpOptions, 'payloadType' | 'rtpmap' | 'fmtp'>;

/** What changes over a stream's life: names and the payload. */
export interface ChannelDescription {
  /** s=: what the source calls itself, or the admin's name. */
  name: string;
  /** i=: e.g. the current title, or the DVB provider. */
  info?: string;
  /** u= */
  url?: string;
  /** b=AS: in kbit/s. */
  bandwidthKbps?: number;
  payload: SdpPayload;
}

export interface ChannelAnnouncementOptions {
  config: Pick<HeadendConfig, 'rtp' | 'announce'>;
  announcer: Pick<Announcer, 'announce' | 'update' | 'withdraw'>;
  group: string;
  egress: Egress;
  /** The announcer's key (default: the group); one per interface when a group is served on several. */
  key?: string;
  /** Injected for tests: ms since epoch (default Date.now). */
  now?: () => number;
}

export const TOOL = 'mcast-headend 0.1.0';

/** Seconds from the NTP epoch (1900) to the Unix epoch (1970). */
const NTP_UNIX_OFFSET_S = 2_208_988_800;

/** True for source-specific groups (RFC 4607 §1: 232/8, ff3x::/32): the SDP then carries a source filter. */
export function isSsmGroup(group: string): boolean {
  if (group.includes(':')) return /^ff3[0-9a-f]:/i.test(group);
  return group.startsWith('232.');
}

export class ChannelAnnouncement {
  private readonly sessionId: string;
  private version = 1;
  private current: string | undefined;
  private announced = false;

  constructor(private readonly opts: ChannelAnnouncementOptions) {
    this.sessionId = String(Math.floor((opts.now ?? Date.now)() / 1000) + NTP_UNIX_OFFSET_S);
  }

  get key(): string {
    return this.opts.key ?? this.opts.group;
  }

  /** The o= version of the SDP announced last (1 before any). */
  get sdpVersion(): number {
    return this.version;
  }

  get isAnnounced(): boolean {
    return this.announced;
  }

  /** The SDP announced now (undefined before the first announce). */
  sdp(): string | undefined {
    return this.current;
  }

  /** The SDP a description gives, at the current version (nothing sent). */
  build(d: ChannelDescription): string {
    const { config, group, egress } = this.opts;
    return buildSdp({
      group,
      ...(isSsmGroup(group) ? { source: egress.address } : {}),
      port: config.rtp.port,
      rtcpPort: config.rtp.rtcpPort,
      ...d.payload,
      name: d.name,
      ...(d.info ? { info: d.info } : {}),
      ...(d.url ? { url: d.url } : {}),
      ...(d.bandwidthKbps ? { bandwidthKbps: d.bandwidthKbps } : {}),
      sessionId: this.sessionId,
      sessionVersion: this.version,
      originAddress: egress.address,
      tool: TOOL,
      ttl: config.rtp.ttl,
    });
  }

  /**
   * The first call starts the SAP announcements; each later call is a change:
   * the version goes up, and the announcer sends the new SDP (new hash) at once.
   */
  announce(d: ChannelDescription): void {
    const { config, announcer, group, egress } = this.opts;
    if (this.announced) {
      this.version += 1;
      this.current = this.build(d);
      announcer.update(this.key, this.current);
      return;
    }
    this.current = this.build(d);
    announcer.announce(this.key, {
      group,
      sdp: this.current,
      iface: egress.iface,
      originAddress: egress.address,
      ttl: config.announce.ttl,
      alsoScoped: config.announce.scopedAddress,
    });
    this.announced = true;
  }

  /** Sends the deletion if anything was announced; resolves once it is out. */
  withdraw(): Promise<void> {
    if (!this.announced) return Promise.resolve();
    this.announced = false;
    return this.opts.announcer.withdraw(this.key);
  }
}
