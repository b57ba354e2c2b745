/**
 * `GET /metrics`: the Prometheus text format (exposition format 0.0.4), read
 * from the live status on each scrape (src/metrics.ts says what is counted).
 *
 *   registerMetrics(app, { status: () => live.status(), history: store.history });
 */
import type { FastifyInstance } from 'fastify';
import { createMetrics, type HeadendMetrics, type MetricsOptions, type MetricsSources } from '../metrics.js';

export interface MetricsRouteDeps extends MetricsSources, MetricsOptions {
  /** An existing metrics object (else one is made from the sources). */
  metrics?: HeadendMetrics;
}

export function registerMetrics(app: FastifyInstance, deps: MetricsRouteDeps): HeadendMetrics {
  const metrics = deps.metrics ?? createMetrics(deps, deps);
  app.get('/metrics', async (req, reply) => {
    const text = await metrics.scrape();
    return reply.type(metrics.contentType).header('cache-control', 'no-store').send(text);
  });
  app.addHook('onClose', async () => {
    metrics.registry.clear();
  });
  return metrics;
}
