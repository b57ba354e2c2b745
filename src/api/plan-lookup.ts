/** `headend plan show` and `GET /plan/REF`: what a group or a service number means, and which channel it carries. */
import { isIPv4 } from 'node:net';
import { canonicalGroup, macV4Text, PlanError } from '../plan/plan.js';
import type { Store } from '../store/store.js';

export interface PlanLookup {
  serviceNumber: number;
  serviceNumberHex: string;
  group: string;
  meaning: ReturnType<Store['plan']['describe']>;
  mac: string;
  groupV4?: string;
  macV4?: string;
  channel?: { id: number; name: string; enabled: boolean };
}

const mac6 = (n: number) => `33:33:${[n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;

/** REF: an IPv6 or IPv4 group, a decimal or 0x-hex service number. PlanError if it means nothing. */
export function describeRef(store: Store, ref: string): PlanLookup {
  const text = ref.trim();
  let n: number | undefined;
  let group: string | undefined;
  if (/^0x[0-9a-f]{1,8}$/i.test(text) || /^\d{1,10}$/.test(text)) {
    n = Number(text);
    if (n > 0xffff_ffff) throw new PlanError('bad-number', `service number ${text} does not fit 32 bits`);
  } else {
    try { group = canonicalGroup(text); } catch { throw new PlanError('bad-number', `${text}: neither a group nor a service number`); }
  }
  // A number here is a service number, never a channel id.
  const channel = group ? store.channels.byGroup(group) : store.channels.resolve(`0x${n!.toString(16)}`);
  if (n === undefined) {
    if (channel) n = channel.serviceNumber;
    else if (group && isIPv4(group)) throw new PlanError('not-in-plan', `${group}: no channel has this IPv4 group (IPv4 groups are assigned one by one, not computed)`);
    else n = store.plan.serviceNumberFor(group!);
  }
  const g = channel && !channel.group.startsWith('ff3e:40:') ? channel.group : store.plan.groupFor(n);
  const out: PlanLookup = {
    serviceNumber: n,
    serviceNumberHex: `0x${n.toString(16).padStart(8, '0')}`,
    group: channel?.group ?? g,
    meaning: store.plan.describe(n),
    mac: mac6(n),
  };
  if (channel?.groupV4) { out.groupV4 = channel.groupV4; out.macV4 = macV4Text(channel.groupV4); }
  if (channel) out.channel = { id: channel.id, name: channel.name, enabled: channel.enabled };
  return out;
}
