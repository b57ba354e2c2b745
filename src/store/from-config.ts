/** Opening the store the way the daemon and the CLI do: the config's database, plan and static channels. */
import type { HeadendConfig } from '../config.js';
import type { Logger } from '../log.js';
import { planFromConfig, resolvePrefix } from '../plan/plan.js';
import { openStore, type Store } from './store.js';

export function openStoreFromConfig(cfg: HeadendConfig, opts: { logger?: Logger; database?: string; mergeStatic?: boolean } = {}): Store {
  const { derivedFrom } = resolvePrefix(cfg.plan.prefix, cfg.interfaces);
  if (derivedFrom === 'fallback') {
    opts.logger?.info('no plan.prefix and no global IPv6 address on the configured interfaces: the store\'s last prefix, else 2001:db8::/64 (documentation prefix)');
  }
  const store = openStore(opts.database ?? cfg.database, { logger: opts.logger, plan: planFromConfig(cfg), preferStoredPrefix: derivedFrom === 'fallback' });
  if (opts.mergeStatic !== false) {
    try {
      store.channels.upsertStatic(cfg.channels);
    } catch (err) {
      store.close();
      throw err;
    }
  }
  return store;
}

/** For the admin CLI: `--config FILE` (default: all defaults) and `--database PATH` (default: the config's). */
export async function openStoreForCli(opts: { config?: string; database?: string }): Promise<{ store: Store; config: HeadendConfig }> {
  const { loadConfig } = await import('../config.js');
  const { createLogger } = await import('../log.js');
  const config = loadConfig(opts.config);
  const logger = createLogger({ level: process.env.HEADEND_LOG_LEVEL ?? 'warn' });
  // Static channels are the daemon's to merge (at start): a command run without
  // the daemon's config must not remove them.
  return { store: openStoreFromConfig(config, { logger, database: opts.database, mergeStatic: opts.config !== undefined }), config };
}
