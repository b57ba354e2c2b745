/**
 * `headend doctor`: what an admin would check before blaming the headend.
 *
 * Split in two: `gather.ts` reads the host (capabilities, tools, interfaces,
 * routes, sysctls, firewall, queriers heard on the link) into plain `Facts`;
 * `diagnose()` here turns facts into findings. The rules are pure, so each
 * one is tested with made-up facts, and the gatherer is tested in a
 * namespace broken on purpose.
 */

export type Level = 'ok' | 'warn' | 'fail';

export interface Finding {
  check: string;
  level: Level;
  message: string;
  /** What to do about it, for warn and fail. */
  fix?: string;
}

export interface InterfaceFacts {
  name: string;
  exists: boolean;
  up: boolean;
  /** Carrier / operstate is UP (LOWER_UP). */
  lowerUp: boolean;
  multicastFlag: boolean;
  ipv4: string[];
  /** Non-tentative IPv6 link-local addresses. */
  linkLocal6: string[];
  global6: string[];
  disableIpv6: boolean;
  /** net.ipv4.conf.IF.rp_filter (effective: max of all and IF). */
  rpFilter: number;
  forceMldVersion: number;
  forceIgmpVersion: number;
}

export interface Facts {
  /** Effective capabilities of this process. */
  capabilities: { netRaw: boolean; netAdmin: boolean };
  /** Tool name → version line, or null when not found. */
  tools: Record<string, string | null>;
  interfaces: InterfaceFacts[];
  /** Interface the kernel would pick for a sample group of each family (`ip route get`), or null. */
  routeFor: { ipv6Group: string; ipv6Dev: string | null; ipv4Group: string; ipv4Dev: string | null };
  /** Firewall rule text (nft list ruleset / iptables-save), null if no tool could read it. */
  firewall: string | null;
  /** Other queriers heard during the listen window: interface, family, address, version. */
  queriers: Array<{ iface: string; family: 4 | 6; address: string; version: string }>;
  listenMs: number;
  /** Whether the listen could run at all (needs the raw-socket addon and CAP_NET_RAW). */
  listenError?: string;
  database: { path: string; writable: boolean; error?: string };
}

const ok = (check: string, message: string): Finding => ({ check, level: 'ok', message });
const warn = (check: string, message: string, fix: string): Finding => ({ check, level: 'warn', message, fix });
const fail = (check: string, message: string, fix: string): Finding => ({ check, level: 'fail', message, fix });

/** Rules that look for IGMP / MLD being dropped in a firewall ruleset. */
function firewallFindings(text: string): Finding[] {
  const out: Finding[] = [];
  const lines = text.split('\n').map((l) => l.trim());
  const dropsIgmp = lines.some((l) => /\bigmp\b/i.test(l) && /\b(drop|reject|DROP|REJECT)\b/.test(l));
  const dropsMld = lines.some((l) =>
    /(mld|icmpv6|ipv6-icmp)/i.test(l) &&
    /(mld-listener|\b13[0-2]\b|\b143\b|mld2-listener-report|mld-listener-report|mld-listener-query|mld-listener-done|mld-listener-reduction)/i.test(l) &&
    /\b(drop|reject|DROP|REJECT)\b/.test(l));
  // An input chain whose policy is drop, with no rule that accepts IGMP or MLD.
  const dropPolicy = lines.some((l) => /hook input .*policy drop|^:INPUT DROP/.test(l));
  const acceptsIgmp = lines.some((l) => /\bigmp\b/i.test(l) && /\b(accept|ACCEPT)\b/.test(l));
  const acceptsMld = lines.some((l) => /(mld|\b143\b|\b130\b)/i.test(l) && /\b(accept|ACCEPT)\b/.test(l));
  if (dropsIgmp) out.push(fail('firewall-igmp', 'a firewall rule drops IGMP: the headend will not hear IPv4 joins',
    'accept IGMP on the LAN interfaces, e.g. nft: `meta l4proto igmp accept` (deploy/nftables.conf)'));
  if (dropsMld) out.push(fail('firewall-mld', 'a firewall rule drops MLD (ICMPv6 130/131/132/143): the headend will not hear IPv6 joins',
    'accept MLD from link-local sources, e.g. nft: `ip6 saddr fe80::/10 icmpv6 type { mld-listener-query, mld-listener-report, mld-listener-done, mld2-listener-report } accept`'));
  if (dropPolicy && !acceptsIgmp && !dropsIgmp) out.push(warn('firewall-igmp', 'the input policy is drop and no rule accepts IGMP',
    'add an accept rule for IGMP before the policy applies (deploy/nftables.conf)'));
  if (dropPolicy && !acceptsMld && !dropsMld) out.push(warn('firewall-mld', 'the input policy is drop and no rule accepts MLD',
    'add an accept rule for MLD (ICMPv6 130, 131, 132, 143) from fe80::/10 (deploy/nftables.conf)'));
  if (out.length === 0) out.push(ok('firewall', 'no rule found that drops IGMP or MLD'));
  return out;
}

