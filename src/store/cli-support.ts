/**
 * What the admin commands (`headend dir|channel|plan|export`) share: the
 * `--config` / `--database` options, one-line errors for admin mistakes, a
 * progress bar, and a plain table.
 */
import type { Command } from 'commander';
import type { HeadendConfig } from '../config.js';
import type { Store } from './store.js';

export interface StoreCliOptions { config?: string; database?: string; json?: boolean }

export function storeOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'YAML config file (default: built-in defaults)')
    .option('-d, --database <path>', 'SQLite database (default: the config\'s `database`)');
}

const ADMIN_ERRORS = new Set(['StoreError', 'PlanError', 'DirectoryFormatError', 'SourceError', 'ConfigError', 'SdpError', 'AddressError']);

/** Opens the store, runs `fn`, closes it; an admin mistake prints one line and exits 2. */
export async function withStore(opts: StoreCliOptions, fn: (store: Store, config: HeadendConfig) => Promise<void> | void): Promise<void> {
  const { openStoreForCli } = await import('./from-config.js');
  let opened: { store: Store; config: HeadendConfig } | undefined;
  try {
    opened = await openStoreForCli(opts);
    await fn(opened.store, opened.config);
  } catch (err) {
    if (err instanceof Error && ADMIN_ERRORS.has(err.name)) {
      process.stderr.write(`headend: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw err;
  } finally {
    opened?.store.close();
  }
}

// `headend channel list | head`: a closed pipe ends the command quietly.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Columns padded to their widest cell; the last column is not padded. */
export function printTable(header: string[], rows: (string | number)[][]): void {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.min(48, Math.max(...cells.map((r) => (r[i] ?? '').length))));
  for (const r of cells) {
    process.stdout.write(r.map((c, i) => (i === r.length - 1 ? c : c.slice(0, widths[i]).padEnd(widths[i]))).join('  ') + '\n');
  }
}

/**
 * Progress on stderr: a redrawn bar on a terminal, a line every 10 % otherwise
 * (so logs and tests can follow a long import).
 */
export function progressReporter(stream: NodeJS.WriteStream = process.stderr): (phase: string, done: number, total: number) => void {
  let lastDecile = -1;
  let lastDraw = 0;
  return (phase, done, total) => {
    const frac = total > 0 ? done / total : 1;
    if (stream.isTTY) {
      const now = Date.now();
      if (done < total && now - lastDraw < 100) return;
      lastDraw = now;
      const width = 30;
      const filled = Math.round(frac * width);
      stream.write(`\r${phase.padEnd(5)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.floor(frac * 100)).padStart(3)}% ${done}/${total}`);
      if (done >= total) stream.write('\n');
      return;
    }
    const decile = Math.floor(frac * 10);
    if (phase === 'store' && decile !== lastDecile) {
      lastDecile = decile;
      stream.write(`import: store ${done}/${total}\n`);
    }
  };
}
