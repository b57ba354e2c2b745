/**
 * The store: one SQLite file (better-sqlite3, WAL, foreign keys on) holding
 * directories, channels with their stable service numbers, sync history and
 * session history.
 *
 *   const store = openStore('./data/headend.db', { logger, plan });
 *   store.channels.byGroup('ff3e:40:2001:db8::8000:1')  // the zap path: one indexed lookup
 *   store.history.add({ group, event: 'start', listeners: 1 })
 *   store.close()
 *
 * Durability: every write is one transaction; WAL with synchronous=NORMAL
 * keeps every committed transaction across a process kill (-9); only a power
 * loss can cost the last few. A directory sync is ONE transaction: killed
 * half way, it leaves the store as it was.
 *
 * Stability: a station's service number (and so its group) is assigned the
 * first time its directory lists it, keyed by (directory, stable id), and is
 * never changed by a later sync: a sync that reorders, drops or brings back
 * stations only updates names and URLs, and marks dropped ones missing.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from '../log.js';
import { parseAddr } from '../membership/addr.js';
import { silentLogger } from '../log.js';
import {
  Plan, PlanError, DEFAULT_PLAN_OPTIONS, FALLBACK_PREFIX, canonicalGroup, intToIpv4, ipv4ToInt, isMulticastGroup, macV4,
} from '../plan/plan.js';
import type { DirectoryEntry, SkippedEntry } from '../directories/types.js';
import { MIGRATIONS } from './schema.js';
import type {
  Channel, ChannelFilter, ChannelPatch, Directory, DirectoryKind, DvbTuning, HistoryEntry, HistoryRow, NewChannel,
  StaticChannel, SyncRow,
} from './types.js';

export * from './types.js';

/** An admin mistake or a refused assignment; `field` names what is wrong. */
export class StoreError extends Error {
  constructor(readonly code: 'not-found' | 'invalid' | 'conflict', readonly field: string, message: string) {
    super(message);
    this.name = 'StoreError';
  }
}

export interface SyncOptions {
  /** Called every `progressEvery` entries and at the end. */
  onProgress?: (done: number, total: number) => void;
  progressEvery?: number;
  /** Entries the parser already skipped, recorded with the sync. */
  skipped?: SkippedEntry[];
  now?: number;
}

export interface SyncResult extends SyncRow {
  directory: Directory;
  /** First skips with their entry numbers, for the admin (all are counted in skipReasons). */
  skippedEntries: SkippedEntry[];
}

export interface Store {
  readonly plan: Plan;
  readonly path: string;
  readonly db: Database.Database;
  channels: {
    /** Group (IPv6 or IPv4 text, any spelling) → channel. Hot path: prepared statement on a unique index. */
    byGroup(group: string): Channel | undefined;
    get(id: number): Channel | undefined;
    /** A numeric id, a service number (`0x8000_0001` / decimal > 2^31), or a group. */
    resolve(ref: string | number): Channel | undefined;
    list(filter?: ChannelFilter): Channel[];
    count(filter?: ChannelFilter): number;
    search(text: string, limit?: number): Channel[];
    add(input: NewChannel): Channel;
    update(id: number, patch: ChannelPatch): Channel;
    setEnabled(id: number, enabled: boolean): Channel;
    remove(id: number): boolean;
    /** Merges the config's `channels:` (explicit groups): added, updated, and removed when gone from the config. */
    upsertStatic(channels: StaticChannel[]): { added: number; updated: number; removed: number };
  };
  directories: {
    list(): Directory[];
    get(ref: number | string): Directory | undefined;
    /** The directory named `name`, created if new; StoreError if it exists with another kind. */
    ensure(name: string, kind: DirectoryKind, source?: string): Directory;
    /** Applies a parsed directory in one transaction (see the file comment). */
    sync(name: string, kind: DirectoryKind, source: string, entries: DirectoryEntry[], opts?: SyncOptions): SyncResult;
    /** Deletes the directory and its channels. */
    remove(id: number): boolean;
    syncs(limit?: number, directoryId?: number): SyncRow[];
  };
  history: {
    add(entry: HistoryEntry): void;
    recent(limit?: number, group?: string): HistoryRow[];
  };
  close(): void;
}

export interface OpenStoreOptions {
  logger?: Logger;
  /** The address plan; default: the fallback prefix with default layout (tests). */
  plan?: Plan;
  /**
   * The plan's prefix is only a fallback (none configured, none found on the
   * interfaces): keep the prefix the store was last used with instead of
   * renumbering every group to the fallback.
   */
  preferStoredPrefix?: boolean;
  /** Session history rows kept (older ones pruned). */
  historyLimit?: number;
}

interface ChannelRow {
  id: number; service_number: number; group_addr: string; group_v4: string | null; name: string; kind: 'radio' | 'dvb';
  url: string | null; tuning: string | null; service_id: number | null; codec: string | null; enabled: number; pinned: number;
  tags: string; directory_id: number | null; external_id: string | null; homepage: string | null; country: string | null;
  bitrate: number | null; missing_since: number | null; explicit_group: number; last_seen_sync: number | null;
}

