/** `headend config check FILE`: validate a config and print it with defaults filled in. */
import type { Command } from 'commander';
import { loadConfig } from '../../config.js';

export function register(program: Command): void {
  const cmd = program.command('config').description('work with config files');
  cmd
    .command('check')
    .description('validate a YAML config and print the effective config (defaults filled in) as JSON')
    .argument('<file>', 'YAML config file')
    .action((file: string) => {
      const cfg = loadConfig(file);
      process.stdout.write(JSON.stringify({ ...cfg, api: { ...cfg.api, token: cfg.api.token ? '***' : undefined } }, null, 2) + '\n');
    });
}
