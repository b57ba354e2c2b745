/**
 * What admins hand to clients: an M3U playlist of the channels (VLC, Kodi's
 * IPTV Simple client) and the SDP of one channel. Shared by the HTTP API and
 * `headend export`.
 *
 * M3U entries are `rtp://[SOURCE]@[group]:5004`. The groups of the plan are
 * SSM (ff3e::/16, 232/8): a player should join (source, group) there
 * (RFC 4604 §2.2); the membership room counts any-source joins too only while
 * `membership.ssmAnySourceJoins` is "accept" (the default). VLC takes the
 * source before the `@` (style 'vlc', the default); ffmpeg-based players
 * (Kodi, mpv, ffplay) take `?sources=` (style 'ffmpeg'). Without a known
 * source the entry is the plain `rtp://@[group]:5004` (fine for ASM groups).
 */
import { isIPv4 } from 'node:net';
import type { HeadendConfig } from '../config.js';
import { buildSdp, PT_MP2T, PT_MPA } from '../announce/sdp.js';
import { egressFor } from '../sessions/egress.js';
import type { Channel } from '../store/types.js';

export interface M3uOptions {
  port: number;
  /** SSM source per family; omitted = any-source form. */
  source6?: string;
  source4?: string;
  /** Use the IPv4 groups (channels without one are left out). */
  ipv4?: boolean;
  /** How the SSM source is written: `rtp://SRC@[G]:P` (vlc) or `rtp://[G]:P?sources=SRC` (ffmpeg). */
  style?: 'vlc' | 'ffmpeg';
}

const attr = (v: string) => v.replace(/["\r\n]/g, ' ').trim();
const title = (v: string) => v.replace(/[\r\n]/g, ' ').trim();

/** A short stable id for EPG matching (tvg-id): the service number in hex. */
export const tvgId = (c: Channel) => `sn${c.serviceNumber.toString(16).padStart(8, '0')}`;

export function rtpUri(group: string, port: number, source?: string, style: 'vlc' | 'ffmpeg' = 'vlc'): string {
  const host = isIPv4(group) ? group : `[${group}]`;
  if (style === 'ffmpeg') return `rtp://${host}:${port}${source ? `?sources=${source}` : ''}`;
  const src = source ? (isIPv4(source) ? source : `[${source}]`) : '';
  return `rtp://${src}@${host}:${port}`;
}

export function buildM3u(channels: Channel[], opts: M3uOptions): string {
  const lines = ['#EXTM3U'];
  for (const c of channels) {
    const group = opts.ipv4 ? c.groupV4 : c.group;
    if (!group) continue;
    const attrs = [
      `tvg-id="${tvgId(c)}"`,
      `tvg-name="${attr(c.name)}"`,
      `tvg-chno="${c.id}"`,
      ...(c.tags.length ? [`group-title="${attr(c.tags[0])}"`] : []),
      ...(c.kind === 'radio' ? ['radio="true"'] : []),
    ];
    lines.push(`#EXTINF:-1 ${attrs.join(' ')},${title(c.name)}`);
    lines.push(rtpUri(group, opts.port, opts.ipv4 ? opts.source4 : opts.source6, opts.style));
  }
  return lines.join('\n') + '\n';
}

/** The headend's sending addresses (the SSM sources), from the first configured interface. */
export function headendSources(cfg: HeadendConfig): { source6?: string; source4?: string } {
  const iface = cfg.interfaces[0];
  if (!iface) return {};
  const out: { source6?: string; source4?: string } = {};
  try {
    const e = egressFor('ff3e::1', iface);
    if (!e.address.startsWith('fe80:')) out.source6 = e.address;
  } catch { /* no IPv6 address: any-source form */ }
  try { out.source4 = egressFor('232.0.0.1', iface).address; } catch { /* no IPv4 */ }
  return out;
}

/**
 * The SDP of a channel that is not playing: what the headend will announce
 * once a listener joins (MPEG audio, PT 14, for radio; MPEG-TS, PT 33, for
 * DVB). While it plays, the live SDP from the session replaces it.
 */
export function channelSdp(c: Channel, cfg: HeadendConfig, opts: { ipv4?: boolean; source?: string } = {}): string {
  const group = opts.ipv4 ? c.groupV4 : c.group;
  if (!group) throw new Error(`channel ${c.id} has no IPv4 group`);
  const source = opts.source ?? (opts.ipv4 ? headendSources(cfg).source4 : headendSources(cfg).source6);
  return buildSdp({
    group,
    source,
    port: cfg.rtp.port,
    rtcpPort: cfg.rtp.rtcpPort,
    payloadType: c.kind === 'dvb' ? PT_MP2T : PT_MPA,
    name: c.name,
    info: c.tags.length ? c.tags.join(', ') : undefined,
    url: c.homepage,
    sessionId: c.serviceNumber,
    sessionVersion: 1,
    originAddress: source ?? (opts.ipv4 ? '0.0.0.0' : '::'),
    tool: 'mcast-headend 0.1.0',
    ttl: cfg.rtp.ttl,
  });
}
