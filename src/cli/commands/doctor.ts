/** `headend doctor`: checks the host the way an admin would and prints what to fix. */
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('doctor')
    .description('check this host for what the headend needs (capabilities, tools, interfaces, routes, rp_filter, firewall, other queriers) and print what to fix')
    .option('-c, --config <file>', 'YAML config (interfaces, database, ingest.ffmpeg)')
    .option('-i, --interface <name...>', 'interfaces to check (default: the config\'s)')
    .option('--listen <seconds>', 'how long to listen for other queriers', '3')
    .option('--json', 'print the findings as one JSON object')
    .action(async (opts: { config?: string; interface?: string[]; listen: string; json?: boolean }) => {
      const { loadConfig, ConfigError } = await import('../../config.js');
      const { gatherFacts } = await import('../../doctor/gather.js');
      const { diagnose, summarize } = await import('../../doctor/checks.js');
      const cfg = loadConfig(opts.config);
      const listenS = Number(opts.listen);
      if (!Number.isFinite(listenS) || listenS < 0 || listenS > 600) throw new ConfigError('--listen', 'must be seconds between 0 and 600');
      const facts = await gatherFacts({
        interfaces: opts.interface ?? cfg.interfaces,
        ffmpeg: cfg.ingest.ffmpeg,
        database: cfg.database,
        listenMs: Math.round(listenS * 1000),
      });
      const findings = diagnose(facts);
      const summary = summarize(findings);
      if (opts.json) {
        process.stdout.write(JSON.stringify({ summary, findings }) + '\n');
      } else {
        const mark = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' } as const;
        for (const f of findings) {
          process.stdout.write(`${mark[f.level]}  ${f.message}\n`);
          if (f.fix) process.stdout.write(`      fix: ${f.fix}\n`);
        }
        process.stdout.write(`\n${summary.ok} ok, ${summary.warn} warnings, ${summary.fail} failures\n`);
      }
      // Non-zero when something must be fixed, so scripts and CI can gate on it.
      process.exitCode = summary.fail > 0 ? 1 : 0;
    });
}
