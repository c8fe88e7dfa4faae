// GET /metrics: the Prometheus exposition (observability/metrics.ts), brought up to date from
// the snapshot.

import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { Snapshot } from "../../supervisor/snapshot.js";

export interface MetricsDeps {
  snapshot(): Snapshot;
  readonly metrics: { update(s: Snapshot): void; text(): Promise<string>; readonly contentType: string };
}

export const metricsRoutes: FastifyPluginAsyncTypebox<{ readonly deps: MetricsDeps }> = async (app, { deps }) => {
  app.get("/metrics", async (_req, reply) => {
    deps.metrics.update(deps.snapshot());
    return reply.type(deps.metrics.contentType).send(await deps.metrics.text());
  });
};
