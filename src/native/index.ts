/**
 * The raw-socket addon (native/rawsock.cc), loaded lazily and typed.
 *
 * The addon is deliberately thin: open a raw socket, pass setsockopt through,
 * poll the fd, frame sends. This module adds the typing, the Linux option
 * values the membership edge needs (taken from the addon, never hard-coded
 * here), and `openMembershipSocket`, which applies the options PROTOCOLS.md §1
 * "Receiving and sending on Linux" asks for.
 *
 * IPv4: the kernel delivers the IP header; the ADDON strips it (and reads the
 * TTL, Router Alert option, source and destination from it), so both families
 * hand TypeScript the IGMP / ICMPv6 message only.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * One datagram as the addon delivers it. When `error` is set the datagram
 * could not be framed and only `payload` (possibly empty) is meaningful.
 */
export interface RawPacket {
  /** The IGMP or ICMPv6 message only (IPv4 header already stripped). */
  payload: Buffer;
  /** Source address bytes (4 or 16). */
  from: Buffer;
  /** Destination address bytes; null when the kernel gave no IPV6_PKTINFO. */
  to: Buffer | null;
  /** Receiving interface index (0 = unknown). */
  ifindex: number;
  /** IPv4 TTL / IPv6 hop limit; -1 when unknown. */
  ttl: number;
  /** IPv4 option 148 or IPv6 hop-by-hop option 5 present (RFC 2113 / RFC 2711). */
  routerAlert: boolean;
  /** Set when the datagram could not be framed (short IPv4 header, truncated). */
  error?: string;
}

export type PacketHandler = (err: Error | null, pkt?: RawPacket) => void;

/** A raw socket. Errors are thrown as Error with `syscall` and `errno`. */
export interface RawSocket {
  setsockopt(level: number, name: number, value: number | Buffer): void;
  /** MCAST_JOIN_GROUP on the interface with this index. */
  joinGroup(group: Buffer, ifindex: number): void;
  leaveGroup(group: Buffer, ifindex: number): void;
  /** sendmsg with PKTINFO (interface, source); IPv6 adds Router Alert hop-by-hop and hop limit 1. */
  send(payload: Buffer, to: Buffer, ifindex: number, from: Buffer): number;
  /** MRT_INIT / MRT6_INIT: hear IGMPv1/v2 and MLDv1 reports to any group (needs CAP_NET_ADMIN). */
  mrouteInit(): void;
  /** MRT_ADD_VIF (by ifindex) / MRT6_ADD_MIF: one per interface, `vif` counting from 0. */
  mrouteAddInterface(vif: number, ifindex: number): void;
  /** Stops polling and closes the fd; safe to call twice. */
  close(): void;
}

export interface NativeConstants {
  IPPROTO_IP: number; IPPROTO_IPV6: number; IPPROTO_IGMP: number; IPPROTO_ICMPV6: number;
  IP_PKTINFO: number; IP_RECVTTL: number; IP_OPTIONS: number; IP_TOS: number;
  IP_MULTICAST_IF: number; IP_MULTICAST_TTL: number; IP_MULTICAST_LOOP: number; IP_ADD_MEMBERSHIP: number;
  IPV6_RECVPKTINFO: number; IPV6_RECVHOPLIMIT: number; IPV6_RECVHOPOPTS: number;
  IPV6_MULTICAST_IF: number; IPV6_MULTICAST_HOPS: number; IPV6_MULTICAST_LOOP: number; IPV6_ADD_MEMBERSHIP: number;
  ICMP6_FILTER: number; SOL_SOCKET: number; SO_RCVBUF: number; SO_BINDTODEVICE: number;
  MRT_INIT: number; MRT6_INIT: number;
}

export interface NativeAddon {
  RawSocket: new (family: 4 | 6, protocol: number, onPacket: PacketHandler) => RawSocket;
  ifNameToIndex(name: string): number;
  /** The interface's addresses (getifaddrs), primary IPv4 first; also while the link is down. */
  interfaceAddresses(name: string): Array<{ family: 4 | 6; address: Buffer }>;
  constants: NativeConstants;
}

