#!/usr/bin/env node
// Runs the test suite with node's own test runner, TypeScript through tsx.
//   node scripts/run-tests.mjs            every test/**/*.test.ts
//   node scripts/run-tests.mjs --unit     all but test/e2e (no root, no namespaces)
//   node scripts/run-tests.mjs PATH...    just these files or folders
// Files run one after another: the end-to-end tests time real packets and
// processes, and CI has two cores.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';

const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const roots = args.filter((a) => !a.startsWith('--'));

function walk(path) {
  if (statSync(path).isFile()) return [path];
  return readdirSync(path).flatMap((f) => walk(join(path, f)));
}

let files = (roots.length ? roots : ['test']).flatMap(walk).filter((f) => f.endsWith('.test.ts')).sort();
if (unitOnly) files = files.filter((f) => !f.startsWith(join('test', 'e2e')));
if (files.length === 0) {
  console.error('run-tests: no test files found');
  process.exit(1);
}

const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=1', '--test-timeout=300000', ...files],
  { stdio: 'inherit' },
);
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
