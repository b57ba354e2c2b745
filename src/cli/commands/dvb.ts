/**
 * `headend dvb status [--config FILE] [--json]`: tuners, tuned carriers,
 * the services each outputs, lock state and recent errors, as the running
 * headend reports them in GET /status (`live.dvb`). When no headend
 * answers, the configured tuners are shown and the exit code is 1, so a
 * script can tell "idle" from "not running".
 */
import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import type { DvbStatus } from '../../ingest/dvb/pool.js';

interface StatusOptions { config?: string; json?: boolean; timeout: string }

/** What `dvb status` found: the daemon's pool status, or only the configuration. */
export interface DvbStatusReport extends DvbStatus {
  source: string;
  reachable: boolean;
  note?: string;
}

function apiBase(listen: string): string {
  // A wildcard listen address is reached on loopback.
  const host = listen.replace(/^0\.0\.0\.0:/, '127.0.0.1:').replace(/^\[::\]:/, '[::1]:');
  return `http://${host}`;
}

export async function dvbStatusReport(configFile: string | undefined, timeoutMs: number): Promise<DvbStatusReport> {
  const cfg = loadConfig(configFile);
  const url = `${apiBase(cfg.api.listen)}/status`;
  const configured: DvbStatus = {
    tuners: cfg.dvb.adapters.map((a) => ({ name: a.name, kind: a.kind, state: 'free' as const })),
    carriers: [],
    errors: [],
  };
  // The daemon puts its live state under `live` (src/headend.ts); accept it at the top level too.
  let body: { dvb?: DvbStatus; live?: { dvb?: DvbStatus } };
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    body = (await res.json()) as typeof body;
  } catch (err) {
    const why = (err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : ((err as Error & { cause?: Error }).cause?.message ?? (err as Error).message);
    return { source: url, reachable: false, note: `headend not reachable at ${url} (${why}); showing the configured tuners`, ...configured };
  }
  const dvb = body.live?.dvb ?? body.dvb;
  if (!dvb) {
    return { source: url, reachable: true, note: 'the running headend reports no DVB tuner pool (no dvb.adapters in its config?)', ...configured };
  }
  return { source: url, reachable: true, ...dvb };
}

function printText(r: DvbStatusReport): void {
  const out: string[] = [];
  if (r.note) out.push(`note: ${r.note}`);
  out.push(`tuners (${r.tuners.length}):`);
  for (const t of r.tuners) out.push(`  ${t.name.padEnd(12)} ${t.kind.padEnd(4)} ${r.reachable ? t.state : 'unknown'}${t.carrier ? `  ${t.carrier}` : ''}`);
  out.push(`carriers (${r.carriers.length}):`);
  for (const c of r.carriers) {
    const rate = c.bitsPerSecond !== undefined ? `  ${(c.bitsPerSecond / 1e6).toFixed(2)} Mbit/s` : '';
    out.push(`  ${c.tuning}  tuner ${c.adapter}  pid ${c.pid ?? '-'}  ${c.state}, lock ${c.lock}${rate}  restarts ${c.restarts}  since ${c.since}`);
    for (const s of c.services) {
      const names = s.name ? `  "${s.name}"${s.provider ? ` (${s.provider})` : ''}` : '';
      out.push(`    sid ${String(s.serviceId).padEnd(5)} -> [${s.group}]  ${s.iface}${names}`);
    }
  }
  if (r.errors.length) {
    out.push(`recent errors (${r.errors.length}, newest first):`);
    for (const e of r.errors.slice(0, 10)) out.push(`  ${e.at}  ${[e.adapter, e.carrier].filter(Boolean).join(' ')}  ${e.message}`);
  }
  process.stdout.write(out.join('\n') + '\n');
}

export function register(program: Command): void {
  const dvb = program.command('dvb').description('DVB tuner pool (dvblast)');
  dvb
    .command('status')
    .description('tuners, tuned carriers, services, lock state and recent errors of the running headend')
    .option('--config <file>', 'headend config (YAML): where the API listens, which tuners exist')
    .option('--json', 'one JSON object')
    .option('--timeout <ms>', 'how long to wait for the headend', '2000')
    .action(async (opts: StatusOptions) => {
      const timeoutMs = Number(opts.timeout);
      if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new Error(`--timeout: not a number of ms: ${opts.timeout}`);
      const report = await dvbStatusReport(opts.config, timeoutMs);
      if (opts.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      else printText(report);
      if (!report.reachable) process.exitCode = 1;
    });
}
