// GET /: the status page (one self-contained document that reads /status).

import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { STATUS_PAGE } from "../page.js";

export const pageRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get("/", async (_req, reply) => reply.type("text/html; charset=utf-8").send(STATUS_PAGE));
};
