// The two-namespace on-demand lab the ondemand-*.test.ts files share: the
// headend namespace (lan0, HEAD_ADDR) running icecast2 and `headend serve`
// with the given channels, and a client namespace (eth0, CLIENT_ADDR).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, type Netns } from '../helpers/netns.js';
import { startIcecast, type Icecast } from '../helpers/icecast.js';
import { headAndClient, startServe, type ServeProcess } from '../../src/lab/parts.js';

export interface OndemandLab {
  head: Netns;
  client: Netns;
  ice: Icecast;
  serve: ServeProcess;
  /** Temp folder with the config and database, removed by close(). */
  dir: string;
  /** GET on the daemon's API from inside the headend namespace. */
  api(path: string): Promise<{ status: number; body: string }>;
  /** Stops the daemon (returns its exit code), icecast and the namespaces. */
  close(): Promise<number | null>;
}

/** GET through curl in `ns` (the API listens on the namespace's loopback). */
export async function apiGet(ns: Netns, port: number, path: string): Promise<{ status: number; body: string }> {
  const out = await ns.exec('curl', ['-s', '-m', '3', '-w', '\\n%{http_code}', `http://127.0.0.1:${port}${path}`]);
  const nl = out.lastIndexOf('\n');
  return { status: Number(out.slice(nl + 1)), body: out.slice(0, nl) };
}

/**
 * Starts the lab; `config(dir, iceUrl)` gives the daemon's config (interfaces,
 * database and api.listen are filled in). Any-source joins count (ffprobe's
 * sap demuxer and GStreamer's udpsrc join any-source).
 */
export async function startOndemandLab(name: string, apiPort: number, config: (dir: string, iceUrl: string) => Record<string, unknown>): Promise<OndemandLab> {
  const lab = new Lab();
  let ice: Icecast | undefined;
  let dir: string | undefined;
  try {
    const { head, client } = await headAndClient(lab) as { head: Netns; client: Netns };
    ice = await startIcecast({ inNamespace: head, name: 'Lab Tone' });
    dir = await mkdtemp(join(tmpdir(), `headend-${name}-`));
    const doc = {
      interfaces: ['lan0'],
      database: join(dir, 'headend.db'),
      api: { listen: `127.0.0.1:${apiPort}` },
      membership: { ssmRanges: [] },
      sessions: { lingerMs: 0 },
      ...config(dir, ice.url),
    };
    await writeFile(join(dir, 'headend.json'), JSON.stringify(doc));
    const serve = await startServe(head, join(dir, 'headend.json'));
    const folder = dir;
    const icecast = ice;
    return {
      head, client, ice, serve, dir,
      api: (path) => apiGet(head, apiPort, path),
      close: async () => {
        try {
          const code = await serve.stop();
          await icecast.close();
          return code;
        } finally {
          await lab.close();
          await rm(folder, { recursive: true, force: true });
        }
      },
    };
  } catch (err) {
    await ice?.close().catch(() => undefined);
    await lab.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
