// The one connection to the Podman API socket the runtime's clients share: dockerode for
// compat endpoints, Libpod for libpod ones, and every call counted and its error wrapped.

import Docker from "dockerode";
import { PodmanApiError } from "../lib/errors.js";
import { LIBPOD, Libpod, wrapError } from "./libpod.js";
import type { ApiOperation } from "./port.js";

/** Records each API call's operation, duration and outcome (metrics). */
export type ApiCallListener = (operation: ApiOperation, ms: number, ok: boolean) => void;

export class PodmanApi {
  readonly docker: Docker;
  readonly libpod: Libpod;
  readonly socketPath: string;
  readonly #onApiCall: ApiCallListener | undefined;

  constructor(socketPath: string, onApiCall?: ApiCallListener) {
    this.socketPath = socketPath;
    this.docker = new Docker({ socketPath });
    this.libpod = new Libpod(this.docker.modem);
    this.#onApiCall = onApiCall;
  }

  /** Runs one API call: counted under `operation`, its error wrapped once. */
  async call<T>(operation: ApiOperation, f: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      const result = await f();
      this.#onApiCall?.(operation, performance.now() - started, true);
      return result;
    } catch (err) {
      this.#onApiCall?.(operation, performance.now() - started, false);
      throw wrapError(operation, err);
    }
  }

  /** A counted GET of a libpod path (relative to /libpod) answering 200 with JSON. */
  get<T>(operation: ApiOperation, path: string, query?: Record<string, unknown>, signal?: AbortSignal): Promise<T> {
    return this.call(operation, () =>
      this.libpod.dial<T>(operation, { method: "GET", path: `${LIBPOD}${path}`, ok: [200], ...(query ? { query } : {}), ...(signal ? { signal } : {}) }),
    );
  }
}

/** The value of a call, or undefined when Podman answers 404 (no such object). */
export const unlessMissing = async <T>(p: Promise<T>): Promise<T | undefined> => {
  try {
    return await p;
  } catch (err) {
    if (err instanceof PodmanApiError && err.status === 404) return undefined;
    throw err;
  }
};

/** Treats the given HTTP statuses (already-started, not-found...) as success. */
export const ignoreStatus =
  (...codes: number[]) =>
  (err: unknown): undefined => {
    const status = (err as { statusCode?: number }).statusCode;
    if (status !== undefined && codes.includes(status)) return undefined;
    throw err;
  };
