/**
 * Announces each live stream with SAP (RFC 2974) to its own group, port 9875,
 * so that a client that joined one group hears the description of exactly
 * that stream (PROTOCOLS.md §2), and optionally to the RFC 2974 scoped SAP
 * address where VLC's SAP discovery listens.
 *
 *   const a = new Announcer({ logger, intervalMs: 5000 });
 *   a.announce('ff3e::8000:1', { group, sdp, iface: 'lan0', originAddress, ttl: 255, alsoScoped: true });
 *   a.update('ff3e::8000:1', newSdp);   // new hash, sent at once
 *   await a.withdraw('ff3e::8000:1');   // deletion with the LAST announced hash, then stop
 *   await a.close();                    // withdraws everything, closes sockets
 *
 * The first announcement leaves at once; then one every intervalMs (FFmpeg
 * and VLC use 5 s), each spaced by intervalMs ± up to a third, as RFC 2974
 * §3.1 asks, so that sessions started together do not stay in step. A send error is logged and counted, never
 * thrown: the stream keeps playing without its announcement.
 *
 * For SSM the SAP packet must come from the stream's source address, or a
 * client that joined (S,G) filters it out; so the socket binds to
 * originAddress (RFC 4604 §2).
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Logger } from '../log.js';
import { SAP_PORT, encodeSap, sapHash, sapScopeAddress } from './sap.js';

/** Where and how one SAP packet goes. */
export interface SapDestination {
  address: string;
  port: number;
  family: 4 | 6;
  /** Egress interface name. */
  iface: string;
  /** Source address to bind (the stream's origin / SSM source). */
  originAddress: string;
  ttl: number;
}

/** The edge: sends datagrams. Production: UdpSapTransport; tests: a recorder. */
export interface SapTransport {
  send(packet: Buffer, dest: SapDestination): Promise<void>;
  close(): Promise<void>;
}

export interface AnnouncerTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: AnnouncerTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface AnnouncerOptions {
  logger: Logger;
  /** cfg.announce.intervalMs, default 5000. */
  intervalMs?: number;
  /** cfg.rtp.sapPort, default 9875. */
  port?: number;
  /** Default TTL / hop limit (cfg.announce.ttl, default 255). */
  ttl?: number;
  /** Default for alsoScoped (cfg.announce.scopedAddress). */
  scoped?: boolean;
  transport?: SapTransport;
  timers?: AnnouncerTimers;
  /** Uniform in [0, 1); injectable so tests get exact intervals (0.5 = no offset). */
  random?: () => number;
}

export interface AnnounceParams {
  group: string;
  sdp: string;
  /** Egress interface name. */
  iface: string;
  /** The stream's source address: SAP origin field and socket bind address. */
  originAddress: string;
  ttl?: number;
  /** Also send to the RFC 2974 scoped SAP address (ff0e::2:7ffe for ff3e::/16 ...). */
  alsoScoped?: boolean;
}

interface Session {
  key: string;
  params: AnnounceParams;
  destinations: SapDestination[];
  hash: number;
  packet: Buffer;
  timer: unknown;
}

export interface AnnouncerStats {
  sessions: number;
  sent: number;
  sendErrors: number;
}

/** RFC 2974 §6: announcements should stay under 1 kB; larger ones still go, with a warning. */
const SAP_SIZE_HINT = 1024;

export class Announcer {
  private readonly sessions = new Map<string, Session>();
  private readonly log: Logger;
  private readonly intervalMs: number;
  private readonly port: number;
  private readonly ttl: number;
  private readonly scoped: boolean;
  private readonly transport: SapTransport;
  private readonly timers: AnnouncerTimers;
  private readonly random: () => number;
  private sent = 0;
  private sendErrors = 0;
  private closed: Promise<void> | null = null;

  constructor(opts: AnnouncerOptions) {
    this.log = opts.logger;
    this.intervalMs = opts.intervalMs ?? 5_000;
    this.port = opts.port ?? SAP_PORT;
    this.ttl = opts.ttl ?? 255;
    this.scoped = opts.scoped ?? false;
    this.transport = opts.transport ?? new UdpSapTransport(opts.logger);
    this.timers = opts.timers ?? realTimers;
    this.random = opts.random ?? Math.random;
  }

  stats(): AnnouncerStats {
    return { sessions: this.sessions.size, sent: this.sent, sendErrors: this.sendErrors };
  }

  /** The hash currently announced for `key` (for tests and the API). */
  hashOf(key: string): number | undefined {
    return this.sessions.get(key)?.hash;
  }

  /** Starts announcing; the first packet leaves now. Announcing a known key again updates it. */
  announce(key: string, params: AnnounceParams): void {
    if (this.closed) throw new Error(`announcer closed; cannot announce ${key}`);
    const old = this.sessions.get(key);
    if (old) {
      const same = old.params.group === params.group && old.params.iface === params.iface
        && old.params.originAddress === params.originAddress && old.params.ttl === params.ttl && old.params.alsoScoped === params.alsoScoped;
      if (same) { this.update(key, params.sdp); return; }
      void this.withdraw(key);
    }
    const family: 4 | 6 = isIPv6(params.group) ? 6 : 4;
    const ttl = params.ttl ?? this.ttl;
    const addresses = [params.group];
    if (params.alsoScoped ?? this.scoped) {
      const scoped = sapScopeAddress(params.group);
      if (scoped !== params.group) addresses.push(scoped);
    }
    const destinations = addresses.map((address): SapDestination => ({
      address, port: this.port, family, iface: params.iface, originAddress: params.originAddress, ttl,
    }));
    const hash = sapHash(params.sdp);
    const session: Session = { key, params, destinations, hash, packet: this.packet(params, hash, false), timer: null };
    this.sessions.set(key, session);
    this.log.info({ group: params.group, hash, destinations: addresses }, 'announcing');
    this.sendNow(session);
    this.arm(session);
  }