export class NativeAddonMissingError extends Error {
  constructor(readonly path: string, cause?: unknown) {
    super(`raw-socket addon not built (${path}): run \`npm ci\` or \`npm run build:native\`` +
      (cause ? ` (${(cause as Error).message})` : ''));
    this.name = 'NativeAddonMissingError';
  }
}

/** build/Release/rawsock.node, from src/native (tsx) or dist/native (compiled). */
export const ADDON_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'build', 'Release', 'rawsock.node');

let addon: NativeAddon | undefined;

/** Loads the addon once; throws NativeAddonMissingError naming the fix. */
export function loadNative(): NativeAddon {
  if (addon) return addon;
  if (!existsSync(ADDON_PATH)) throw new NativeAddonMissingError(ADDON_PATH);
  try {
    addon = createRequire(import.meta.url)(ADDON_PATH) as NativeAddon;
  } catch (err) {
    throw new NativeAddonMissingError(ADDON_PATH, err);
  }
  return addon;
}

/**
 * ICMP6_FILTER value passing only `types` (RFC 3542 §3.2). On Linux the
 * struct is eight host-order 32-bit words and a SET bit BLOCKS the type.
 */
export function icmp6FilterPassOnly(types: number[]): Buffer {
  const words = new Uint32Array(8).fill(0xffffffff);
  for (const t of types) words[t >> 5] &= ~(1 << (t & 31)) >>> 0;
  return Buffer.from(words.buffer);
}

/** RFC 2113 Router Alert as the whole IPv4 options field: type 148, length 4, value 0. */
export const IPV4_ROUTER_ALERT = Buffer.from([0x94, 0x04, 0x00, 0x00]);

/** MLD message types the router side listens to (RFC 9777 §5): query, v1 report, done, v2 report. */
export const MLD_TYPES = [130, 131, 132, 143];

/**
 * A raw socket for IGMP (family 4) or MLD (family 6) with the options the
 * router side needs: ancillary data for interface, destination, hop limit and
 * Router Alert on receive; TTL/hop limit 1, no loopback, Router Alert and
 * (IPv4) TOS 0xc0 (Internetwork Control, RFC 9776 §4) on send.
 */
export function openMembershipSocket(family: 4 | 6, onPacket: PacketHandler): RawSocket {
  const n = loadNative();
  const k = n.constants;
  const sock = new n.RawSocket(family, family === 4 ? k.IPPROTO_IGMP : k.IPPROTO_ICMPV6, onPacket);
  try {
    // Room for a burst of reports (every host answering one general query);
    // the kernel caps this at net.core.rmem_max without complaint.
    sock.setsockopt(k.SOL_SOCKET, k.SO_RCVBUF, 1 << 20);
    if (family === 4) {
      sock.setsockopt(k.IPPROTO_IP, k.IP_PKTINFO, 1);
      sock.setsockopt(k.IPPROTO_IP, k.IP_OPTIONS, IPV4_ROUTER_ALERT);
      sock.setsockopt(k.IPPROTO_IP, k.IP_TOS, 0xc0);
      sock.setsockopt(k.IPPROTO_IP, k.IP_MULTICAST_TTL, 1);
      sock.setsockopt(k.IPPROTO_IP, k.IP_MULTICAST_LOOP, 0);
    } else {
      sock.setsockopt(k.IPPROTO_ICMPV6, k.ICMP6_FILTER, icmp6FilterPassOnly(MLD_TYPES));
      sock.setsockopt(k.IPPROTO_IPV6, k.IPV6_RECVPKTINFO, 1);
      sock.setsockopt(k.IPPROTO_IPV6, k.IPV6_RECVHOPLIMIT, 1);
      sock.setsockopt(k.IPPROTO_IPV6, k.IPV6_RECVHOPOPTS, 1);
      sock.setsockopt(k.IPPROTO_IPV6, k.IPV6_MULTICAST_HOPS, 1);
      sock.setsockopt(k.IPPROTO_IPV6, k.IPV6_MULTICAST_LOOP, 0);
    }
  } catch (err) {
    sock.close();
    throw err;
  }
  return sock;
}
