/**
 * `headend lab [--json] [--keep]`: builds two network namespaces joined by a
 * veth pair, runs icecast2 (fed a tone with changing ICY titles) and
 * `headend serve` in one, joins from the other with ffprobe, prints what
 * happened with timings, and removes everything again, also on Ctrl-C or
 * failure. See src/lab/run.ts.
 */
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('lab')
    .description('demo and end-to-end check: namespaces, icecast2, headend serve, an ffprobe client; prints timings')
    .option('--json', 'print the figures as one JSON object on the last line')
    .option('--keep', 'keep the lab running after the run until Ctrl-C')
    .option('--group <group>', 'the IPv6 SSM group of the lab channel')
    .action(async (opts: { json?: boolean; keep?: boolean; group?: string }) => {
      const { Lab, canUseNetns } = await import('../../lab/netns.js');
      const { startIcecast } = await import('../../lab/icecast.js');
      const { runLab } = await import('../../lab/run.js');
      if (!canUseNetns()) {
        process.stderr.write('headend lab: needs root and iproute2 (it creates network namespaces)\n');
        process.exit(2);
      }
      const say = (line: string): void => { process.stdout.write(`lab: ${line}\n`); };
      const keepUntil = opts.keep
        ? () => new Promise<void>((resolve) => { process.once('SIGINT', resolve); process.once('SIGTERM', resolve); })
        : undefined;
      try {
        const figures = await runLab({ lab: new Lab(), startIcecast, say, keepUntil, ...(opts.group ? { group: opts.group } : {}) });
        if (opts.json) process.stdout.write(JSON.stringify(figures) + '\n');
      } catch (err) {
        const figures = (err as { figures?: Record<string, unknown> }).figures;
        process.stderr.write(`headend lab: failed: ${(err as Error).message}\n`);
        if (opts.json) process.stdout.write(JSON.stringify(figures ?? { ok: 'no', error: (err as Error).message }) + '\n');
        process.exitCode = 1;
      }
    });
}