export function diagnose(f: Facts): Finding[] {
  const out: Finding[] = [];

  out.push(f.capabilities.netRaw
    ? ok('cap-net-raw', 'CAP_NET_RAW: raw IGMP/MLD sockets can be opened')
    : fail('cap-net-raw', 'no CAP_NET_RAW: the headend cannot hear joins',
      'run as root, or grant it: systemd AmbientCapabilities=CAP_NET_RAW (deploy/headend.service)'));
  out.push(f.capabilities.netAdmin
    ? ok('cap-net-admin', 'CAP_NET_ADMIN: multicast router sockets (MRT_INIT) available')
    : warn('cap-net-admin', 'no CAP_NET_ADMIN: IGMPv2/MLDv1 reports to arbitrary groups are not heard (membership.multicastRouterSocket)',
      'grant CAP_NET_ADMIN if you need v2/MLDv1 hosts and no smcroute/igmpproxy runs on this host'));

  for (const [tool, version] of Object.entries(f.tools)) {
    const needed = tool === 'ffmpeg';
    if (version) out.push(ok(`tool-${tool}`, `${tool}: ${version}`));
    else if (needed) out.push(fail(`tool-${tool}`, `${tool} not found: radio channels cannot start`, `apt-get install ${tool}, or set ingest.ffmpeg to its path`));
    else out.push(warn(`tool-${tool}`, `${tool} not found: DVB channels cannot start`, `apt-get install ${tool === 'dvblastctl' ? 'dvblast' : tool}`));
  }

  if (f.interfaces.length === 0) {
    out.push(fail('interfaces', 'no interface configured: the headend listens nowhere', 'set `interfaces: [lan0]` in the config or pass --interface'));
  }
  for (const i of f.interfaces) {
    const c = `iface-${i.name}`;
    if (!i.exists) { out.push(fail(c, `${i.name} does not exist`, 'check the name with `ip link`')); continue; }
    if (!i.up) out.push(fail(c, `${i.name} is down`, `ip link set ${i.name} up`));
    else if (!i.lowerUp) out.push(warn(c, `${i.name} is up but has no carrier`, 'check the cable / the other end of the veth or bridge port'));
    if (!i.multicastFlag) out.push(fail(c, `${i.name} has the MULTICAST flag off`, `ip link set ${i.name} multicast on`));
    if (i.disableIpv6) out.push(fail(c, `IPv6 is disabled on ${i.name}: no MLD, no IPv6 groups`, `sysctl -w net.ipv6.conf.${i.name}.disable_ipv6=0`));
    else if (i.linkLocal6.length === 0) out.push(fail(c, `${i.name} has no usable IPv6 link-local address: MLD queries need one as their source (RFC 9777 §5.1.14)`,
      `wait for DAD to finish, or check addr_gen_mode: sysctl net.ipv6.conf.${i.name}.addr_gen_mode`));
    if (i.ipv4.length === 0) out.push(warn(c, `${i.name} has no IPv4 address: IGMP queries go out from 0.0.0.0 and lose every election`, `add an address if IPv4 clients are expected`));
    if (i.rpFilter === 1) out.push(warn(c, `rp_filter is strict on ${i.name}: multicast from sources not routed back through ${i.name} is dropped`,
      `sysctl -w net.ipv4.conf.${i.name}.rp_filter=2 (loose) and net.ipv4.conf.all.rp_filter=2`));
    if (i.forceMldVersion === 1) out.push(warn(c, `force_mld_version=1 on ${i.name}: this host speaks MLDv1 only`, `sysctl -w net.ipv6.conf.${i.name}.force_mld_version=0`));
    if (i.forceIgmpVersion !== 0 && i.forceIgmpVersion !== 3) out.push(warn(c, `force_igmp_version=${i.forceIgmpVersion} on ${i.name}`, `sysctl -w net.ipv4.conf.${i.name}.force_igmp_version=0`));
    if (i.up && i.multicastFlag && !i.disableIpv6 && i.linkLocal6.length > 0) {
      out.push(ok(c, `${i.name}: up, multicast, link-local ${i.linkLocal6[0]}${i.ipv4.length ? `, IPv4 ${i.ipv4[0]}` : ''}`));
    }
  }

  const names = new Set(f.interfaces.map((i) => i.name));
  const r = f.routeFor;
  if (r.ipv6Dev === null) {
    out.push(warn('route-ipv6', `no route for ${r.ipv6Group}: tools that do not pick an interface (ffplay without %iface) cannot send or join`,
      'add one: ip -6 route add ff00::/8 dev IF table local (or a multicast route for ff3e::/16)'));
  } else if (names.size > 0 && !names.has(r.ipv6Dev)) {
    out.push(warn('route-ipv6', `the kernel would send ${r.ipv6Group} out of ${r.ipv6Dev}, not a headend interface`,
      `the headend picks its interface itself; for other tools add: ip -6 route add ff3e::/16 dev ${[...names][0]}`));
  } else out.push(ok('route-ipv6', `${r.ipv6Group} routes via ${r.ipv6Dev}`));
  if (r.ipv4Dev === null) {
    out.push(warn('route-ipv4', `no route for ${r.ipv4Group}: IPv4 multicast cannot be sent (a namespace or host without a default route)`,
      `ip route add 224.0.0.0/4 dev ${[...names][0] ?? 'IF'}`));
  } else if (names.size > 0 && !names.has(r.ipv4Dev)) {
    out.push(warn('route-ipv4', `the kernel would send ${r.ipv4Group} out of ${r.ipv4Dev}, not a headend interface`,
      `ip route add 224.0.0.0/4 dev ${[...names][0]}`));
  } else out.push(ok('route-ipv4', `${r.ipv4Group} routes via ${r.ipv4Dev}`));

  if (f.firewall === null) out.push(warn('firewall', 'could not read the firewall (no nft or iptables-save)', 'check by hand that IGMP and MLD reach this host'));
  else out.push(...firewallFindings(f.firewall));

  if (f.listenError) {
    out.push(warn('querier', `could not listen for other queriers: ${f.listenError}`, 'run doctor as root'));
  } else if (f.queriers.length > 0) {
    for (const q of f.queriers) {
      out.push(warn('querier', `another ${q.family === 4 ? 'IGMP' : 'MLD'} querier (${q.version}) is on ${q.iface}: ${q.address}`,
        'fine if it is lower than ours (it wins the election and the headend only listens); on a snooping bridge, the headend must hear reports: be the querier or sit on a router port'));
    }
  } else {
    out.push(ok('querier', `no other querier heard in ${(f.listenMs / 1000).toFixed(0)} s (queriers send every 125 s by default: --listen 130 to be sure)`));
  }

  out.push(f.database.writable
    ? ok('database', `database ${f.database.path} is writable`)
    : fail('database', `database ${f.database.path} is not writable${f.database.error ? `: ${f.database.error}` : ''}`,
      'create the directory and give the headend user write access (systemd: StateDirectory=headend)'));
  return out;
}

export function summarize(findings: Finding[]): { ok: number; warn: number; fail: number } {
  const s = { ok: 0, warn: 0, fail: 0 };
  for (const f of findings) s[f.level]++;
  return s;
}
