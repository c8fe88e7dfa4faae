// GET /healthz (the daemon's reconcile loop makes progress) and GET /readyz (the pod serves).

import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { Snapshot } from "../../domain/snapshot.js";
import { ProbeResultSchema } from "../schemas.js";

export interface ProbeDeps {
  snapshot(): Snapshot;
  /** False when the reconcile loop has not finished a pass for too long. */
  alive(): boolean;
}

const answers = { schema: { response: { 200: ProbeResultSchema, 503: ProbeResultSchema } } };

export const probeRoutes: FastifyPluginAsyncTypebox<{ readonly deps: ProbeDeps }> = async (app, { deps }) => {
  app.get("/healthz", answers, async (_req, reply) => (deps.alive() ? reply.send({ status: "alive" }) : reply.code(503).send({ status: "reconcile loop stalled" })));

  app.get("/readyz", answers, async (_req, reply) => {
    // Serving counts: a soft dependency that is down (telemetry) does not make the pod unready.
    const s = deps.snapshot();
    if (!s.serving) return reply.code(503).send({ status: `${s.pod.containersReady}/${s.pod.containersTotal} ready` });
    return reply.send({ status: s.softDown.length === 0 ? "ready" : `ready without soft dependencies: ${s.softDown.join(", ")}` });
  });
};
