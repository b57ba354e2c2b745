/**
 * Optional kernel features that some tests (and doctor) need. A kernel built
 * without CONFIG_IP_MROUTE / CONFIG_IPV6_MROUTE (many VM and container
 * kernels) has no multicast routing: MRT_INIT / MRT6_INIT fail with errno 92
 * (ENOPROTOOPT). The kernel creates /proc/net/ip_mr_vif and
 * /proc/net/ip6_mr_vif exactly when it has that support, in every network
 * namespace, so their presence is the check (no socket, no capability).
 */
import { existsSync } from 'node:fs';

/** True when the running kernel has IPv4 (4) or IPv6 (6) multicast routing. */
export function hasMulticastRouting(family: 4 | 6): boolean {
  return existsSync(family === 4 ? '/proc/net/ip_mr_vif' : '/proc/net/ip6_mr_vif');
}

/** A skip reason for node:test when multicast routing is missing, else false. */
export function needsMulticastRouting(...families: Array<4 | 6>): string | false {
  const missing = families.filter((f) => !hasMulticastRouting(f));
  if (missing.length === 0) return false;
  return `this kernel has no multicast routing (${missing.map((f) => (f === 4 ? 'CONFIG_IP_MROUTE' : 'CONFIG_IPV6_MROUTE')).join(', ')}): MRT_INIT fails with errno 92`;
}