  /** A changed SDP: new hash (never the previous one), sent at once, interval restarted. */
  update(key: string, sdp: string): void {
    const s = this.sessions.get(key);
    if (!s) throw new Error(`no announcement for ${key}`);
    if (sdp === s.params.sdp) return;
    let hash = sapHash(sdp);
    // RFC 2974 §5: the hash must change with the payload, or receivers keep the old one.
    if (hash === s.hash) hash = (hash % 0xffff) + 1;
    s.params = { ...s.params, sdp };
    s.hash = hash;
    s.packet = this.packet(s.params, hash, false);
    this.log.info({ group: s.params.group, hash }, 'announcement updated');
    this.sendNow(s);
    this.arm(s);
  }

  /**
   * Sends a deletion (RFC 2974 §3.2) carrying the last announced hash and
   * SDP, then stops announcing. FFmpeg's sap demuxer ends playback on it;
   * VLC ignores it and times the session out.
   */
  async withdraw(key: string): Promise<void> {
    const s = this.sessions.get(key);
    if (!s) return;
    this.sessions.delete(key);
    this.timers.clearTimeout(s.timer);
    const deletion = this.packet(s.params, s.hash, true);
    this.log.info({ group: s.params.group, hash: s.hash }, 'announcement withdrawn');
    await Promise.all(s.destinations.map((d) => this.sendOne(deletion, d)));
  }

  /** Withdraws everything and closes the sockets. Safe to call twice. */
  close(): Promise<void> {
    if (this.closed) return this.closed;
    this.closed = (async () => {
      await Promise.all([...this.sessions.keys()].map((k) => this.withdraw(k)));
      await this.transport.close();
    })();
    return this.closed;
  }

  private packet(p: AnnounceParams, hash: number, deletion: boolean): Buffer {
    const packet = encodeSap({ deletion, origin: p.originAddress, msgIdHash: hash, payload: p.sdp });
    if (!deletion && packet.length > SAP_SIZE_HINT) this.log.warn({ group: p.group, bytes: packet.length }, 'SAP packet above 1024 bytes (RFC 2974 §6)');
    return packet;
  }

  /** RFC 2974 §3.1: next announcement after interval + offset, offset uniform in ±interval/3. */
  private arm(s: Session): void {
    if (s.timer !== null) this.timers.clearTimeout(s.timer);
    const offset = (this.random() * 2 - 1) * (this.intervalMs / 3);
    s.timer = this.timers.setTimeout(() => {
      if (this.sessions.get(s.key) !== s) return;
      this.sendNow(s);
      this.arm(s);
    }, Math.round(this.intervalMs + offset));
  }

  private sendNow(s: Session): void {
    for (const d of s.destinations) void this.sendOne(s.packet, d);
  }

  private async sendOne(packet: Buffer, d: SapDestination): Promise<void> {
    try {
      await this.transport.send(packet, d);
      this.sent += 1;
    } catch (err) {
      this.sendErrors += 1;
      this.log.warn({ err, group: d.address, iface: d.iface }, 'SAP send failed');
    }
  }
}

/**
 * node:dgram transport: one socket per (family, interface, origin, ttl),
 * bound to the origin address so SSM receivers accept the packets, with the
 * multicast interface and TTL / hop limit set on it.
 */
export class UdpSapTransport implements SapTransport {
  private readonly sockets = new Map<string, Promise<Socket>>();

  constructor(private readonly log: Logger) {}

  async send(packet: Buffer, d: SapDestination): Promise<void> {
    const sock = await this.socketFor(d);
    await new Promise<void>((resolve, reject) => {
      sock.send(packet, d.port, d.address, (err) => (err ? reject(err) : resolve()));
    });
  }

  private socketFor(d: SapDestination): Promise<Socket> {
    const key = `${d.family}|${d.iface}|${d.originAddress}|${d.ttl}`;
    let p = this.sockets.get(key);
    if (!p) {
      p = openSocket(d);
      this.sockets.set(key, p);
      // A socket that could not open (address not yet configured...) is retried next time.
      p.catch(() => this.sockets.delete(key));
      p.then((s) => s.on('error', (err) => {
        this.log.warn({ err, iface: d.iface }, 'SAP socket error');
        this.sockets.delete(key);
        s.close();
      }), () => {});
    }
    return p;
  }

  async close(): Promise<void> {
    const all = [...this.sockets.values()];
    this.sockets.clear();
    await Promise.all(all.map(async (p) => {
      try { const s = await p; await new Promise<void>((r) => s.close(() => r())); } catch { /* never opened */ }
    }));
  }
}

/** The interface's first IPv4 address: IP_MULTICAST_IF takes an address, not a name. */
function ipv4Of(iface: string): string | undefined {
  return networkInterfaces()[iface]?.find((a) => a.family === 'IPv4')?.address;
}

function openSocket(d: SapDestination): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const sock = createSocket({ type: d.family === 6 ? 'udp6' : 'udp4' });
    const linkLocal = d.family === 6 && /^fe[89ab]/i.test(d.originAddress);
    const bindAddress = linkLocal ? `${d.originAddress}%${d.iface}` : d.originAddress;
    const fail = (err: Error): void => { sock.close(); reject(err); };
    sock.once('error', fail);
    sock.bind({ address: bindAddress, port: 0, exclusive: true }, () => {
      try {
        sock.setMulticastInterface(d.family === 6 ? `::%${d.iface}` : (ipv4Of(d.iface) ?? d.originAddress));
        sock.setMulticastTTL(d.ttl);
      } catch (err) {
        fail(err as Error);
        return;
      }
      sock.off('error', fail);
      resolve(sock);
    });
  });
}
