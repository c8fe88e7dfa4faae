// The HTTP adapter: built apart from listen, answered from the last snapshot (no Podman
// call per request). Routes that change anything exist only when a token is configured.

import { timingSafeEqual } from "node:crypto";
import Fastify, { type FastifyInstance } from "fastify";
import type { JobsStatus } from "../domain/jobs.js";
import type { Snapshot } from "../domain/snapshot.js";
import type { TimelineEntry } from "../supervisor/timeline.js";
import { STATUS_PAGE } from "./page.js";
import { ErrorSchema, ProbeResultSchema, StatusSchema } from "./schemas.js";
import { statusDocument } from "./status-document.js";

export interface HttpDeps {
  readonly version: string;
  snapshot(): Snapshot;
  timeline(): readonly TimelineEntry[];
  warnings(): readonly string[];
  /** Backups and updates, when the daemon runs jobs. */
  jobs?(): JobsStatus;
  /** The exposition, kept current from the snapshot while the server is up (observability/metrics.ts). */
  readonly metrics: { follow(snapshot: () => Snapshot): Promise<void>; unfollow(): void; text(): string; readonly contentType: string };
  /** False when the reconcile loop has not finished a pass for too long. */
  alive(): boolean;
  /** Control: present only when a token file is configured. */
  readonly control?: { readonly token: string; reload(): Promise<{ changed: readonly string[]; podChanged: boolean }> };
}

const sameToken = (given: string | undefined, token: string): boolean => {
  const a = Buffer.from(given ?? "");
  const b = Buffer.from(`Bearer ${token}`);
  return a.length === b.length && timingSafeEqual(a, b);
};

export const buildServer = (deps: HttpDeps): FastifyInstance => {
  const app = Fastify({ logger: false });

  app.get("/status", { schema: { response: { 200: StatusSchema, 503: StatusSchema } } }, async (_req, reply) => {
    const doc = statusDocument(deps.snapshot(), { version: deps.version, warnings: deps.warnings(), events: deps.timeline(), ...(deps.jobs ? { jobs: deps.jobs() } : {}) });
    return reply.code(doc.status === "fail" ? 503 : 200).type("application/health+json").send(doc);
  });

  // A scrape sends the text as it stands and never waits for a render: the first is done
  // before the server is ready, the next ones in the background.
  app.addHook("onReady", () => deps.metrics.follow(deps.snapshot));
  app.addHook("onClose", async () => deps.metrics.unfollow());
  app.get("/metrics", async (_req, reply) => reply.type(deps.metrics.contentType).send(deps.metrics.text()));

  app.get("/healthz", { schema: { response: { 200: ProbeResultSchema, 503: ProbeResultSchema } } }, async (_req, reply) =>
    deps.alive() ? reply.send({ status: "alive" }) : reply.code(503).send({ status: "reconcile loop stalled" }),
  );

  app.get("/readyz", { schema: { response: { 200: ProbeResultSchema, 503: ProbeResultSchema } } }, async (_req, reply) => {
    // Serving counts: a soft dependency that is down (telemetry) does not make the pod unready.
    const s = deps.snapshot();
    if (!s.serving) return reply.code(503).send({ status: `${s.pod.containersReady}/${s.pod.containersTotal} ready` });
    return reply.send({ status: s.softDown.length === 0 ? "ready" : `ready without soft dependencies: ${s.softDown.join(", ")}` });
  });

  app.get("/", async (_req, reply) => reply.type("text/html; charset=utf-8").send(STATUS_PAGE));

  const control = deps.control;
  if (control) {
    app.post("/reload", { schema: { response: { 401: ErrorSchema, 422: ErrorSchema } } }, async (req, reply) => {
      if (!sameToken(req.headers.authorization, control.token)) return reply.code(401).send({ error: "a valid bearer token is required" });
      try {
        return reply.send(await control.reload());
      } catch (err) {
        return reply.code(422).send({ error: (err as Error).message });
      }
    });
  }
  return app;
};
