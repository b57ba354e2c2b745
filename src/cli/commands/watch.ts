/**
 * `headend watch --interface IF... [--config FILE] [--json]`: the live
 * membership edge on its own. Shows who listens to what, as it happens.
 *
 * --json writes JSON lines on stdout (logs go to stderr):
 *   {"at", "event": "ready", "interfaces": [{"name", "index", "ipv4", "ipv6"}]}
 *   {"at", "event": "active"|"idle"|"listeners", "iface", "group", "source", "listeners"}
 *   {"at", "event": "query", "iface", "proto", "version", "group", "sources"}
 *   {"at", "event": "received", "iface", "from", "to", "message"}
 *   {"at", "event": "rejected", "iface", "from", "reason"}
 *   {"at", "table": [...]} the membership table (as `simulate` dumps it),
 *      after every active / idle / listeners change
 * `at` is epoch milliseconds with a fraction.
 *
 * On a terminal it redraws the table once a second and after each change,
 * with the latest events below it.
 */
import type { Command } from 'commander';

interface WatchOptions {
  interface: string[];
  config?: string;
  json?: boolean;
}

const EVENT_LOG_LINES = 12;

export function register(program: Command): void {
  program
    .command('watch')
    .description('listen for IGMP/MLD on interfaces and show the live membership table and events')
    .requiredOption('-i, --interface <name...>', 'interface(s) to listen, query and track hosts on')
    .option('-c, --config <file>', 'YAML config (membership timers, querier, ssmRanges ...)')
    .option('--json', 'JSON lines on stdout instead of a redrawn table')
    .action(async (opts: WatchOptions) => {
      const { loadConfig } = await import('../../config.js');
      const { createLogger } = await import('../../log.js');
      const { LiveMembership } = await import('../../membership/live.js');
      const { formatAddr } = await import('../../membership/addr.js');
      const cfg = loadConfig(opts.config);
      const logger = createLogger({ level: cfg.log.level });
      let live: Live;
      try {
        live = await LiveMembership.open({ interfaces: opts.interface, config: cfg.membership, logger });
      } catch (err) {
        // An admin's problem (no such interface, no CAP_NET_RAW, addon not
        // built, MRT socket taken): one line, not a stack.
        process.stderr.write(`headend watch: ${(err as Error).message}\n`);
        process.exit(1);
      }
      const stop = () => {
        live.close();
        process.exit(0);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      // Listeners go on in the same tick open() resolves: the startup queries follow right after.
      if (opts.json) runJson(live, formatAddr);
      else runTerminal(live);
    });
}

type Live = import('../../membership/live.js').LiveMembership;

function runJson(live: Live, fmt: (key: string) => string): void {
  const out = (obj: Record<string, unknown>) => process.stdout.write(JSON.stringify(obj) + '\n');
  let tablePending = false;
  const tableSoon = () => {
    if (tablePending) return;
    tablePending = true;
    // One table after a burst of edges from the same packet or timer.
    setImmediate(() => {
      tablePending = false;
      out({ at: Date.now(), table: live.dump() });
    });
  };
  for (const event of ['active', 'idle', 'listeners'] as const) {
    live.on(event, (e) => {
      out({ at: e.at, event, iface: e.iface, group: e.group, source: e.source, listeners: e.listeners });
      tableSoon();
    });
  }
  live.on('query', (e) => out({ ...e, event: 'query' }));
  live.on('received', (e) => out({ ...e, event: 'received' }));
  live.on('rejected', (e) => out({ ...e, event: 'rejected' }));
  out({
    at: Date.now(),
    event: 'ready',
    interfaces: live.interfaces().map((i) => ({ name: i.name, index: i.index, ipv4: i.ipv4 && fmt(i.ipv4), ipv6: i.ipv6 && fmt(i.ipv6) })),
  });
}

function runTerminal(live: Live): void {
  const events: string[] = [];
  const time = (at: number) => new Date(at).toISOString().slice(11, 23);
  const note = (line: string) => {
    events.push(line);
    if (events.length > EVENT_LOG_LINES) events.shift();
    draw();
  };
  const sg = (e: { source: string; group: string }) => `(${e.source}, ${e.group})`;
  live.on('active', (e) => note(`${time(e.at)} ${e.iface} ACTIVE ${sg(e)} ${e.listeners} listener(s)`));
  live.on('idle', (e) => note(`${time(e.at)} ${e.iface} IDLE   ${sg(e)}`));
  live.on('listeners', (e) => note(`${time(e.at)} ${e.iface} ${sg(e)} now ${e.listeners} listener(s)`));
  live.on('query', (e) => note(`${time(e.at)} ${e.iface} sent ${e.proto} v${e.version} query ${e.group}${e.sources.length ? ' ' + e.sources.join(' ') : ''}`));
  live.on('rejected', (e) => note(`${time(e.at)} ${e.iface} rejected from ${e.from}: ${e.reason}`));
  live.on('received', (e) => note(`${time(e.at)} ${e.iface} ${e.from} -> ${e.to} ${summarize(e.message)}`));

  function draw(): void {
    const rows = live.dump();
    const lines = [`headend watch  ${new Date().toISOString()}  ${live.interfaces().map((i) => i.name).join(' ')}`, ''];
    lines.push(pad('IFACE', 8) + pad('GROUP', 34) + pad('MODE', 8) + pad('TIMER', 8) + pad('N', 4) + 'SOURCES (timer) / HOSTS');
    for (const r of rows) {
      const sources = r.sources.map((s) => `${s.address}(${secs(s.timerMs)})`).join(' ');
      lines.push(pad(r.iface, 8) + pad(r.group, 34) + pad(r.mode, 8) + pad(secs(r.groupTimerMs), 8) + pad(String(r.subscribers), 4) + (sources || '-'));
      if (r.hosts.length) lines.push(' '.repeat(62) + 'hosts: ' + r.hosts.join(' '));
    }
    if (rows.length === 0) lines.push('(no listeners)');
    lines.push('', 'events:', ...events);
    process.stdout.write('\x1b[H\x1b[2J' + lines.join('\n') + '\n');
  }
  draw();
  setInterval(draw, 1000);
}

function pad(s: string, n: number): string {
  return s.length >= n ? s + ' ' : s + ' '.repeat(n - s.length);
}

function secs(ms: number): string {
  return (ms / 1000).toFixed(1) + 's';
}

function summarize(m: Record<string, unknown>): string {
  const head = `${m.proto} v${m.version} ${m.kind}`;
  if (Array.isArray(m.records)) {
    return head + ' ' + (m.records as Array<{ type: string; group: string; sources: string[] }>)
      .map((r) => `${r.type} ${r.group}{${r.sources.join(',')}}`).join('; ');
  }
  return `${head} ${m.group ?? ''}`;
}
