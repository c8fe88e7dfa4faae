// The HTTP adapter: built apart from listen, answered from the last snapshot (no Podman
// call per request). One plugin per group of routes (routes/); the ones that change anything
// exist only when a token is configured.

import Fastify, { type FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { Logger } from "../observability/logger.js";
import { schemaController } from "./compilers.js";
import { fastifyLogging } from "./logging.js";
import { metricsRoutes, type MetricsDeps } from "./routes/metrics.js";
import { pageRoutes } from "./routes/page.js";
import { probeRoutes, type ProbeDeps } from "./routes/probes.js";
import { reloadRoutes, type ReloadDeps } from "./routes/reload.js";
import { statusRoutes, type StatusDeps } from "./routes/status.js";

export interface HttpDeps extends StatusDeps, MetricsDeps, ProbeDeps {
  /** Control: present only when a token file is configured. */
  readonly control?: ReloadDeps;
  /** The daemon's logger (a child for component http logs errors, and each request at debug); none: silent. */
  readonly logger?: Logger;
}

export const buildServer = (deps: HttpDeps): FastifyInstance => {
  const app = Fastify({ ...fastifyLogging(deps.logger, "http"), schemaController }).withTypeProvider<TypeBoxTypeProvider>();
  void app.register(statusRoutes, { deps });
  void app.register(metricsRoutes, { deps });
  void app.register(probeRoutes, { deps });
  void app.register(pageRoutes);
  if (deps.control) void app.register(reloadRoutes, { control: deps.control });
  return app;
};
