import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdTable } from '../../src/membership/idtable.js';

/** Random operations on tables of every size against a Map, crossing the inline / array boundary both ways. */
for (const [capacity, span] of [[2, 3], [2, 5], [2, 40], [8, 6]] as const) {
  test(`IdTable (capacity ${capacity}, ids 0..${span - 1}) matches a Map through sets, deletes and expiries`, () => {
    const t = new IdTable(capacity);
    const ref = new Map<number, number>();
    let seed = 11 + span;
    const next = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    for (let i = 0; i < 4000; i++) {
      const r = next();
      const id = r % span;
      const op = (r >> 8) % 7;
      if (op < 3) {
        t.set(id, i + (r % 50));
        ref.set(id, i + (r % 50));
      } else if (op < 5) {
        assert.equal(t.delete(id), ref.delete(id));
      } else if (op === 5) {
        const now = i - 20;
        const gone: number[] = [];
        t.removeDue(now, (x) => gone.push(x));
        const want = [...ref].filter(([, d]) => d <= now).map(([x]) => x).sort((a, b) => a - b);
        for (const x of want) ref.delete(x);
        assert.deepEqual(gone, want, 'expired ids, ascending');
      } else {
        assert.equal(t.has(id), ref.has(id));
        assert.equal(t.get(id), ref.get(id));
      }
      assert.equal(t.size, ref.size);
      assert.deepEqual(t.keys(), [...ref.keys()].sort((a, b) => a - b));
      assert.equal(t.minDeadline(), ref.size === 0 ? 0 : Math.min(...ref.values()));
    }
  });
}
