// The control socket: a unix socket (mode 0600, so only root reaches it) on which the
// podwarden CLI asks the running daemon to back up, restore, update or reload. Long
// requests (a restore waits for the pod) simply take long; the reply is the job's result.

import Fastify, { type FastifyInstance, type FastifyReply } from "fastify";
import { Type } from "@sinclair/typebox";
import { PodwardenError } from "../lib/errors.js";

export interface ControlDeps {
  backupNow(): Promise<unknown>;
  listBackups(): Promise<unknown>;
  restore(archive: string): Promise<unknown>;
  checkUpdates(container?: string): Promise<unknown>;
  update(container?: string): Promise<unknown>;
  /** Re-read the config; `config`: the file the caller checked (refused when the daemon runs with another). */
  reload(config?: string): Promise<unknown>;
}

/** HTTP status for an error code: the CLI turns the code back into its exit code. */
const STATUS: Readonly<Record<string, number>> = { E_USAGE: 400, E_CONFIG: 400, E_BUSY: 409, E_NOT_READY: 409, E_ABORTED: 503 };

export const ControlErrorSchema = Type.Object({ error: Type.String(), code: Type.String() });

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

export const buildControlServer = (deps: ControlDeps): FastifyInstance => {
  const app = Fastify({ logger: false });
  const errors = { 400: ControlErrorSchema, 409: ControlErrorSchema, 500: ControlErrorSchema, 503: ControlErrorSchema };
  app.get("/backups", { schema: { response: errors } }, (_req, reply) => answer(reply, () => deps.listBackups()));
  app.post("/backups", { schema: { response: errors } }, (_req, reply) => answer(reply, () => deps.backupNow()));
  app.post<{ Body: { archive: string } }>("/restore", { schema: { body: RestoreBody, response: errors } }, (req, reply) =>
    answer(reply, () => deps.restore(req.body.archive)),
  );
  app.get<{ Querystring: { container?: string } }>("/updates", { schema: { querystring: ContainerQuery, response: errors } }, (req, reply) =>
    answer(reply, () => deps.checkUpdates(req.query.container)),
  );
  app.post<{ Querystring: { container?: string } }>("/updates", { schema: { querystring: ContainerQuery, response: errors } }, (req, reply) =>
    answer(reply, () => deps.update(req.query.container)),
  );
  app.post<{ Body: { config?: string } }>("/reload", { schema: { body: ReloadBody, response: errors } }, (req, reply) =>
    answer(reply, () => deps.reload(req.body?.config)),
  );
  return app;
};
