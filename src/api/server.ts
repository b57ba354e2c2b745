/**
 * The HTTP API (Fastify 5): JSON for the channel, directory and plan
 * operations, plus what players load (`/channels.m3u`, `/channels/<group>.sdp`)
 * and `/status`.
 *
 *   const app = buildApi({ store, config, logger, live });
 *   await listenApi(app, config.api.listen);   // loopback by default
 *
 * Reads are open. Writes need `Authorization: Bearer <api.token>`: a missing
 * or wrong token gets 401; with no api.token in the config every write gets
 * 403 saying so. Bodies and queries are checked against JSON schemas; an
 * error names the field: `{ "error": "invalid", "field": "tuning.fec", "message": ... }`.
 *
 * Routes (GROUP = IPv6 or IPv4 group text; REF = channel id, group or service number):
 *   GET    /status                       counts, plan, and the live status of the sessions
 *   GET    /channels?q&kind&enabled&directory&tag&limit&offset
 *   GET    /channels/REF                 one channel with its plan meaning
 *   GET    /channels/GROUP.sdp           live SDP when playing, else the one it will announce
 *   GET    /channels.m3u?ipv4&source&style&all   playlist of enabled channels (style vlc|ffmpeg)
 *   POST   /channels                     add                      (write)
 *   PATCH  /channels/REF                 edit                     (write)
 *   POST   /channels/REF/enable|disable                           (write)
 *   DELETE /channels/REF                                          (write)
 *   GET    /directories                  with channel counts
 *   GET    /directories/REF              one directory and its recent syncs
 *   POST   /directories/import           { kind, source, name?, query? }  (write)
 *   POST   /directories/REF/sync         re-import from its last source    (write)
 *   DELETE /directories/REF              the directory and its channels   (write)
 *   GET    /plan/GROUP-or-NUMBER         what a group or service number means
 *   GET    /history?group&limit          session history
 */
import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { HeadendConfig } from '../config.js';
import type { Logger } from '../log.js';
import { PlanError } from '../plan/plan.js';
import { StoreError, type Store } from '../store/store.js';
import type { Channel, ChannelFilter, ChannelPatch, NewChannel } from '../store/types.js';
import { DirectoryFormatError, IMPORT_KINDS, importKind, SourceError, type RadioBrowserQuery } from '../directories/index.js';
import { importInWorker } from '../directories/import-worker.js';
import { buildM3u, channelSdp, headendSources } from './export.js';
import { describeRef } from './plan-lookup.js';
import { registerDashboard } from './dashboard.js';
import { registerMetrics } from './metrics.js';

export interface LiveView {
  status(): object;
  /** The SDP the session announces, when the group is playing. */
  sdp(group: string): string | undefined;
}

export interface ApiOptions {
  store: Store;
  config: HeadendConfig;
  logger: Logger;
  live?: LiveView;
}

const tuningSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['frequencyKhz', 'polarisation', 'symbolRate', 'system', 'fec', 'modulation'],
  properties: {
    frequencyKhz: { type: 'integer', minimum: 1 },
    polarisation: { enum: ['H', 'V', 'L', 'R'] },
    symbolRate: { type: 'integer', minimum: 1000 },
    system: { enum: ['DVBS', 'DVBS2'] },
    fec: { enum: ['auto', '1/2', '2/3', '3/4', '3/5', '4/5', '5/6', '6/7', '7/8', '8/9', '9/10'] },
    modulation: { enum: ['QPSK', 'PSK_8', 'APSK_16', 'APSK_32'] },
  },
} as const;

const channelFields = {
  name: { type: 'string', minLength: 1, maxLength: 200 },
  url: { type: 'string', minLength: 1, maxLength: 2000 },
  tuning: tuningSchema,
  serviceId: { type: 'integer', minimum: 1, maximum: 65535 },
  codec: { type: 'string', maxLength: 40 },
  tags: { type: 'array', maxItems: 50, items: { type: 'string', maxLength: 60 } },
  enabled: { type: 'boolean' },
  pinned: { type: 'boolean' },
  groupV4: { type: 'string', maxLength: 15 },
} as const;

const addSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: { ...channelFields, kind: { enum: ['radio', 'dvb'] }, group: { type: 'string', maxLength: 45 } },
} as const;

const nullable = <T extends object>(s: T) => ({ anyOf: [s, { type: 'null' }] });
const patchSchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    ...channelFields,
    url: nullable(channelFields.url),
    tuning: nullable(tuningSchema),
    serviceId: nullable(channelFields.serviceId),
    codec: nullable(channelFields.codec),
    groupV4: nullable(channelFields.groupV4),
  },
} as const;

const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    q: { type: 'string', maxLength: 200 },
    kind: { enum: ['radio', 'dvb'] },
    enabled: { type: 'boolean' },
    directory: { type: 'integer', minimum: 0 },
    tag: { type: 'string', maxLength: 60 },
    limit: { type: 'integer', minimum: 1, maximum: 10000, default: 1000 },
    offset: { type: 'integer', minimum: 0, default: 0 },
  },
} as const;

const importSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['kind', 'source'],
  properties: {
    kind: { type: 'string', minLength: 1, maxLength: 20 },
    source: { type: 'string', minLength: 1, maxLength: 2000 },
    name: { type: 'string', minLength: 1, maxLength: 100 },
    query: {
      type: 'object',
      additionalProperties: false,
      properties: {
        tag: { type: 'string', maxLength: 60 },
        country: { type: 'string', pattern: '^[A-Za-z]{2}$' },
        codec: { type: 'string', maxLength: 20 },
        limit: { type: 'integer', minimum: 1, maximum: 100000 },
      },
    },
  },
} as const;

const refParams = { type: 'object', required: ['ref'], properties: { ref: { type: 'string', minLength: 1, maxLength: 60 } } } as const;

/** Errors with a status and the field they are about. */
class ApiError extends Error {
  constructor(readonly statusCode: number, readonly code: string, message: string, readonly field?: string) {
    super(message);
  }
}

interface ValidationItem { instancePath: string; keyword: string; message?: string; params: Record<string, unknown> }

