// The CLI side of the control socket: one request to the running daemon of the pod, its JSON
// answer, or an error carrying the daemon's error code (turned into the exit code).

import { request } from "node:http";
import { loadConfig } from "../config/load.js";
import { EXIT, PodwardenError, errorMessage, type ErrorCode } from "../lib/errors.js";
import type { CommandContext } from "./context.js";
import { controlSocketPath } from "../daemon/pidfile.js";

/** Busy or not ready: try again later (sysexits EX_TEMPFAIL). */
export const EXIT_TEMPFAIL = 75;

const EXIT_FOR: Readonly<Record<string, number>> = { E_USAGE: EXIT.usage, E_CONFIG: EXIT.badConfig, E_BUSY: EXIT_TEMPFAIL, E_NOT_READY: EXIT_TEMPFAIL };

/** One request on a control socket: the status and JSON answer, or the socket's error (ENOENT, ECONNREFUSED, EACCES...). */
export const callDaemon = (socketPath: string, method: "GET" | "POST", path: string, body?: unknown): Promise<{ status: number; json: unknown }> =>
  new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request({ socketPath, method, path, headers: payload ? { "content-type": "application/json" } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        try {
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString("utf8")) });
        } catch {
          // A daemon that died mid-answer leaves a cut-off body: the same as a lost connection.
          reject(Object.assign(new Error("the answer was cut off"), { code: "ECONNRESET" }));
        }
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(payload);
  });

/** Sends one request to the daemon of the configured pod and returns its answer. */
export const askDaemon = async <T>(ctx: CommandContext, method: "GET" | "POST", path: string, body?: unknown): Promise<T> => {
  const { spec } = await loadConfig(ctx.global.config);
  const socket = controlSocketPath(ctx.global.env, spec.name);
  let answer: { status: number; json: unknown };
  try {
    answer = await callDaemon(socket, method, path, body);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ECONNREFUSED") {
      throw new PodwardenError("E_PODMAN_UNAVAILABLE", `no running daemon for pod ${spec.name} (no control socket at ${socket}): start it (systemctl start opencode-memory-pod, or podwarden run)`, { exitCode: EXIT.podmanUnavailable });
    }
    if (code === "EACCES") throw new PodwardenError("E_USAGE", `${socket}: permission denied (the control socket is root's: use sudo)`, { exitCode: EXIT.failure });
    if (code === "ECONNRESET" || code === "EPIPE") {
      // The daemon went away mid-request (killed, crashed, restarted). Same exit code as no daemon:
      // nothing answers now. A restore cut short is rolled back or finished when it starts again.
      throw new PodwardenError(
        "E_NO_DAEMON",
        `the daemon of pod ${spec.name} went away before it answered ${method} ${path} (connection lost): see its log (journalctl -u opencode-memory-pod); a restore cut short is rolled back or finished when it starts again`,
        { exitCode: EXIT.podmanUnavailable, cause: err },
      );
    }
    throw new PodwardenError("E_NO_DAEMON", `cannot talk to the daemon of pod ${spec.name} at ${socket}: ${errorMessage(err)}`, { cause: err });
  }
  return answerOf<T>(answer);
};

/** The daemon's answer, or its error as a PodwardenError carrying the exit code of its error code. */
export const answerOf = <T>(answer: { status: number; json: unknown }): T => {
  if (answer.status >= 400) {
    const e = answer.json as { error?: string; code?: string };
    const code = (e.code ?? "E_INTERNAL") as ErrorCode;
    throw new PodwardenError(code, e.error ?? `the daemon answered ${answer.status}`, { exitCode: EXIT_FOR[code] ?? EXIT.failure });
  }
  return answer.json as T;
};
