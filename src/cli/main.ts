#!/usr/bin/env node
/**
 * `headend <command>`: one executable, one file per subcommand in
 * src/cli/commands/. Each exports `register(program)`, and is found by
 * listing that folder, so adding a command touches no shared file.
 * Command modules import heavy rooms lazily inside their action, so that
 * `headend decode` starts in milliseconds.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config.js';

type Register = (program: Command) => void;

const COMMANDS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'commands');

function commandModules(): string[] {
  // Running from src/ (tsx) the files end in .ts; from dist/ in .js.
  return readdirSync(COMMANDS_DIR)
    .filter((f) => /\.(ts|js)$/.test(f) && !f.endsWith('.d.ts') && !f.includes('.test.'))
    .sort()
    .map((f) => pathToFileURL(join(COMMANDS_DIR, f)).href);
}

export async function buildProgram(): Promise<Command> {
  const program = new Command('headend')
    .description('On-demand multicast headend: a join starts the stream, the last leave stops it')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();
  for (const url of commandModules()) {
    const mod = (await import(url)) as { register?: Register };
    if (typeof mod.register === 'function') mod.register(program);
  }
  return program;
}

/** Errors an admin can cause print one line naming what is wrong, exit 2. */
function reportFailure(err: unknown): never {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  if (err instanceof ConfigError) {
    process.stderr.write(`headend: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`headend: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  const program = await buildProgram();
  await program.parseAsync(process.argv);
}

main().catch(reportFailure);
