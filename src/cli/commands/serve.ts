/**
 * `headend serve --config FILE`: the daemon. Listens for joins on the
 * configured interfaces and answers them with streams until SIGTERM/SIGINT,
 * then stops every session (SAP deletions sent, children gone) and exits 0.
 * A second signal while shutting down exits at once (children still die with
 * us: they carry a parent-death signal).
 */
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('serve')
    .description('run the headend daemon: joins start streams, the last leave stops them')
    .option('-c, --config <file>', 'YAML config file (see `headend config check`)')
    .action(async (opts: { config?: string }) => {
      const { loadConfig, ConfigError } = await import('../../config.js');
      const { createLogger } = await import('../../log.js');
      const { Headend } = await import('../../headend.js');
      const config = loadConfig(opts.config);
      if (config.interfaces.length === 0) throw new ConfigError('interfaces', 'list at least one interface to hear joins on and send streams out of');
      const logger = createLogger({ level: config.log.level });
      const headend = await Headend.start(config, { logger });
      let stopping = false;
      const shutdown = (signal: NodeJS.Signals): void => {
        if (stopping) {
          logger.warn({ signal }, 'second signal: exiting now');
          process.exit(130);
        }
        stopping = true;
        logger.info({ signal }, 'shutting down');
        headend.close().then(
          () => process.exit(0),
          (err: unknown) => {
            logger.error({ err }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', shutdown);
      process.on('SIGINT', shutdown);
    });
}
