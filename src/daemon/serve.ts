// Opening the daemon's two doors: the HTTP endpoints and the control socket. Neither failing
// stops the supervising: the pod matters more than its dashboard.

import { chmod, mkdir, rm } from "node:fs/promises";
import { createServer } from "node:http";
import { dirname } from "node:path";
import type { HttpSettings } from "../config/http.js";
import type { buildServer } from "../http/server.js";
import type { Logger } from "../observability/logger.js";

/** The parts of the HTTP apps the daemon uses (keeps fastify's types inside http/). */
export type FastifyLikeServer = ReturnType<typeof buildServer>;

export const listen = async (server: FastifyLikeServer | undefined, http: HttpSettings, log: Logger): Promise<void> => {
  if (!server) return;
  try {
    await server.listen({ host: http.host, port: http.port });
    log.info({ url: `http://${http.host}:${http.port}/` }, "serving /status, /metrics, /healthz, /readyz and the status page");
  } catch (err) {
    // Keep supervising, say why there is no HTTP.
    log.error({ host: http.host, port: http.port, err }, "cannot listen: HTTP endpoints are off (is the port taken? set http.port)");
  }
};

/** The open control socket. */
export interface ControlSocket {
  close(): Promise<void>;
}

/**
 * The control socket: root-only by its mode; a stale file from a crashed daemon is replaced.
 * Its app is built on the first request (`build`): most daemons are never asked, and a second
 * fastify instance held from the start was ~0.4 MiB of the daemon's resident memory.
 */
export const listenControl = async (build: () => FastifyLikeServer, log: Logger, path: string): Promise<ControlSocket> => {
  let app: Promise<FastifyLikeServer> | undefined;
  const ready = async (): Promise<FastifyLikeServer> => {
    const built = build();
    await built.ready();
    return built;
  };
  const server = createServer((req, res) => {
    app ??= ready();
    app.then(
      (a) => a.routing(req, res),
      (err: unknown) => {
        log.error({ err }, "control socket: its app could not be built");
        res.writeHead(500).end();
      },
    );
  });
  // As fastify's own server: no time limit on a request (a backup or an update takes minutes).
  server.requestTimeout = 0;
  const close = async (): Promise<void> => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await (await app?.catch(() => undefined))?.close();
  };
  try {
    await rm(path, { force: true });
    await mkdir(dirname(path), { recursive: true, mode: 0o755 });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, () => {
        server.off("error", reject);
        resolve();
      });
    });
    await chmod(path, 0o600);
    log.info({ socket: path }, "control socket ready (podwarden backup, restore, update, reload)");
  } catch (err) {
    log.error({ socket: path, err }, "cannot open the control socket: backup, restore and update from the CLI are off; reload falls back to SIGHUP");
  }
  return { close };
};