/** `/tuning/fec` + ajv params → `tuning.fec` (the missing or unknown property included). */
function fieldOf(v: ValidationItem, context: string): string {
  const path = v.instancePath.replace(/^\//, '').replace(/\//g, '.');
  const extra = (v.params.missingProperty ?? v.params.additionalProperty) as string | undefined;
  const field = [path, extra].filter(Boolean).join('.');
  return field || context;
}

function sendError(reply: FastifyReply, status: number, code: string, message: string, field?: string) {
  return reply.code(status).type('application/json').send({ error: code, ...(field ? { field } : {}), message });
}

export function buildApi(opts: ApiOptions): FastifyInstance {
  const { store, config, live } = opts;
  const app = Fastify({
    loggerInstance: opts.logger.child({ room: 'api' }) as FastifyBaseLogger,
    disableRequestLogging: true,
    bodyLimit: 1024 * 1024,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
  });

  app.setErrorHandler((err: Error & { validation?: ValidationItem[]; validationContext?: string; statusCode?: number }, req, reply) => {
    if (err.validation?.length) {
      const v = err.validation[0];
      const field = fieldOf(v, err.validationContext ?? 'body');
      const detail = v.keyword === 'additionalProperties' ? 'unknown field'
        : v.keyword === 'required' ? 'required'
        : v.keyword === 'enum' ? `must be one of ${(v.params.allowedValues as unknown[]).join(', ')}`
        : v.message ?? 'invalid';
      return sendError(reply, 400, 'invalid', `${field}: ${detail}`, field);
    }
    if (err instanceof ApiError) return sendError(reply, err.statusCode, err.code, err.message, err.field);
    if (err instanceof StoreError) {
      const status = err.code === 'not-found' ? 404 : err.code === 'conflict' ? 409 : 400;
      return sendError(reply, status, err.code, err.message, err.field);
    }
    if (err instanceof PlanError) return sendError(reply, 400, err.code, err.message);
    if (err instanceof DirectoryFormatError) return sendError(reply, 422, 'bad-directory', err.message);
    if (err instanceof SourceError) return sendError(reply, 502, 'source', err.message);
    if (err.statusCode && err.statusCode < 500) return sendError(reply, err.statusCode, 'request', err.message);
    req.log.error({ err }, 'api request failed');
    return sendError(reply, 500, 'internal', 'internal error (see the headend log)');
  });
  app.setNotFoundHandler((req, reply) => sendError(reply, 404, 'not-found', `no route ${req.method} ${req.url.split('?')[0]}`));

  const token = config.api.token ? Buffer.from(config.api.token) : undefined;
  const requireToken = async (req: FastifyRequest) => {
    if (!token) throw new ApiError(403, 'writes-disabled', 'writes are disabled: set api.token in the config and send Authorization: Bearer <token>');
    const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    const given = m ? Buffer.from(m[1]) : undefined;
    if (!given || given.length !== token.length || !timingSafeEqual(given, token)) {
      throw new ApiError(401, 'unauthorized', 'writes need Authorization: Bearer <api.token>');
    }
  };

  const channelOr404 = (ref: string): Channel => {
    const c = store.channels.resolve(ref);
    if (!c) throw new ApiError(404, 'not-found', `no channel ${ref}`, 'ref');
    return c;
  };
  const view = (c: Channel) => ({ ...c, meaning: store.plan.describe(c.serviceNumber) });

  app.get('/status', async () => ({
    channels: store.channels.count(),
    enabled: store.channels.count({ enabled: true }),
    directories: store.directories.list().length,
    plan: { prefix: store.plan.prefix, ipv4: store.plan.ipv4Range?.text ?? null },
    ...(live ? live.status() : {}),
  }));

  app.get<{ Querystring: { q?: string; kind?: 'radio' | 'dvb'; enabled?: boolean; directory?: number; tag?: string; limit: number; offset: number } }>(
    '/channels', { schema: { querystring: listQuery } }, async (req) => {
      const q = req.query;
      const filter: ChannelFilter = { text: q.q, kind: q.kind, enabled: q.enabled, directoryId: q.directory, tag: q.tag };
      return { total: store.channels.count(filter), channels: store.channels.list({ ...filter, limit: q.limit, offset: q.offset }) };
    });

  app.get<{ Querystring: { ipv4?: boolean; source?: string; all?: boolean; style?: 'vlc' | 'ffmpeg' } }>('/channels.m3u', {
    schema: { querystring: { type: 'object', additionalProperties: false, properties: {
      ipv4: { type: 'boolean' }, all: { type: 'boolean' }, source: { type: 'string', maxLength: 45 }, style: { enum: ['vlc', 'ffmpeg'] },
    } } },
  }, async (req, reply) => {
    const sources = req.query.source ? { source6: req.query.source, source4: req.query.source } : headendSources(config);
    const channels = store.channels.list(req.query.all ? {} : { enabled: true });
    return reply.type('audio/x-mpegurl; charset=utf-8').header('content-disposition', 'inline; filename="channels.m3u"')
      .send(buildM3u(channels, { port: config.rtp.port, ipv4: req.query.ipv4, style: req.query.style, ...sources }));
  });

  app.get<{ Params: { ref: string } }>('/channels/:ref', { schema: { params: refParams } }, async (req, reply) => {
    const { ref } = req.params;
    if (ref.endsWith('.sdp')) {
      const group = ref.slice(0, -4);
      const c = channelOr404(group);
      const ipv4 = c.groupV4 !== undefined && store.channels.byGroup(group)?.groupV4 === c.groupV4 && !group.includes(':');
      const sdp = live?.sdp(ipv4 ? c.groupV4! : c.group) ?? channelSdp(c, config, { ipv4 });
      return reply.type('application/sdp').send(sdp);
    }
    return view(channelOr404(ref));
  });

  app.post<{ Body: NewChannel }>('/channels', { onRequest: requireToken, schema: { body: addSchema } }, async (req, reply) =>
    reply.code(201).send(view(store.channels.add(req.body))));

  app.patch<{ Params: { ref: string }; Body: ChannelPatch }>('/channels/:ref', { onRequest: requireToken, schema: { params: refParams, body: patchSchema } },
    async (req) => view(store.channels.update(channelOr404(req.params.ref).id, req.body)));

  for (const action of ['enable', 'disable'] as const) {
    app.post<{ Params: { ref: string } }>(`/channels/:ref/${action}`, { onRequest: requireToken, schema: { params: refParams } },
      async (req) => view(store.channels.setEnabled(channelOr404(req.params.ref).id, action === 'enable')));
  }

  app.delete<{ Params: { ref: string } }>('/channels/:ref', { onRequest: requireToken, schema: { params: refParams } }, async (req, reply) => {
    store.channels.remove(channelOr404(req.params.ref).id);
    return reply.code(204).send();
  });

  app.get('/directories', async () => ({ directories: store.directories.list() }));
  app.get<{ Params: { ref: string } }>('/directories/:ref', { schema: { params: refParams } }, async (req) => {
    const d = store.directories.get(req.params.ref);
    if (!d) throw new ApiError(404, 'not-found', `no directory ${req.params.ref}`, 'ref');
    return { ...d, syncs: store.directories.syncs(10, d.id) };
  });
  app.post<{ Body: { kind: string; source: string; name?: string; query?: RadioBrowserQuery } }>('/directories/import', {
    onRequest: requireToken, schema: { body: importSchema },
  }, async (req) => {
    const kind = importKind(req.body.kind);
    if (!kind) throw new ApiError(400, 'invalid', `kind: must be one of ${IMPORT_KINDS.join(', ')}`, 'kind');
    // On a worker thread: a 50,000-station sync must not stall joins and zaps.
    return importInWorker(store, { kind, source: req.body.source, name: req.body.name, query: req.body.query }, config.directories);
  });
  app.post<{ Params: { ref: string } }>('/directories/:ref/sync', { onRequest: requireToken, schema: { params: refParams } }, async (req) => {
    const d = store.directories.get(req.params.ref);
    if (!d) throw new ApiError(404, 'not-found', `no directory ${req.params.ref}`, 'ref');
    const kind = importKind(d.kind);
    if (!kind || !d.source) throw new ApiError(400, 'invalid', `directory "${d.name}" (${d.kind}) has no source to sync from`, 'ref');
    return importInWorker(store, { kind, source: d.source, name: d.name }, config.directories);
  });
  app.delete<{ Params: { ref: string } }>('/directories/:ref', { onRequest: requireToken, schema: { params: refParams } }, async (req, reply) => {
    const d = store.directories.get(req.params.ref);
    if (!d) throw new ApiError(404, 'not-found', `no directory ${req.params.ref}`, 'ref');
    store.directories.remove(d.id);
    return reply.code(204).send();
  });

  app.get<{ Params: { ref: string } }>('/plan/:ref', { schema: { params: refParams } }, async (req) => describeRef(store, req.params.ref));

  app.get<{ Querystring: { group?: string; limit: number } }>('/history', {
    schema: { querystring: { type: 'object', additionalProperties: false, properties: { group: { type: 'string', maxLength: 45 }, limit: { type: 'integer', minimum: 1, maximum: 10000, default: 100 } } } },
  }, async (req) => ({ history: store.history.recent(req.query.limit, req.query.group) }));

  registerDashboard(app, { status: () => live?.status() ?? {} });
  registerMetrics(app, { status: () => live?.status() ?? {}, history: store.history, maxGroups: config.sessions.maxSessions });

  return app;
}

/** Listens on `HOST:PORT` / `[IPV6]:PORT` (config api.listen; loopback by default). */
export async function listenApi(app: FastifyInstance, listen: string): Promise<string> {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(listen);
  if (!m) throw new Error(`api.listen: must be HOST:PORT, got ${listen}`);
  return app.listen({ host: m[1], port: Number(m[2]) });
}
