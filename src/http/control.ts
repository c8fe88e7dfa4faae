// The control socket: a unix socket (mode 0600, so only root reaches it) on which the
// podwarden CLI asks the running daemon to back up, restore, update or reload. Long
// requests (a restore waits for the pod) simply take long; the reply is the job's result.

import Fastify, { type FastifyInstance, type FastifyReply } from "fastify";
import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { PodwardenError } from "../lib/errors.js";
import type { Logger } from "../observability/logger.js";
import { schemaController } from "./compilers.js";
import { fastifyLogging } from "./logging.js";

export interface ControlDeps {
  backupNow(): Promise<unknown>;
  listBackups(): Promise<unknown>;
  restore(archive: string): Promise<unknown>;
  checkUpdates(container?: string): Promise<unknown>;
  update(container?: string): Promise<unknown>;
  /** Re-read the config; `config`: the file the caller checked (refused when the daemon runs with another). */
  reload(config?: string): Promise<unknown>;
  /** The daemon's logger (a child for component control); none: silent. */
  readonly logger?: Logger;
}

/** HTTP status for an error code: the CLI turns the code back into its exit code. */
const STATUS: Readonly<Record<string, number>> = { E_USAGE: 400, E_CONFIG: 400, E_BUSY: 409, E_NOT_READY: 409, E_ABORTED: 503 };

export const ControlErrorSchema = Type.Object({ error: Type.String(), code: Type.String() });

/** Sends the work's result, or its error with the error's code and the matching status. */
const answer = async (reply: FastifyReply, work: () => Promise<unknown>): Promise<FastifyReply> => {
  try {
    return reply.send(await work());
  } catch (err) {
    const code = err instanceof PodwardenError ? err.code : "E_INTERNAL";
    return reply.code(STATUS[code] ?? 500).send({ error: (err as Error).message, code });
  }
};

const ContainerQuery = Type.Object({ container: Type.Optional(Type.String({ minLength: 1 })) }, { additionalProperties: false });
const ReloadBody = Type.Object({ config: Type.Optional(Type.String({ minLength: 1 })) }, { additionalProperties: false });
const RestoreBody = Type.Object({ archive: Type.String({ minLength: 1 }) }, { additionalProperties: false });

/** A job's result as it is (its own shape, serialized as JSON), or an error with its code. */
const answers = { 200: Type.Unknown(), 400: ControlErrorSchema, 409: ControlErrorSchema, 500: ControlErrorSchema, 503: ControlErrorSchema };

const controlRoutes: FastifyPluginAsyncTypebox<{ readonly deps: ControlDeps }> = async (app, { deps }) => {
  // A request the schemas refuse is a usage error: the CLI exits with its usage code and prints the message.
  app.setErrorHandler((err: Error & { validation?: unknown; statusCode?: number }, _req, reply) => {
    if (err.validation) return reply.code(400).send({ error: err.message, code: "E_USAGE" });
    return reply.code(err.statusCode ?? 500).send({ error: err.message, code: "E_INTERNAL" });
  });
  app.get("/backups", { schema: { response: answers } }, (_req, reply) => answer(reply, () => deps.listBackups()));
  app.post("/backups", { schema: { response: answers } }, (_req, reply) => answer(reply, () => deps.backupNow()));
  app.post("/restore", { schema: { body: RestoreBody, response: answers } }, (req, reply) => answer(reply, () => deps.restore(req.body.archive)));
  app.get("/updates", { schema: { querystring: ContainerQuery, response: answers } }, (req, reply) => answer(reply, () => deps.checkUpdates(req.query.container)));
  app.post("/updates", { schema: { querystring: ContainerQuery, response: answers } }, (req, reply) => answer(reply, () => deps.update(req.query.container)));
  app.post("/reload", { schema: { body: ReloadBody, response: answers } }, (req, reply) => answer(reply, () => deps.reload(req.body?.config)));
};

export const buildControlServer = (deps: ControlDeps): FastifyInstance => {
  const app = Fastify({ ...fastifyLogging(deps.logger, "control"), schemaController }).withTypeProvider<TypeBoxTypeProvider>();
  void app.register(controlRoutes, { deps });
  return app;
};
