/**
 * The dashboard: one page (plain HTML, CSS and JS in src/api/dashboard/,
 * served as they are, no build step) and the server-sent events that keep it
 * live.
 *
 *   registerDashboard(app, { status: () => live.status() });
 *
 * Routes:
 *   GET /, /dashboard          the page
 *   GET /dashboard/app.js|style.css
 *   GET /events                text/event-stream: `status` (the whole status,
 *                              at once and then whenever it changes) and
 *                              `heartbeat` (every heartbeatMs, so proxies keep
 *                              the stream and the page sees a dead one)
 *
 * The status is sampled every `pollMs` while at least one page is connected
 * and sent only when its JSON differs from the last one sent: the rooms need
 * no event hooks for the page, and a change reaches the page within pollMs.
 * At most `maxClients` streams are kept (503 beyond, the page retries);
 * a stream closed by the client is dropped at once, and app.close() ends them
 * all first (preClose), since open streams would hold the server open.
 *
 * The rest of what the page shows comes from the API's own routes (/channels,
 * /history, POST /channels/REF/enable|disable with the Bearer token).
 */
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

export interface DashboardDeps {
  /** The live status, as `/status` shows it; called every pollMs while a page is open. */
  status(): object;
  /** Sampling period of the status for changes (default 250 ms). */
  pollMs?: number;
  /** Heartbeat period (default 15 s). */
  heartbeatMs?: number;
  /** Most event streams open at once (default 32). */
  maxClients?: number;
}

/**
 * The page's files, from the source tree: src/api/dashboard/ sits two levels
 * under the package root, as this module does in src/api/ (tsx) and in
 * dist/api/ (the build), so one path serves both and tsc need not copy them.
 */
export const DASHBOARD_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'api', 'dashboard');

const FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
};

/** One SSE frame: `event:` then the data, one `data:` line per line (WHATWG HTML §9.2.6). */
export function sseFrame(event: string, data: string): string {
  return `event: ${event}\n${data.split('\n').map((l) => `data: ${l}`).join('\n')}\n\n`;
}

export function registerDashboard(app: FastifyInstance, deps: DashboardDeps): { clients(): number } {
  const pollMs = deps.pollMs ?? 250;
  const heartbeatMs = deps.heartbeatMs ?? 15_000;
  const maxClients = deps.maxClients ?? 32;
  // Read once: a missing file is a broken install, better told at start than on first visit.
  const files = new Map(Object.entries(FILES).map(([name, type]) => [name, { type, body: readFileSync(join(DASHBOARD_DIR, name)) }]));

  const page = files.get('index.html')!;
  const sendPage = async (_req: unknown, reply: import('fastify').FastifyReply) =>
    reply.type(page.type).header('cache-control', 'no-cache').send(page.body);
  app.get('/', sendPage);
  app.get('/dashboard', sendPage);
  app.get<{ Params: { file: string } }>('/dashboard/:file', async (req, reply) => {
    const f = req.params.file === 'index.html' ? undefined : files.get(req.params.file);
    if (!f) return reply.code(404).type('application/json').send({ error: 'not-found', message: `no dashboard file ${req.params.file}` });
    return reply.type(f.type).header('cache-control', 'no-cache').send(f.body);
  });

  const clients = new Set<ServerResponse>();
  let last = '';
  let poller: NodeJS.Timeout | undefined;
  let beater: NodeJS.Timeout | undefined;

  const read = (): string | undefined => {
    try {
      return JSON.stringify(deps.status());
    } catch (err) {
      app.log.warn({ err }, 'dashboard: status provider failed');
      return undefined;
    }
  };
  const broadcast = (frame: string) => {
    for (const res of clients) res.write(frame);
  };
  const tick = () => {
    const now = read();
    if (now === undefined || now === last) return;
    last = now;
    broadcast(sseFrame('status', now));
  };
  const startTimers = () => {
    poller ??= setInterval(tick, pollMs);
    beater ??= setInterval(() => broadcast(sseFrame('heartbeat', JSON.stringify({ at: Date.now() }))), heartbeatMs);
  };
  const stopTimers = () => {
    clearInterval(poller);
    clearInterval(beater);
    poller = beater = undefined;
  };
  const drop = (res: ServerResponse) => {
    if (!clients.delete(res)) return;
    if (!res.writableEnded) res.end();
    if (clients.size === 0) stopTimers();
  };

  app.get('/events', async (req, reply) => {
    if (clients.size >= maxClients) {
      return reply.code(503).header('retry-after', '5').type('application/json')
        .send({ error: 'busy', message: `${maxClients} event streams already open (the dashboard retries)` });
    }
    const now = read();
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    // retry: how soon EventSource reconnects after the stream drops.
    res.write('retry: 2000\n\n');
    if (now !== undefined) {
      res.write(sseFrame('status', now));
      if (clients.size === 0) last = now;
    }
    clients.add(res);
    startTimers();
    req.raw.on('close', () => drop(res));
    res.on('error', () => drop(res));
  });

  app.addHook('preClose', async () => {
    for (const res of [...clients]) drop(res);
    stopTimers();
  });

  return { clients: () => clients.size };
}
