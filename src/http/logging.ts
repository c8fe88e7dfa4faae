// fastify on the daemon's pino logger: a child per server (its component). Errors are logged
// as errors (500s and failed replies, with their stacks); every other request line is at debug
// and only built when debug is on: a scrape every second, or a load test at 1,000 requests/s,
// writes nothing to the journal.

import { LogController, type FastifyBaseLogger, type FastifyReply, type FastifyRequest } from "fastify";
import type { Logger } from "../observability/logger.js";

class RequestsAtDebug extends LogController {
  readonly #log: Logger;
  constructor(log: Logger) {
    super();
    this.#log = log;
  }

  override incomingRequest(): void {
    // the completed request's line says it all
  }

  override requestCompleted(error: Error | null | undefined, req: FastifyRequest, reply: FastifyReply): void {
    if (error) reply.log.error({ method: req.method, url: req.url, statusCode: reply.statusCode, ms: reply.elapsedTime, err: error }, "request failed");
    else if (this.#log.isLevelEnabled("debug")) reply.log.debug({ method: req.method, url: req.url, statusCode: reply.statusCode, ms: reply.elapsedTime }, "request");
  }

  /** A 4xx (bad input, no such route) is the client's business: debug. A 5xx is ours: error. */
  override defaultErrorLog(error: Error, req: FastifyRequest, reply: FastifyReply): void {
    if (reply.statusCode >= 500) reply.log.error({ method: req.method, url: req.url, statusCode: reply.statusCode, err: error }, error.message);
    else if (this.#log.isLevelEnabled("debug")) reply.log.debug({ method: req.method, url: req.url, statusCode: reply.statusCode, err: error }, error.message);
  }

  override routeNotFound(req: FastifyRequest): void {
    if (this.#log.isLevelEnabled("debug")) req.log.debug({ method: req.method, url: req.url }, "no such route");
  }
}

/** fastify's options for a server that logs through `logger` (none: silent, as in tests). */
export const fastifyLogging = (logger: Logger | undefined, component: string): { logger: false } | { loggerInstance: FastifyBaseLogger; logController: LogController } => {
  if (!logger) return { logger: false };
  const log = logger.child({ component });
  return { loggerInstance: log, logController: new RequestsAtDebug(log) };
};
