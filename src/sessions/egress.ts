/**
 * Where a stream leaves: the address of the interface the listeners are on.
 * ffmpeg's udp/rtp protocol has no interface option; the interface is chosen
 * by binding to one of its addresses (`localaddr`), so we pick it here
 * (PROTOCOLS.md §3). The same address is the SSM source that the SDP's
 * `a=source-filter` names and the SAP origin.
 *
 * IPv6: a global address when the interface has one (a source every host on
 * the link can name without a zone), else the link-local one written
 * `fe80::x%IF` for ffmpeg. IPv4: the interface's first address.
 *
 * But binding a socket to a global IPv6 address does not choose the
 * interface its multicast leaves by (the kernel takes the first ff00::/8
 * route; IPv4 does follow the bound address): measured with two interfaces,
 * ffmpeg bound to lan1's global address sent out of lan0. Binding to a
 * link-local address with its zone does pin the interface. So a sender that
 * picks its interface by binding (ffmpeg) uses the link-local address when
 * the host has more than one interface multicast could leave by; a sender
 * that names the interface itself (dvblast's ifindex) keeps the global one.
 */
import { isIPv4 } from 'node:net';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';

export interface Egress {
  iface: string;
  /** Address text without a zone (for SDP, SAP origin, source-filter). */
  address: string;
  /** What ffmpeg binds to: the address, plus `%IF` for an IPv6 link-local. */
  localaddr: string;
  family: 4 | 6;
}

export class EgressError extends Error {
  constructor(readonly iface: string, reason: string) {
    super(`interface ${iface}: ${reason}`);
    this.name = 'EgressError';
  }
}

/**
 * How the sender picks its interface: 'bind' by the address it binds to
 * (ffmpeg's localaddr), 'ifindex' by naming the interface (dvblast).
 */
export type EgressSender = 'bind' | 'ifindex';

/** The egress for sending to `group` out of `iface` (the group's family decides). */
export function egressFor(
  group: string,
  iface: string,
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces(),
  sender: EgressSender = 'ifindex',
): Egress {
  const family: 4 | 6 = isIPv4(group) ? 4 : 6;
  const addrs = interfaces[iface];
  if (!addrs || addrs.length === 0) throw new EgressError(iface, 'no such interface, or it has no address');
  if (family === 4) {
    const a = addrs.find((x) => x.family === 'IPv4');
    if (!a) throw new EgressError(iface, `has no IPv4 address to send ${group} from`);
    return { iface, address: a.address, localaddr: a.address, family };
  }
  const v6 = addrs.filter((x) => x.family === 'IPv6');
  const global = v6.find((x) => !x.address.startsWith('fe80:') && x.scopeid === 0 && !x.internal);
  const ipv6Links = Object.values(interfaces).filter((list) => list?.some((x) => x.family === 'IPv6' && !x.internal)).length;
  const bindMustPin = sender === 'bind' && ipv6Links > 1;
  if (global && !bindMustPin) return { iface, address: global.address, localaddr: global.address, family };
  const ll = v6.find((x) => x.address.startsWith('fe80:'));
  if (!ll) throw new EgressError(iface, `has no IPv6 address to send ${group} from`);
  return { iface, address: ll.address, localaddr: `${ll.address}%${iface}`, family };
}
