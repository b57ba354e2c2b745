// `headend lab --json` as a newcomer runs it: the whole chain works, the last
// stdout line is one JSON object of figures, and nothing is left behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { canUseNetns } from '../helpers/netns.js';

const execFileP = promisify(execFile);

// bin/headend runs the build (dist/, compiled from src/ only) with production
// dependencies: everything `headend lab` loads must be in src/ or a runtime
// dependency, never the test tree, tsx or a devDependency.
test('headend lab loads only src/ and runtime dependencies', () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string> };
  const runtime = new Set(Object.keys(pkg.dependencies).filter((d) => d !== 'tsx'));
  const builtins = new Set(builtinModules);
  const seen = new Set<string>();
  // probe.ts runs as its own child (nodeEntry), so it is a root of its own.
  const todo = [resolve('src/cli/commands/lab.ts'), resolve('src/lab/probe.ts')];
  const bad: string[] = [];
  while (todo.length) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    // Static imports and exports (`import type` included: harmless), bare `import '...'`, and dynamic import('...').
    for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*'([^']+)'|(?:^|\n)\s*import\s*'([^']+)'|import\(\s*'([^']+)'\s*\)/g)) {
      const spec = (m[1] ?? m[2] ?? m[3])!;
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
        if (relative(resolve('src'), target).startsWith('..')) bad.push(`${relative('.', file)} -> ${spec}`);
        else todo.push(target);
      } else {
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        if (!spec.startsWith('node:') && !builtins.has(name) && !runtime.has(name)) bad.push(`${relative('.', file)} -> ${spec}`);
      }
    }
  }
  assert.ok(seen.has(resolve(join('src', 'lab', 'netns.ts'))) && seen.has(resolve(join('src', 'lab', 'icecast.ts'))), 'the walk reaches the harness');
  assert.deepEqual(bad, []);
});

test('headend lab --json: join, first RTP, SAP, decoded codec, title change, leave, stop, deletion; cleans up', { skip: !canUseNetns() && 'needs root and iproute2' }, async () => {
  const { stdout } = await execFileP(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'lab', '--json'], { timeout: 90_000, maxBuffer: 1 << 20 });
  const lines = stdout.trim().split('\n');
  const figures = JSON.parse(lines.at(-1)!) as Record<string, number | string | null>;
  assert.equal(figures.ok, 'yes', stdout);
  assert.equal(figures.decoded_codec, 'mp3');
  for (const key of ['join_heard_ms', 'session_start_ms', 'first_rtp_ms', 'sap_seen_ms', 'title_to_sap_ms', 'session_stop_ms', 'sap_deletion_ms', 'leave_to_last_rtp_ms', 'source_connect_ms', 'source_first_byte_ms']) {
    assert.equal(typeof figures[key], 'number', `${key} missing: ${lines.at(-1)}`);
  }
  // The story in order: join heard, start, first RTP, then the stop follows the leave.
  assert.ok((figures.session_start_ms as number) >= (figures.join_heard_ms as number));
  // The station is asked after the start and answers before the first RTP (pino's ms clock truncates: 1 ms of slack).
  assert.ok((figures.source_connect_ms as number) >= (figures.session_start_ms as number) - 1);
  assert.ok((figures.source_first_byte_ms as number) <= (figures.first_rtp_ms as number));
  assert.ok((figures.session_stop_ms as number) >= (figures.leave_heard_ms as number));
  assert.ok((figures.sap_deletion_ms as number) >= (figures.leave_ms as number) - 50);
  assert.ok(lines.some((l) => /^lab: \+\d+ ms +client: first RTP packet/.test(l)), 'human-readable timeline printed');
  // The namespaces it named are gone (other tests may create their own meanwhile).
  const named = /namespaces: (\S+) .*<-veth-> (\S+) /.exec(stdout);
  assert.ok(named, 'the lab names its namespaces');
  const after = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  for (const ns of [named[1]!, named[2]!]) assert.ok(!after.includes(ns), `${ns} left behind`);
});
