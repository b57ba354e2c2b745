import { test } from 'node:test';
import assert from 'node:assert/strict';
import { progressReporter } from '../../src/store/cli-support.js';

function fakeStream(isTTY: boolean) {
  const out: string[] = [];
  return { out, stream: { isTTY, write: (s: string) => { out.push(s); return true; } } as unknown as NodeJS.WriteStream };
}

test('progress: a redrawn bar on a terminal, ending with a newline', () => {
  const { out, stream } = fakeStream(true);
  const report = progressReporter(stream);
  report('store', 0, 200);
  report('store', 200, 200);
  assert.match(out[0], /^\rstore \[\.{30}\]   0% 0\/200$/);
  assert.match(out[1], /^\rstore \[#{30}\] 100% 200\/200$/);
  assert.equal(out[2], '\n');
});

test('progress: one line per tenth when stderr is not a terminal', () => {
  const { out, stream } = fakeStream(false);
  const report = progressReporter(stream);
  report('read', 0, 1);
  for (let i = 0; i <= 1000; i += 50) report('store', i, 1000);
  assert.deepEqual(out, [0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000].map((n) => `import: store ${n}/1000\n`));
});
