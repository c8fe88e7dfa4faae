// GET /metrics: the Prometheus exposition (observability/metrics.ts). A scrape sends the text
// kept current in the background and never waits for a render (the first is done before the
// server is ready), except the first scrape after a quiet spell, which waits for one refresh.

import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { Snapshot } from "../../domain/snapshot.js";

export interface MetricsDeps {
  snapshot(): Snapshot;
  /** The exposition, kept current from the snapshot while the server is up. */
  readonly metrics: { follow(snapshot: () => Snapshot): Promise<void>; unfollow(): void; scrape(): string | Promise<string>; readonly contentType: string };
}

export const metricsRoutes: FastifyPluginAsyncTypebox<{ readonly deps: MetricsDeps }> = async (app, { deps }) => {
  app.addHook("onReady", () => deps.metrics.follow(deps.snapshot));
  app.addHook("onClose", async () => deps.metrics.unfollow());
  app.get("/metrics", async (_req, reply) => reply.type(deps.metrics.contentType).send(await deps.metrics.scrape()));
};