function toChannel(r: ChannelRow): Channel {
  const c: Channel = {
    id: r.id, serviceNumber: r.service_number, group: r.group_addr, name: r.name, kind: r.kind,
    enabled: r.enabled === 1, pinned: r.pinned === 1, tags: JSON.parse(r.tags) as string[],
  };
  if (r.group_v4 !== null) c.groupV4 = r.group_v4;
  if (r.url !== null) c.url = r.url;
  if (r.tuning !== null) c.tuning = JSON.parse(r.tuning) as DvbTuning;
  if (r.service_id !== null) c.serviceId = r.service_id;
  if (r.codec !== null) c.codec = r.codec;
  if (r.directory_id !== null) c.directoryId = r.directory_id;
  if (r.external_id !== null) c.externalId = r.external_id;
  if (r.missing_since !== null) c.missingSince = r.missing_since;
  if (r.homepage !== null) c.homepage = r.homepage;
  if (r.country !== null) c.country = r.country;
  if (r.bitrate !== null) c.bitrate = r.bitrate;
  return c;
}

const DVB_SYSTEMS = new Set(['DVBS', 'DVBS2']);
const DVB_MODULATIONS = new Set(['QPSK', 'PSK_8', 'APSK_16', 'APSK_32']);
const DVB_POLARISATIONS = new Set(['H', 'V', 'L', 'R']);
export const DVB_FECS = new Set(['auto', '1/2', '2/3', '3/4', '3/5', '4/5', '5/6', '6/7', '7/8', '8/9', '9/10']);

/** Checks a tuning; returns the name of the bad field and why, or undefined. */
export function tuningProblem(t: DvbTuning): string | undefined {
  if (!Number.isInteger(t.frequencyKhz) || t.frequencyKhz <= 0) return 'frequencyKhz: must be a positive integer (kHz)';
  if (!DVB_POLARISATIONS.has(t.polarisation)) return 'polarisation: must be H, V, L or R';
  if (!Number.isInteger(t.symbolRate) || t.symbolRate < 1000) return 'symbolRate: must be an integer (symbols/s)';
  if (!DVB_SYSTEMS.has(t.system)) return 'system: must be DVBS or DVBS2';
  if (!DVB_FECS.has(t.fec)) return `fec: must be one of ${[...DVB_FECS].join(' ')}`;
  if (!DVB_MODULATIONS.has(t.modulation)) return 'modulation: must be QPSK, PSK_8, APSK_16 or APSK_32';
  return undefined;
}

export function defaultPlan(): Plan {
  return new Plan({ ...DEFAULT_PLAN_OPTIONS, prefix: FALLBACK_PREFIX });
}

const MANUAL_DIRECTORY = 'manual';
/** How long a write waits for another process's transaction (an import) before SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000;
const CONFIG_DIRECTORY = 'config';

/** Columns a directory sync writes; the statements bind positionally (objects built by spread bind several times slower). */
const UPDATE_COLUMNS = ['name', 'url', 'tuning', 'service_id', 'codec', 'tags', 'homepage', 'country', 'bitrate'] as const;
const INSERT_COLUMNS = [
  ...UPDATE_COLUMNS, 'service_number', 'group_addr', 'group_v4', 'mac_v4', 'kind', 'enabled', 'pinned', 'directory_id',
  'external_id', 'explicit_group', 'last_seen_sync', 'created_at', 'updated_at',
] as const;
type ChannelValues = Record<(typeof UPDATE_COLUMNS)[number], string | number | null>;
type InsertRow = ChannelValues & Record<Exclude<(typeof INSERT_COLUMNS)[number], (typeof UPDATE_COLUMNS)[number]>, string | number | null>;
const insertArgs = (r: InsertRow) => INSERT_COLUMNS.map((c) => r[c]);
const updateArgs = (v: ChannelValues) => UPDATE_COLUMNS.map((c) => v[c]);

