// POST /reload: re-read the config, for a caller with the bearer token. Registered only when a
// token is configured: without one, the route does not exist.

import { timingSafeEqual } from "node:crypto";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { ErrorSchema, ReloadResultSchema } from "../schemas.js";

export interface ReloadDeps {
  readonly token: string;
  reload(): Promise<{ changed: readonly string[]; podChanged: boolean }>;
}

const sameToken = (given: string | undefined, token: string): boolean => {
  const a = Buffer.from(given ?? "");
  const b = Buffer.from(`Bearer ${token}`);
  return a.length === b.length && timingSafeEqual(a, b);
};

export const reloadRoutes: FastifyPluginAsyncTypebox<{ readonly control: ReloadDeps }> = async (app, { control }) => {
  app.post("/reload", { schema: { response: { 200: ReloadResultSchema, 401: ErrorSchema, 422: ErrorSchema } } }, async (req, reply) => {
    if (!sameToken(req.headers.authorization, control.token)) return reply.code(401).send({ error: "a valid bearer token is required" });
    try {
      const { changed, podChanged } = await control.reload();
      return reply.send({ changed: [...changed], podChanged });
    } catch (err) {
      return reply.code(422).send({ error: (err as Error).message });
    }
  });
};
