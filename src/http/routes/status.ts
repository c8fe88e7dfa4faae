// GET /status: the status document from the last snapshot; 503 when it says fail.

import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { JobsStatus } from "../../domain/jobs.js";
import type { Snapshot } from "../../domain/snapshot.js";
import type { TimelineEntry } from "../../supervisor/timeline.js";
import { StatusSchema } from "../schemas.js";
import { statusDocument } from "../status-document.js";

export interface StatusDeps {
  readonly version: string;
  snapshot(): Snapshot;
  timeline(): readonly TimelineEntry[];
  warnings(): readonly string[];
  /** Backups and updates, when the daemon runs jobs. */
  jobs?(): JobsStatus;
}

export const statusRoutes: FastifyPluginAsyncTypebox<{ readonly deps: StatusDeps }> = async (app, { deps }) => {
  app.get("/status", { schema: { response: { 200: StatusSchema, 503: StatusSchema } } }, async (_req, reply) => {
    const doc = statusDocument(deps.snapshot(), { version: deps.version, warnings: deps.warnings(), events: deps.timeline(), ...(deps.jobs ? { jobs: deps.jobs() } : {}) });
    return reply.code(doc.status === "fail" ? 503 : 200).type("application/health+json").send(doc);
  });
};