export function openStore(path: string, opts: OpenStoreOptions = {}): Store {
  const logger = (opts.logger ?? silentLogger).child({ room: 'store' });
  let plan = opts.plan ?? defaultPlan();
  const historyLimit = opts.historyLimit ?? 100_000;
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  // 32 MB of page cache: a 50,000-station sync touches every index page in
  // one transaction; the 2 MB default makes it thrash.
  db.pragma('cache_size = -32768');

  // Migrations: each step in its own transaction, user_version counts them.
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > MIGRATIONS.length) {
    db.close();
    throw new StoreError('invalid', 'database', `${path} has schema version ${version}, newer than this headend knows (${MIGRATIONS.length})`);
  }
  for (let v = version; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]);
      db.pragma(`user_version = ${v + 1}`);
    })();
    logger.info({ path, version: v + 1 }, 'store schema migrated');
  }

  const now = () => Date.now();
  let closed = false;
  const st = {
    byGroup: db.prepare('SELECT * FROM channels WHERE group_addr = ?'),
    byGroupV4: db.prepare('SELECT * FROM channels WHERE group_v4 = ?'),
    byId: db.prepare('SELECT * FROM channels WHERE id = ?'),
    byNumber: db.prepare('SELECT * FROM channels WHERE service_number = ?'),
    byExternal: db.prepare('SELECT * FROM channels WHERE directory_id = ? AND external_id = ?'),
    macTaken: db.prepare('SELECT id FROM channels WHERE mac_v4 = ?'),
    insert: db.prepare(`INSERT INTO channels (${INSERT_COLUMNS.join(', ')}) VALUES (${INSERT_COLUMNS.map(() => '?').join(', ')})`),
    syncUpdate: db.prepare(`UPDATE channels SET ${UPDATE_COLUMNS.map((c) => `${c} = ?`).join(', ')},
       last_seen_sync = ?, missing_since = NULL, updated_at = ? WHERE id = ?`),
    seen: db.prepare('UPDATE channels SET last_seen_sync = ?, missing_since = NULL WHERE id = ?'),
    markMissing: db.prepare(`UPDATE channels SET missing_since = ? WHERE directory_id = ? AND missing_since IS NULL
       AND (last_seen_sync IS NULL OR last_seen_sync <> ?)`),
    dirByName: db.prepare('SELECT * FROM directories WHERE name = ?'),
    dirById: db.prepare('SELECT * FROM directories WHERE id = ?'),
    dirInsert: db.prepare('INSERT INTO directories (name, kind, source, created_at) VALUES (?, ?, ?, ?)'),
    dirCount: db.prepare('SELECT COUNT(*) AS n FROM channels WHERE directory_id = ?'),
    dirNextEntry: db.prepare('UPDATE directories SET next_entry = ? WHERE id = ?'),
    meta: db.prepare('SELECT value FROM meta WHERE key = ?'),
    metaSet: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    historyAdd: db.prepare(`INSERT INTO session_history (at, group_addr, channel_id, event, reason, listeners, error)
       VALUES (?, ?, (SELECT id FROM channels WHERE id = ?), ?, ?, ?, ?)`),
  };

  interface DirRow { id: number; name: string; kind: DirectoryKind; source: string | null; next_entry: number; last_sync_at: number | null }
  const toDirectory = (r: DirRow): Directory => {
    const d: Directory = { id: r.id, name: r.name, kind: r.kind, channels: (st.dirCount.get(r.id) as { n: number }).n };
    if (r.source !== null) d.source = r.source;
    if (r.last_sync_at !== null) d.lastSyncAt = r.last_sync_at;
    return d;
  };

  // A changed /64 moves every plan-derived group to the new prefix: the
  // service numbers stay, so clients' channel lists only need a re-export.
  const renumber = db.transaction((): number => {
    const rows = db.prepare('SELECT id, service_number FROM channels WHERE explicit_group = 0').all() as { id: number; service_number: number }[];
    const upd = db.prepare('UPDATE channels SET group_addr = ? WHERE id = ?');
    // Two passes through temporary names keep the UNIQUE index happy mid-way.
    for (const r of rows) upd.run(`renumber:${r.id}`, r.id);
    for (const r of rows) upd.run(plan.groupFor(r.service_number), r.id);
    st.metaSet.run('plan_prefix', plan.prefix);
    return rows.length;
  });
  const storedPrefix = (st.meta.get('plan_prefix') as { value: string } | undefined)?.value;
  if (opts.preferStoredPrefix && storedPrefix !== undefined && storedPrefix !== plan.prefix) {
    plan = new Plan({ ...plan.options, prefix: storedPrefix });
  }
  if (storedPrefix !== plan.prefix) {
    const moved = renumber();
    if (storedPrefix !== undefined && moved > 0) logger.warn({ from: storedPrefix, to: plan.prefix, channels: moved }, 'plan prefix changed: groups renumbered');
  }

  // --- IPv4 -----------------------------------------------------------------
  /** Next free IPv4 group of the plan's range whose MAC no channel uses; undefined when full or no range. */
  function allocateV4(): { group: string; mac: number } | undefined {
    const range = plan.ipv4Range;
    if (!range) return undefined;
    const cursorKey = `ipv4_cursor:${range.text}`;
    let offset = Number((st.meta.get(cursorKey) as { value: string } | undefined)?.value ?? 1);
    for (let tries = 0; tries < range.size; tries++, offset++) {
      if (offset >= range.size) offset = 1;
      const group = intToIpv4(range.base + offset);
      const mac = macV4(group);
      if (st.macTaken.get(mac) === undefined) {
        st.metaSet.run(cursorKey, String(offset + 1));
        return { group, mac };
      }
    }
    return undefined;
  }

  function checkV4(group: string, field: string, selfId?: number): { group: string; mac: number } {
    let mac: number;
    try {
      if (!/^\d+\.\d+\.\d+\.\d+$/.test(group) || !isMulticastGroup(group)) throw new Error();
      mac = macV4(group);
    } catch {
      throw new StoreError('invalid', field, `${field}: not an IPv4 multicast group: ${JSON.stringify(group)}`);
    }
    if ((ipv4ToInt(group) >>> 8) === 0xe00000) throw new StoreError('invalid', field, `${field}: ${group} is link-local (224.0.0.0/24)`);
    const owner = st.macTaken.get(mac) as { id: number } | undefined;
    if (owner && owner.id !== selfId) {
      const other = toChannel(st.byId.get(owner.id) as ChannelRow);
      throw new StoreError('conflict', field,
        `${field}: ${group} would share its Ethernet MAC with ${other.groupV4} (channel ${other.id} "${other.name}"): IPv4 keeps only 23 bits in the MAC (RFC 1112 §6.4)`);
    }
    return { group, mac };
  }

  // --- channels -------------------------------------------------------------
  function byGroup(group: string): Channel | undefined {
    let row = st.byGroup.get(group) as ChannelRow | undefined;
    if (row) return toChannel(row);
    let canonical: string;
    try { canonical = canonicalGroup(group); } catch { return undefined; }
    row = (canonical.includes(':') ? st.byGroup.get(canonical) : st.byGroupV4.get(canonical)) as ChannelRow | undefined;
    return row ? toChannel(row) : undefined;
  }

  function get(id: number): Channel | undefined {
    const row = st.byId.get(id) as ChannelRow | undefined;
    return row ? toChannel(row) : undefined;
  }

  function resolve(ref: string | number): Channel | undefined {
    if (typeof ref === 'number') return get(ref);
    const text = ref.trim();
    if (/^\d+$/.test(text)) {
      const n = Number(text);
      return n >= 0x8000_0000 ? (toMaybe(st.byNumber.get(n)) ?? get(n)) : get(n);
    }
    if (/^0x[0-9a-f]{1,8}$/i.test(text)) return toMaybe(st.byNumber.get(Number(text)));
    return byGroup(text);
  }
  const toMaybe = (r: unknown) => (r ? toChannel(r as ChannelRow) : undefined);

  function where(filter: ChannelFilter): { sql: string; args: unknown[] } {
    const parts: string[] = [];
    const args: unknown[] = [];
    if (filter.kind) { parts.push('kind = ?'); args.push(filter.kind); }
    if (filter.enabled !== undefined) { parts.push('enabled = ?'); args.push(filter.enabled ? 1 : 0); }
    if (filter.directoryId !== undefined) { parts.push('directory_id = ?'); args.push(filter.directoryId); }
    if (filter.tag) { parts.push('EXISTS (SELECT 1 FROM json_each(channels.tags) WHERE lower(value) = lower(?))'); args.push(filter.tag); }
    if (filter.text) {
      const like = `%${filter.text.replace(/[\\%_]/g, (c) => '\\' + c)}%`;
      parts.push("(name LIKE ? ESCAPE '\\' OR tags LIKE ? ESCAPE '\\' OR url LIKE ? ESCAPE '\\' OR group_addr LIKE ? ESCAPE '\\' OR group_v4 LIKE ? ESCAPE '\\' OR country LIKE ? ESCAPE '\\')");
      args.push(like, like, like, like, like, like);
    }
    return { sql: parts.length ? `WHERE ${parts.join(' AND ')}` : '', args };
  }

  function list(filter: ChannelFilter = {}): Channel[] {
    const w = where(filter);
    const limit = filter.limit ?? -1;
    const offset = filter.offset ?? 0;
    return (db.prepare(`SELECT * FROM channels ${w.sql} ORDER BY service_number LIMIT ? OFFSET ?`).all(...w.args, limit, offset) as ChannelRow[]).map(toChannel);
  }

  function count(filter: ChannelFilter = {}): number {
    const w = where(filter);
    return (db.prepare(`SELECT COUNT(*) AS n FROM channels ${w.sql}`).get(...w.args) as { n: number }).n;
  }

  function ensureDirectory(name: string, kind: DirectoryKind, source?: string): Directory {
    const row = st.dirByName.get(name) as DirRow | undefined;
    if (row) {
      if (row.kind !== kind) throw new StoreError('conflict', 'directory', `directory "${name}" holds ${row.kind} entries, not ${kind}`);
      return toDirectory(row);
    }
    const id = Number(st.dirInsert.run(name, kind, source ?? null, now()).lastInsertRowid);
    if (id > plan.maxDirectory) {
      throw new StoreError('conflict', 'directory', `directory number ${id} does not fit plan.directoryBits=${plan.options.directoryBits} (max ${plan.maxDirectory})`);
    }
    return toDirectory(st.dirById.get(id) as DirRow);
  }

  /** The next radio number of a directory; advances its counter (numbers are never reused). */
  function nextRadioNumber(dir: DirRow): number {
    for (;;) {
      const entry = dir.next_entry;
      const n = plan.radioNumber(dir.id, entry); // PlanError when the directory is full
      dir.next_entry = entry + 1;
      if (st.byNumber.get(n) === undefined) return n;
    }
  }

  function checkCommon(input: { name?: string; url?: string | null; tuning?: DvbTuning | null; serviceId?: number | null; tags?: string[] }): void {
    if (input.name !== undefined && (typeof input.name !== 'string' || input.name.trim() === '')) {
      throw new StoreError('invalid', 'name', 'name: must be a non-empty string');
    }
    if (input.url !== undefined && input.url !== null && !/^[a-z][a-z0-9+.-]*:\/\/\S+$/i.test(input.url)) {
      throw new StoreError('invalid', 'url', `url: not a URL: ${JSON.stringify(input.url)}`);
    }
    if (input.tuning) {
      const problem = tuningProblem(input.tuning);
      if (problem) throw new StoreError('invalid', `tuning.${problem.split(':')[0]}`, `tuning.${problem}`);
    }
    if (input.serviceId !== undefined && input.serviceId !== null && (!Number.isInteger(input.serviceId) || input.serviceId < 1 || input.serviceId > 0xffff)) {
      throw new StoreError('invalid', 'serviceId', 'serviceId: must be 1..65535');
    }
    if (input.tags !== undefined && (!Array.isArray(input.tags) || input.tags.some((t) => typeof t !== 'string'))) {
      throw new StoreError('invalid', 'tags', 'tags: must be a list of strings');
    }
  }

  const planErr = <T>(field: string, f: () => T): T => {
    try { return f(); } catch (err) {
      if (err instanceof PlanError) throw new StoreError(err.code === 'mac-collision' ? 'conflict' : 'invalid', field, `${field}: ${err.message}`);
      throw err;
    }
  };

  const add = db.transaction((input: NewChannel): Channel => {
    checkCommon(input);
    const kind = input.kind ?? (input.tuning ? 'dvb' : 'radio');
    if (kind === 'radio' && !input.url) throw new StoreError('invalid', 'url', 'url: required for a radio channel');
    if (kind === 'dvb' && (!input.tuning || input.serviceId === undefined)) {
      throw new StoreError('invalid', input.tuning ? 'serviceId' : 'tuning', `${input.tuning ? 'serviceId' : 'tuning'}: required for a DVB channel`);
    }
    let serviceNumber: number;
    let group: string;
    let explicit = 0;
    const dir = ensureDirectory(MANUAL_DIRECTORY, 'manual');
    const dirRow = st.dirById.get(dir.id) as DirRow;
    if (input.group) {
      let g: string;
      try { g = canonicalGroup(input.group); } catch { throw new StoreError('invalid', 'group', `group: not an address: ${JSON.stringify(input.group)}`); }
      if (!g.includes(':') || !isMulticastGroup(g)) throw new StoreError('invalid', 'group', `group: not an IPv6 multicast group: ${g}`);
      const n = plan.tryServiceNumberFor(g);
      if (n === undefined) {
        explicit = 1;
        serviceNumber = Number.parseInt(canonicalLow32(g), 16);
      } else serviceNumber = n;
      group = g;
    } else if (kind === 'dvb') {
      serviceNumber = planErr('tuning', () => plan.dvbNumber(input.tuning!.frequencyKhz, input.tuning!.polarisation, input.serviceId!));
      group = plan.groupFor(serviceNumber);
    } else {
      serviceNumber = planErr('group', () => nextRadioNumber(dirRow));
      st.dirNextEntry.run(dirRow.next_entry, dirRow.id);
      group = plan.groupFor(serviceNumber);
    }
    const taken = (st.byNumber.get(serviceNumber) ?? st.byGroup.get(group)) as ChannelRow | undefined;
    if (taken) throw new StoreError('conflict', 'group', `group: ${group} (service number 0x${serviceNumber.toString(16)}) already carries channel ${taken.id} "${taken.name}"`);
    const v4 = input.groupV4 ? checkV4(input.groupV4, 'groupV4') : allocateV4();
    const at = now();
    const id = Number(st.insert.run(...insertArgs({
      service_number: serviceNumber, group_addr: group, group_v4: v4?.group ?? null, mac_v4: v4?.mac ?? null,
      name: input.name.trim(), kind, url: input.url ?? null, tuning: input.tuning ? JSON.stringify(input.tuning) : null,
      service_id: input.serviceId ?? null, codec: input.codec ?? null, enabled: input.enabled === false ? 0 : 1,
      pinned: input.pinned ? 1 : 0, tags: JSON.stringify(input.tags ?? []), directory_id: dir.id, external_id: null,
      homepage: null, country: null, bitrate: null, explicit_group: explicit, last_seen_sync: null, created_at: at, updated_at: at,
    })).lastInsertRowid);
    return get(id)!;
  });

  const update = db.transaction((id: number, patch: ChannelPatch): Channel => {
    const row = st.byId.get(id) as ChannelRow | undefined;
    if (!row) throw new StoreError('not-found', 'id', `no channel ${id}`);
    checkCommon(patch);
    const sets: string[] = [];
    const args: Record<string, unknown> = { id, now: now() };
    const set = (col: string, v: unknown) => { sets.push(`${col} = @${col}`); args[col] = v; };
    if (patch.name !== undefined) set('name', patch.name.trim());
    if (patch.url !== undefined) set('url', patch.url);
    if (patch.tuning !== undefined) {
      if (row.kind === 'dvb' && patch.tuning === null) throw new StoreError('invalid', 'tuning', 'tuning: a DVB channel needs one');
      if (row.kind === 'dvb' && patch.tuning && row.explicit_group === 0) {
        // The carrier is part of the service number: moving it would move the group.
        const old = JSON.parse(row.tuning!) as DvbTuning;
        if (old.frequencyKhz !== patch.tuning.frequencyKhz || old.polarisation !== patch.tuning.polarisation) {
          throw new StoreError('invalid', 'tuning', 'tuning: the carrier (frequency, polarisation) is part of the group; add a new channel instead');
        }
      }
      set('tuning', patch.tuning ? JSON.stringify(patch.tuning) : null);
    }
    if (patch.serviceId !== undefined) {
      if (row.kind === 'dvb' && patch.serviceId !== row.service_id) throw new StoreError('invalid', 'serviceId', 'serviceId: part of the group of a DVB channel; add a new channel instead');
      set('service_id', patch.serviceId);
    }
    if (patch.codec !== undefined) set('codec', patch.codec);
    if (patch.tags !== undefined) set('tags', JSON.stringify(patch.tags));
    if (patch.enabled !== undefined) set('enabled', patch.enabled ? 1 : 0);
    if (patch.pinned !== undefined) set('pinned', patch.pinned ? 1 : 0);
    if (patch.groupV4 !== undefined) {
      const v4 = patch.groupV4 === null ? undefined : checkV4(patch.groupV4, 'groupV4', id);
      set('group_v4', v4?.group ?? null);
      set('mac_v4', v4?.mac ?? null);
    }
    if (row.kind === 'radio' && patch.url === null) throw new StoreError('invalid', 'url', 'url: a radio channel needs one');
    if (sets.length) db.prepare(`UPDATE channels SET ${sets.join(', ')}, updated_at = @now WHERE id = @id`).run(args);
    return get(id)!;
  });

  function remove(id: number): boolean {
    return db.prepare('DELETE FROM channels WHERE id = ?').run(id).changes > 0;
  }

  const upsertStatic = db.transaction((channels: StaticChannel[]) => {
    const dir = ensureDirectory(CONFIG_DIRECTORY, 'config');
    const result = { added: 0, updated: 0, removed: 0 };
    const keep = new Set<string>();
    for (const [i, ch] of channels.entries()) {
      const field = `channels[${i}].group`;
      let g: string;
      try { g = canonicalGroup(ch.group); } catch { throw new StoreError('invalid', field, `${field}: not an address: ${JSON.stringify(ch.group)}`); }
      if (!isMulticastGroup(g)) throw new StoreError('invalid', field, `${field}: not a multicast group: ${g}`);
      // An IPv4 group in the config: the channel gets a plan IPv6 group and keeps the IPv4 one.
      const external = g;
      keep.add(external);
      const existing = st.byExternal.get(dir.id, external) as ChannelRow | undefined;
      if (existing) {
        st.syncUpdate.run(...updateArgs({
          name: ch.name, url: ch.url ?? null, tuning: null, service_id: null, codec: ch.codec ?? null,
          tags: existing.tags, homepage: null, country: null, bitrate: null,
        }), null, now(), existing.id);
        result.updated++;
        continue;
      }
      let group: string;
      let serviceNumber: number;
      let explicit = 1;
      let v4: { group: string; mac: number } | undefined;
      if (g.includes(':')) {
        group = g;
        const n = plan.tryServiceNumberFor(g);
        // Written in the config: it stays as written even if the plan's prefix changes.
        serviceNumber = n ?? Number.parseInt(canonicalLow32(g), 16);
        v4 = allocateV4();
      } else {
        v4 = checkV4(g, field);
        const dirRow = st.dirById.get(dir.id) as DirRow;
        serviceNumber = planErr(field, () => nextRadioNumber(dirRow));
        st.dirNextEntry.run(dirRow.next_entry, dirRow.id);
        group = plan.groupFor(serviceNumber);
        explicit = 0;
      }
      const taken = (st.byNumber.get(serviceNumber) ?? st.byGroup.get(group)) as ChannelRow | undefined;
      if (taken) {
        throw new StoreError('conflict', field, `${field}: ${group} (service number 0x${serviceNumber.toString(16)}) already carries channel ${taken.id} "${taken.name}"`);
      }
      st.insert.run(...insertArgs({
        service_number: serviceNumber, group_addr: group, group_v4: v4?.group ?? null, mac_v4: v4?.mac ?? null,
        name: ch.name, kind: 'radio', url: ch.url ?? null, tuning: null, service_id: null, codec: ch.codec ?? null,
        enabled: 1, pinned: 0, tags: '[]', directory_id: dir.id, external_id: external, homepage: null, country: null,
        bitrate: null, explicit_group: explicit, last_seen_sync: null, created_at: now(), updated_at: now(),
      }));
      result.added++;
    }
    for (const r of db.prepare('SELECT id, external_id FROM channels WHERE directory_id = ?').all(dir.id) as { id: number; external_id: string }[]) {
      if (!keep.has(r.external_id)) { remove(r.id); result.removed++; }
    }
    return result;
  });

  // --- directory sync -------------------------------------------------------
  const sync = db.transaction((name: string, kind: DirectoryKind, source: string, entries: DirectoryEntry[], opts: SyncOptions = {}): SyncResult => {
    const at = opts.now ?? now();
    const dir = ensureDirectory(name, kind, source);
    const dirRow = st.dirById.get(dir.id) as DirRow;
    const syncId = Number(db.prepare('INSERT INTO syncs (directory_id, source, started_at) VALUES (?, ?, ?)').run(dir.id, source, at).lastInsertRowid);
    const reasons: Record<string, number> = {};
    const skippedEntries: SkippedEntry[] = [];
    const skip = (s: SkippedEntry) => {
      const key = s.reason.replace(/"[^"]*"/g, '"…"').replace(/\d{4,}/g, 'N');
      reasons[key] = (reasons[key] ?? 0) + 1;
      if (skippedEntries.length < 100) skippedEntries.push(s);
    };
    for (const s of opts.skipped ?? []) skip(s);
    const counts = { seen: 0, added: 0, updated: 0, unchanged: 0 };
    const seenKeys = new Set<string>();
    const fresh = dir.channels === 0;
    const every = opts.progressEvery ?? 1000;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      if (opts.onProgress && i % every === 0) opts.onProgress(i, entries.length);
      if (seenKeys.has(e.externalId)) { skip({ at: i + 1, reason: `duplicate id "${e.externalId}"` }); continue; }
      seenKeys.add(e.externalId);
      const tuning = e.tuning ? JSON.stringify(e.tuning) : null;
      const values: ChannelValues = {
        name: e.name, url: e.url ?? null, tuning, service_id: e.serviceId ?? null, codec: e.codec ?? null,
        tags: JSON.stringify(e.tags), homepage: e.homepage ?? null, country: e.country ?? null, bitrate: e.bitrate ?? null,
      };
      // A directory's first sync has nothing to look up (saves one index probe per entry).
      const existing = fresh ? undefined : st.byExternal.get(dir.id, e.externalId) as ChannelRow | undefined;
      if (existing) {
        counts.seen++;
        const same = existing.name === values.name && existing.url === values.url && existing.tuning === values.tuning
          && existing.codec === values.codec && existing.tags === values.tags && existing.homepage === values.homepage
          && existing.country === values.country && existing.bitrate === values.bitrate && existing.service_id === values.service_id;
        if (same || existing.pinned === 1) {
          st.seen.run(syncId, existing.id);
          counts.unchanged++;
        } else {
          st.syncUpdate.run(...updateArgs(values), syncId, at, existing.id);
          counts.updated++;
        }
        continue;
      }
      let serviceNumber: number;
      try {
        if (e.kind === 'dvb') {
          if (!e.tuning || e.serviceId === undefined) throw new PlanError('bad-service-id', 'a DVB entry needs tuning and a service id');
          serviceNumber = plan.dvbNumber(e.tuning.frequencyKhz, e.tuning.polarisation, e.serviceId);
        } else {
          serviceNumber = nextRadioNumber(dirRow);
        }
      } catch (err) {
        if (!(err instanceof PlanError)) throw err;
        skip({ at: i + 1, reason: err.message });
        continue;
      }
      const group = plan.groupFor(serviceNumber);
      const taken = st.byNumber.get(serviceNumber) as ChannelRow | undefined;
      if (taken) {
        skip({ at: i + 1, reason: `group ${group} already carries channel ${taken.id} "${taken.name}"` });
        continue;
      }
      const v4 = allocateV4();
      // positional, in INSERT_COLUMNS order
      st.insert.run(...updateArgs(values), serviceNumber, group, v4?.group ?? null, v4?.mac ?? null, e.kind, 1, 0, dir.id,
        e.externalId, 0, syncId, at, at);
      counts.seen++;
      counts.added++;
    }
    st.dirNextEntry.run(dirRow.next_entry, dir.id);
    const missing = st.markMissing.run(at, dir.id, syncId).changes;
    const skipped = Object.values(reasons).reduce((a, b) => a + b, 0);
    db.prepare(`UPDATE syncs SET finished_at = ?, seen = ?, added = ?, updated = ?, unchanged = ?, skipped = ?, missing = ?,
      skip_reasons = ? WHERE id = ?`).run(now(), counts.seen, counts.added, counts.updated, counts.unchanged, skipped, missing, JSON.stringify(reasons), syncId);
    db.prepare('UPDATE directories SET source = ?, last_sync_at = ? WHERE id = ?').run(source, at, dir.id);
    opts.onProgress?.(entries.length, entries.length);
    return {
      ...syncRow(db.prepare('SELECT * FROM syncs WHERE id = ?').get(syncId) as SyncDbRow),
      directory: toDirectory(st.dirById.get(dir.id) as DirRow),
      skippedEntries,
    };
  });

  interface SyncDbRow { id: number; directory_id: number; source: string; started_at: number; finished_at: number; seen: number; added: number; updated: number; unchanged: number; skipped: number; missing: number; skip_reasons: string }
  const syncRow = (r: SyncDbRow): SyncRow => ({
    id: r.id, directoryId: r.directory_id, source: r.source, startedAt: r.started_at, finishedAt: r.finished_at, seen: r.seen,
    added: r.added, updated: r.updated, unchanged: r.unchanged, skipped: r.skipped, missing: r.missing,
    skipReasons: JSON.parse(r.skip_reasons) as Record<string, number>,
  });

  // --- history --------------------------------------------------------------
  // The session manager writes history on the zap path. While another
  // process (`headend dir import`) holds the write lock, a blocking insert
  // would stall the event loop for up to busy_timeout; instead rows wait in a
  // bounded queue and are written without waiting, retried every 250 ms.
  let historyWrites = 0;
  const pending: unknown[][] = [];
  let retry: NodeJS.Timeout | undefined;
  let historyDropped = 0;
  const writePending = db.transaction(() => {
    for (const row of pending) st.historyAdd.run(...row);
  });
  function flushHistory(): void {
    if (closed || pending.length === 0) return;
    db.pragma('busy_timeout = 0');
    try {
      writePending();
      historyWrites += pending.length;
      pending.length = 0;
      if (historyWrites >= 1000) {
        historyWrites = 0;
        db.prepare('DELETE FROM session_history WHERE id <= (SELECT MAX(id) FROM session_history) - ?').run(historyLimit);
      }
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
      retry ??= setTimeout(() => { retry = undefined; flushHistory(); }, 250).unref();
    } finally {
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    }
  }
  function historyAdd(entry: HistoryEntry): void {
    let channelId = entry.channelId;
    if (channelId === undefined) channelId = byGroup(entry.group)?.id;
    if (pending.length >= 10_000) { pending.shift(); historyDropped++; }
    pending.push([entry.at ?? now(), entry.group, channelId ?? null, entry.event, entry.reason ?? null, entry.listeners ?? null, entry.error ?? null]);
    if (retry === undefined) flushHistory();
    if (historyDropped && historyDropped % 1000 === 1) logger.warn({ dropped: historyDropped }, 'session history rows dropped: the store stayed locked');
  }
  function historyRecent(limit = 100, group?: string): HistoryRow[] {
    flushHistory();
    const rows = (group === undefined
      ? db.prepare('SELECT * FROM session_history ORDER BY id DESC LIMIT ?').all(limit)
      : db.prepare('SELECT * FROM session_history WHERE group_addr = ? OR group_addr = ? ORDER BY id DESC LIMIT ?').all(group, safeCanonical(group), limit)) as {
      id: number; at: number; group_addr: string; channel_id: number | null; event: HistoryRow['event']; reason: string | null; listeners: number | null; error: string | null;
    }[];
    return rows.map((r) => {
      const h: HistoryRow = { id: r.id, at: r.at, group: r.group_addr, event: r.event };
      if (r.channel_id !== null) h.channelId = r.channel_id;
      if (r.reason !== null) h.reason = r.reason;
      if (r.listeners !== null) h.listeners = r.listeners;
      if (r.error !== null) h.error = r.error;
      return h;
    });
  }

  return {
    plan,
    path,
    db,
    channels: {
      byGroup, get, resolve, list, count,
      search: (text, limit = 100) => list({ text, limit }),
      add: (input) => add(input),
      update: (id, patch) => update(id, patch),
      setEnabled: (id, enabled) => update(id, { enabled }),
      remove,
      upsertStatic: (channels) => upsertStatic(channels),
    },
    directories: {
      list: () => (db.prepare('SELECT * FROM directories ORDER BY id').all() as DirRow[]).map(toDirectory),
      get: (ref) => {
        const row = (typeof ref === 'number' || /^\d+$/.test(ref) ? st.dirById.get(Number(ref)) : st.dirByName.get(ref)) as DirRow | undefined;
        return row ? toDirectory(row) : undefined;
      },
      ensure: (name, kind, source) => db.transaction(() => ensureDirectory(name, kind, source))(),
      sync: (name, kind, source, entries, opts) => sync(name, kind, source, entries, opts),
      remove: (id) => db.transaction(() => {
        const row = st.dirById.get(id) as DirRow | undefined;
        if (row && (row.kind === 'manual' || row.kind === 'config')) {
          throw new StoreError('invalid', 'directory', `directory "${row.name}" holds the ${row.kind === 'manual' ? 'channels added by hand' : 'config file\'s channels'} and cannot be removed; remove its channels one by one`);
        }
        db.prepare('DELETE FROM channels WHERE directory_id = ?').run(id);
        return db.prepare('DELETE FROM directories WHERE id = ?').run(id).changes > 0;
      })(),
      syncs: (limit = 20, directoryId) => ((directoryId === undefined
        ? db.prepare('SELECT * FROM syncs ORDER BY id DESC LIMIT ?').all(limit)
        : db.prepare('SELECT * FROM syncs WHERE directory_id = ? ORDER BY id DESC LIMIT ?').all(directoryId, limit)) as SyncDbRow[]).map(syncRow),
    },
    history: { add: historyAdd, recent: historyRecent },
    close() {
      if (closed) return;
      if (retry) clearTimeout(retry);
      retry = undefined;
      try { flushHistory(); } catch (err) { logger.warn({ err }, 'session history not written at close'); }
      closed = true;
      db.close();
    },
  };
}

function safeCanonical(group: string): string {
  try { return canonicalGroup(group); } catch { return group; }
}

/** The low 32 bits of an IPv6 group, as 8 hex digits. */
function canonicalLow32(group: string): string {
  return Buffer.from(parseAddr(group), 'latin1').subarray(12, 16).toString('hex');
}
