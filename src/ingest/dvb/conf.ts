/**
 * dvblast's config file, pure: one line per service output,
 *
 *   [ff3e:40:2001:db8:1:0:8001:3e9]:5004/ifindex=6/ttl=1<TAB>1<TAB>1001
 *
 * destination (RTP unless `/udp`), the "always on" flag, the service id.
 * dvblast keys outputs by destination: `dvblastctl reload` re-reads the file,
 * adds new lines, drops missing ones and leaves unchanged ones running, so
 * the other services on the carrier never see a gap.
 */
import { isIP } from 'node:net';

export interface ServiceOutput {
  /** Multicast group (IPv6 or IPv4 text). */
  group: string;
  port: number;
  /** Interface index the group is sent out of (IPV6_MULTICAST_IF / IP_MULTICAST_IF). */
  ifindex: number;
  ttl: number;
  /** Plain UDP instead of RTP (some set-top boxes want it). */
  udp?: boolean;
  /** The service id in the carrier's transport stream (PAT program_number). */
  serviceId: number;
}

export class DvblastConfError extends Error {
  constructor(readonly field: string, reason: string) {
    super(`dvblast output ${field}: ${reason}`);
    this.name = 'DvblastConfError';
  }
}

function checkInt(field: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new DvblastConfError(field, `must be an integer ${min}..${max}, got ${v}`);
}

/** `[group]:port/ifindex=N/ttl=N[/udp]`: the destination dvblast sends one service to. */
export function outputTarget(o: Omit<ServiceOutput, 'serviceId'>): string {
  // A zone (`%eth0`) is not part of a group: the interface is ifindex.
  const family = o.group.includes('%') ? 0 : isIP(o.group);
  if (family === 0) throw new DvblastConfError('group', `not an IP address: ${JSON.stringify(o.group)}`);
  const multicast = family === 6 ? /^ff/i.test(o.group) : Number(o.group.split('.')[0]) >= 224 && Number(o.group.split('.')[0]) <= 239;
  if (!multicast) throw new DvblastConfError('group', `not a multicast group: ${o.group}`);
  checkInt('port', o.port, 1, 65535);
  checkInt('ifindex', o.ifindex, 1, 0x7fffffff);
  checkInt('ttl', o.ttl, 1, 255);
  const host = family === 6 ? `[${o.group}]` : o.group;
  return `${host}:${o.port}/ifindex=${o.ifindex}/ttl=${o.ttl}${o.udp ? '/udp' : ''}`;
}

/** The whole file for the services currently wanted on a carrier (sorted, so equal sets give equal files). */
export function renderConf(outputs: readonly ServiceOutput[]): string {
  const lines = outputs.map((o) => {
    checkInt('serviceId', o.serviceId, 1, 65535);
    return `${outputTarget(o)}\t1\t${o.serviceId}`;
  });
  return lines.sort().map((l) => `${l}\n`).join('');
}
