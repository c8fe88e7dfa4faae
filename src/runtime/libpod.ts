// Typed calls to Podman's libpod endpoints (pods, secrets, healthcheck, import) over the
// same socket connection dockerode uses. No prototype patching: a plain dial.

import type Docker from "dockerode";
import type { Readable } from "node:stream";
import { PodmanApiError, PodmanUnavailableError } from "../lib/errors.js";

export const LIBPOD = "/v4.0.0/libpod";

type Modem = Docker["modem"];

export interface DialRequest {
  readonly method: "GET" | "POST" | "DELETE";
  readonly path: string;
  readonly query?: Record<string, unknown>;
  readonly body?: unknown;
  /** Raw request body (a tar stream, secret bytes). */
  readonly raw?: Readable | Buffer;
  readonly contentType?: string;
  /** Status codes that count as success; others throw PodmanApiError (with .status). */
  readonly ok: readonly number[];
  readonly stream?: boolean;
  readonly signal?: AbortSignal;
}

const UNREACHABLE = new Set(["ENOENT", "ECONNREFUSED", "ECONNRESET", "EPIPE", "EACCES"]);

interface ModemError extends Error {
  statusCode?: number;
  json?: unknown;
  code?: string;
  reason?: string;
}

const describe = (json: unknown, fallback: string): string => {
  if (json && typeof json === "object") {
    const j = json as { message?: unknown; cause?: unknown };
    if (typeof j.message === "string") return j.message;
  }
  return fallback;
};

/** Wraps a transport or API error once, with the operation's name. */
export const wrapError = (operation: string, err: unknown): Error => {
  if (err instanceof PodmanApiError || err instanceof PodmanUnavailableError) return err;
  const e = err as ModemError;
  if (e?.code && UNREACHABLE.has(e.code)) return new PodmanUnavailableError(`${operation}: Podman API socket unreachable (${e.code})`, err);
  if (typeof e?.statusCode === "number") return new PodmanApiError(operation, describe(e.json, e.reason ?? e.message), e.statusCode, err);
  return new PodmanApiError(operation, e?.message ?? String(err), undefined, err);
};

export class Libpod {
  readonly #modem: Modem;
  constructor(modem: Modem) {
    this.#modem = modem;
  }

  dial<T>(operation: string, req: DialRequest): Promise<T> {
    const statusCodes: Record<number, boolean | string> = {};
    for (const code of req.ok) statusCodes[code] = true;
    const options: Record<string, unknown> = {};
    if (req.query) options._query = req.query;
    // docker-modem sends `_body` as JSON for POST; an empty object means no body at all.
    if (req.method === "POST" && !req.raw) options._body = req.body ?? {};
    const headers = req.contentType ? { "Content-Type": req.contentType } : undefined;
    return new Promise((resolve, reject) => {
      this.#modem.dial(
        {
          path: `${req.path}?`,
          method: req.method,
          options,
          statusCodes,
          isStream: req.stream === true,
          ...(req.raw ? { file: req.raw } : {}),
          ...(headers ? { headers } : {}),
          ...(req.signal ? { abortSignal: req.signal } : {}),
        } as never,
        (err: unknown, body: unknown) => {
          if (err) return reject(wrapError(operation, err));
          resolve(body as T);
        },
      );
    });
  }
}
