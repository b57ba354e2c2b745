/**
 * `headend dir import KIND FILE|URL`, `headend dir sync [REF]`, `headend dir list`,
 * `headend dir show REF`, `headend dir remove REF`: directories of stations and DVB services.
 */
import type { Command } from 'commander';
import { printJson, printTable, progressReporter, storeOptions, withStore, type StoreCliOptions } from '../../store/cli-support.js';

interface ImportOptions extends StoreCliOptions { name?: string; tag?: string; country?: string; codec?: string; limit?: string }

export function register(program: Command): void {
  const dir = program.command('dir').description('station and service directories: import, re-sync, list');

  storeOptions(dir.command('import'))
    .description('import (or re-sync) a directory from a file or an http(s) URL; one transaction, malformed entries skipped and counted')
    .argument('<kind>', 'icecast (yp.xml) | radio-browser (JSON) | opml (TuneIn) | m3u | dvb (DVB-S/S2 list)')
    .argument('<source>', 'file path or http(s) URL')
    .option('-n, --name <name>', 'directory name in the store (default: file base name or URL host); re-import under the same name to re-sync')
    .option('--tag <tag>', 'radio-browser server URL: stations with this tag')
    .option('--country <cc>', 'radio-browser server URL: ISO country code')
    .option('--codec <codec>', 'radio-browser server URL: codec (MP3, AAC ...)')
    .option('--limit <n>', 'radio-browser server URL: at most N stations', '1000')
    .option('--json', 'print the result as JSON')
    .action(async (kindName: string, source: string, opts: ImportOptions) => {
      await withStore(opts, async (store, config) => {
        const { importDirectory, importKind, IMPORT_KINDS } = await import('../../directories/index.js');
        const { StoreError } = await import('../../store/store.js');
        const kind = importKind(kindName);
        if (!kind) throw new StoreError('invalid', 'kind', `unknown directory kind "${kindName}": one of ${IMPORT_KINDS.join(', ')}`);
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1) throw new StoreError('invalid', 'limit', `--limit: not a positive integer: ${opts.limit}`);
        const result = await importDirectory(store, {
          kind, source, name: opts.name,
          query: { tag: opts.tag, country: opts.country, codec: opts.codec, limit },
          onProgress: progressReporter(),
        }, config.directories);
        if (opts.json) return printJson(result);
        const d = result.directory;
        process.stdout.write(`directory ${d.id} "${d.name}" (${d.kind}): ${result.added} added, ${result.updated} updated, ` +
          `${result.unchanged} unchanged, ${result.missing} missing, ${result.skipped} skipped; ${d.channels} channels\n`);
        for (const [reason, n] of Object.entries(result.skipReasons)) process.stdout.write(`  skipped ${n}: ${reason}\n`);
        for (const s of result.skippedEntries.slice(0, 10)) process.stdout.write(`  entry ${s.at}: ${s.reason}\n`);
      });
    });

  storeOptions(dir.command('sync'))
    .description('re-import directories from the file or URL they were last imported from (all, or one)')
    .argument('[ref]', 'directory id or name (default: every imported directory)')
    .option('--json', 'print the results as JSON')
    .action(async (ref: string | undefined, opts: StoreCliOptions) => {
      await withStore(opts, async (store, config) => {
        const { resyncDirectories } = await import('../../directories/index.js');
        const results = await resyncDirectories(store, ref, config.directories, progressReporter());
        if (opts.json) return printJson(results);
        for (const r of results) {
          process.stdout.write('error' in r
            ? `directory "${r.name}": ${r.error}\n`
            : `directory "${r.directory.name}": ${r.added} added, ${r.updated} updated, ${r.missing} missing, ${r.skipped} skipped\n`);
        }
        if (results.some((r) => 'error' in r)) process.exitCode = 2;
      });
    });

  storeOptions(dir.command('list'))
    .description('list directories with their channel counts')
    .option('--json', 'JSON output')
    .action(async (opts: StoreCliOptions) => {
      await withStore(opts, (store) => {
        const dirs = store.directories.list();
        if (opts.json) return printJson(dirs);
        printTable(['ID', 'KIND', 'CHANNELS', 'LAST SYNC', 'NAME', 'SOURCE'], dirs.map((d) => [
          d.id, d.kind, d.channels, d.lastSyncAt ? new Date(d.lastSyncAt).toISOString().slice(0, 19) + 'Z' : '-', d.name, d.source ?? '-',
        ]));
      });
    });

  storeOptions(dir.command('show'))
    .description('one directory and its recent syncs')
    .argument('<ref>', 'directory id or name')
    .option('--json', 'JSON output')
    .action(async (ref: string, opts: StoreCliOptions) => {
      await withStore(opts, async (store) => {
        const { StoreError } = await import('../../store/store.js');
        const d = store.directories.get(ref);
        if (!d) throw new StoreError('not-found', 'ref', `no directory ${ref}`);
        const syncs = store.directories.syncs(10, d.id);
        if (opts.json) return printJson({ ...d, syncs });
        printJson(d);
        printTable(['SYNC', 'AT', 'SEEN', 'ADDED', 'UPDATED', 'MISSING', 'SKIPPED'], syncs.map((s) => [
          s.id, new Date(s.startedAt).toISOString().slice(0, 19) + 'Z', s.seen, s.added, s.updated, s.missing, s.skipped,
        ]));
      });
    });

  storeOptions(dir.command('remove'))
    .description('delete a directory and all its channels')
    .argument('<ref>', 'directory id or name')
    .action(async (ref: string, opts: StoreCliOptions) => {
      await withStore(opts, async (store) => {
        const { StoreError } = await import('../../store/store.js');
        const d = store.directories.get(ref);
        if (!d) throw new StoreError('not-found', 'ref', `no directory ${ref}`);
        store.directories.remove(d.id);
        process.stdout.write(`removed directory ${d.id} "${d.name}" and its ${d.channels} channels\n`);
      });
    });
}
