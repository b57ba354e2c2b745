/**
 * Directory import and the zap-path lookup.
 *
 * - import_50k_stations_s: read, parse and store a 50,000-station
 *   radio-browser-shaped JSON file into a fresh file-backed store (WAL), one
 *   transaction, service numbers assigned. Target < 5 s.
 * - channel_lookup_us_p99: `store.channels.byGroup(group)` for random groups of
 *   those 50,000 channels, 200,000 lookups back to back, each timed; p99 in µs.
 *   Target < 50 µs.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importDirectory } from '../src/directories/index.js';
import { syntheticRadioBrowser } from '../src/directories/synthetic.js';
import { DEFAULT_PLAN_OPTIONS, Plan } from '../src/plan/plan.js';
import { openStore } from '../src/store/index.js';

const STATIONS = 50_000;
const LOOKUPS = 200_000;

export async function run(): Promise<Record<string, number | string | null>> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-dir-'));
  try {
    const file = join(dir, 'stations.json');
    writeFileSync(file, syntheticRadioBrowser(STATIONS));
    const store = openStore(join(dir, 'headend.db'), { plan: new Plan({ ...DEFAULT_PLAN_OPTIONS, prefix: '2001:db8:1::/64' }) });
    try {
      const t0 = process.hrtime.bigint();
      const result = await importDirectory(store, { kind: 'radio-browser', source: file, name: 'bench' }, {
        maxBytes: 256 * 1024 * 1024, timeoutMs: 60_000, userAgent: 'bench',
      });
      const importS = Number(process.hrtime.bigint() - t0) / 1e9;
      if (result.added !== STATIONS) throw new Error(`imported ${result.added} of ${STATIONS}`);

      const groups = store.channels.list({ limit: STATIONS }).map((c) => c.group);
      // warm the statement cache and the page cache
      for (let i = 0; i < 10_000; i++) store.channels.byGroup(groups[i % groups.length]);
      const times = new Float64Array(LOOKUPS);
      let seed = 12345;
      let misses = 0;
      for (let i = 0; i < LOOKUPS; i++) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        const g = groups[seed % groups.length];
        const s = process.hrtime.bigint();
        const c = store.channels.byGroup(g);
        times[i] = Number(process.hrtime.bigint() - s) / 1000;
        if (!c) misses++;
      }
      if (misses) throw new Error(`${misses} lookups missed`);
      times.sort();
      return {
        import_50k_stations_s: Number(importS.toFixed(3)),
        channel_lookup_us_p50: Number(times[Math.floor(LOOKUPS * 0.5)].toFixed(2)),
        channel_lookup_us_p99: Number(times[Math.floor(LOOKUPS * 0.99)].toFixed(2)),
      };
    } finally {
      store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
