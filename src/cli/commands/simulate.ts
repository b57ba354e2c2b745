/**
 * `headend simulate [--config FILE]`: replays a membership trace through the
 * same engine `serve` runs, with the socket and the clock swapped for JSON
 * lines (contract in ARCHITECTURE.md).
 *
 * In, one JSON object per line; `at` (ms) never goes back:
 *   {"at": 0, "iface": "lan0", "from": "fe80::1", "to": "ff02::16", "hex": "8f00...", "ttl": 1, "routerAlert": true}
 *   {"at": 5000}                  the clock moves on, due timers fire
 *   {"at": 5000, "dump": true}    print the table
 *   A "comment" key is allowed anywhere and ignored.
 * Out, one JSON object per line, `at` = when it happened (a timer that fires
 * between two input lines prints its own time):
 *   {"at", "event": "active"|"idle", "iface", "group", "source"}
 *   {"at", "event": "query", "iface", "group", "sources", "version", "suppress"}
 *   {"at", "event": "rejected", "reason"}     a dropped message or a bad line
 *   {"at", "table": [...]}                    a dump, times in ms remaining
 *
 * Our own querier addresses come from `membership.querierAddresses` in the
 * config, else 192.0.2.100 and fe80::100 (documentation / link-local
 * addresses a trace can beat or lose to on purpose). Interfaces listed in
 * `interfaces` start at 0 ms; any other interface starts (and sends its
 * startup queries) when a line first names it.
 */
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { loadConfig } from '../../config.js';

export const DEFAULT_QUERIER_IPV4 = '192.0.2.100';
export const DEFAULT_QUERIER_IPV6 = 'fe80::100';

const LINE_KEYS = new Set(['at', 'iface', 'from', 'to', 'hex', 'ttl', 'routerAlert', 'dump', 'comment']);

export function register(program: Command): void {
  program
    .command('simulate')
    .description('replay membership messages (JSON lines on stdin) through the membership engine; print events, queries and dumps as JSON lines')
    .option('--config <file>', 'YAML config (membership timers, querier addresses)')
    .action(async (opts: { config?: string }) => {
      const cfg = loadConfig(opts.config);
      await simulate(cfg, process.stdin, (line) => process.stdout.write(line + '\n'));
    });
}

/** Runs a trace from `input` and hands each output line (JSON text) to `print`. */
export async function simulate(
  cfg: ReturnType<typeof loadConfig>,
  input: NodeJS.ReadableStream,
  print: (line: string) => void,
): Promise<void> {
  const { MembershipEngine } = await import('../../membership/engine.js');
  const { parseAddr, AddressError } = await import('../../membership/addr.js');
  const { outputToJson } = await import('../../membership/messages.js');
  type Out = import('../../membership/types.js').EngineOutput;

  const engine = new MembershipEngine(cfg.membership);
  const own = new Map((cfg.membership.querierAddresses ?? []).map((q) => [q.iface, q]));
  let clock = 0;

  const emit = (at: number, outs: Out[]) => {
    for (const o of outs) print(JSON.stringify({ at, ...outputToJson(o) }));
  };
  const reject = (reason: string) => print(JSON.stringify({ at: clock, event: 'rejected', reason }));
  const start = (iface: string, at: number) => {
    const q = own.get(iface);
    emit(at, engine.addInterface(iface, {
      ipv4: parseAddr(q?.ipv4 ?? DEFAULT_QUERIER_IPV4),
      ipv6: parseAddr(q?.ipv6 ?? DEFAULT_QUERIER_IPV6),
    }, at));
  };
  /** Fires timers one deadline at a time so each output carries its own time. */
  const moveTo = (at: number) => {
    for (let d = engine.nextDeadline(); d !== undefined && d <= at; d = engine.nextDeadline()) emit(d, engine.advance(d));
    clock = at;
  };
  const started = new Set<string>();
  for (const iface of new Set([...cfg.interfaces, ...own.keys()])) {
    start(iface, 0);
    started.add(iface);
  }

  const lines = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  for await (const text of lines) {
    n++;
    if (text.trim() === '') continue;
    let line: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new TypeError();
      line = parsed as Record<string, unknown>;
    } catch {
      // The parser's own message differs between Node versions: keep output stable.
      reject(`line ${n}: not a JSON object`);
      continue;
    }
    const unknown = Object.keys(line).filter((k) => !LINE_KEYS.has(k));
    if (unknown.length > 0) {
      reject(`line ${n}: unknown key ${JSON.stringify(unknown[0])}`);
      continue;
    }
    const at = line.at;
    if (typeof at !== 'number' || !Number.isFinite(at) || at < 0) {
      reject(`line ${n}: "at" must be a number of ms >= 0, got ${JSON.stringify(at)}`);
      continue;
    }
    if (at < clock) {
      reject(`line ${n}: time went back: at ${at} is before ${clock}`);
      continue;
    }
    if (line.hex !== undefined) {
      const pkt = packet(line, n);
      if (typeof pkt === 'string') {
        moveTo(at);
        reject(pkt);
        continue;
      }
      moveTo(at);
      if (!started.has(pkt.iface)) {
        start(pkt.iface, at);
        started.add(pkt.iface);
      }
      emit(at, engine.receive(at, pkt));
    } else {
      if (line.iface !== undefined || line.from !== undefined || line.to !== undefined) {
        moveTo(at);
        reject(`line ${n}: "iface", "from" and "to" need a "hex" message`);
        continue;
      }
      moveTo(at);
    }
    if (line.dump === true) print(JSON.stringify({ at, table: engine.dump(at) }));
    else if (line.dump !== undefined && line.dump !== false) reject(`line ${n}: "dump" must be true or false`);
  }

  /** The received packet a line describes, or why it describes none. */
  function packet(line: Record<string, unknown>, n: number) {
    const { iface, from, to, hex, ttl, routerAlert } = line;
    if (typeof iface !== 'string' || !/^[\w.:-]{1,15}$/.test(iface)) return `line ${n}: "iface" must be an interface name`;
    if (typeof hex !== 'string' || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) return `line ${n}: "hex" must be an even number of hex digits`;
    if (ttl !== undefined && (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 0 || ttl > 255)) return `line ${n}: "ttl" must be 0..255`;
    if (routerAlert !== undefined && typeof routerAlert !== 'boolean') return `line ${n}: "routerAlert" must be true or false`;
    let fromKey, toKey;
    try {
      if (typeof from !== 'string' || typeof to !== 'string') return `line ${n}: "from" and "to" must be addresses`;
      fromKey = parseAddr(from);
      toKey = parseAddr(to);
    } catch (err) {
      if (err instanceof AddressError) return `line ${n}: ${err.message}`;
      throw err;
    }
    return { iface, from: fromKey, to: toKey, payload: Buffer.from(hex, 'hex'), ttl: ttl as number | undefined, routerAlert: routerAlert as boolean | undefined };
  }
}
