// GET /metrics: the Prometheus exposition (observability/metrics.ts). A scrape sends the text
// as it stands and never waits for a render: the first is done before the server is ready,
// the next ones in the background while the server is up.

import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { Snapshot } from "../../domain/snapshot.js";

export interface MetricsDeps {
  snapshot(): Snapshot;
  /** The exposition, kept current from the snapshot while the server is up. */
  readonly metrics: { follow(snapshot: () => Snapshot): Promise<void>; unfollow(): void; text(): string; readonly contentType: string };
}

export const metricsRoutes: FastifyPluginAsyncTypebox<{ readonly deps: MetricsDeps }> = async (app, { deps }) => {
  app.addHook("onReady", () => deps.metrics.follow(deps.snapshot));
  app.addHook("onClose", async () => deps.metrics.unfollow());
  app.get("/metrics", async (_req, reply) => reply.type(deps.metrics.contentType).send(deps.metrics.text()));
};
