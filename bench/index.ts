/**
 * `npm run bench`: runs every bench/<name>.bench.ts (each exports
 * `run(): Promise<Record<string, number | string | null>>`), one after
 * another, logs progress to stderr, and prints one JSON object with all
 * figures on the last line of stdout. A benchmark that fails reports
 * `<name>_error` instead of stopping the others.
 *
 *   npm run bench                 all
 *   npm run bench -- membership   only bench/membership.bench.ts
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

type Figures = Record<string, number | string | null>;

const dir = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.includes(f.replace(/\.bench\.ts$/, '')))
  .sort();

const figures: Figures = {};
for (const f of files) {
  const name = f.replace(/\.bench\.ts$/, '');
  const started = Date.now();
  process.stderr.write(`bench: ${name} ...\n`);
  try {
    const mod = (await import(pathToFileURL(join(dir, f)).href)) as { run: () => Promise<Figures> };
    Object.assign(figures, await mod.run());
    process.stderr.write(`bench: ${name} done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  } catch (err) {
    figures[`${name}_error`] = (err as Error).message;
    process.stderr.write(`bench: ${name} failed: ${(err as Error).stack}\n`);
  }
}
process.stdout.write(JSON.stringify(figures) + '\n');
