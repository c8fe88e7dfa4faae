// A minimal libpod API client (JSON over the unix socket) for the benchmark's own programs:
// the floor, the naive status server and the harness's inspections. Node built-ins only,
// so that the programs bundled from it stay small.

import { request } from "node:http";

export const LIBPOD_PREFIX = "/v4.0.0/libpod";

export interface ApiReply<T> {
  readonly status: number;
  readonly body: T;
}

/** One libpod call; `path` is below /v4.0.0/libpod. Rejects only when the socket fails. */
export const libpod = <T = unknown>(socketPath: string, method: string, path: string, body?: unknown): Promise<ApiReply<T>> =>
  new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        socketPath,
        method,
        path: `${LIBPOD_PREFIX}${path}`,
        headers: payload === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("end", () => {
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            // not JSON: keep the text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed as T });
        });
      },
    );
    req.on("error", reject);
    req.end(payload);
  });

/** Like `libpod`, but anything outside 2xx is an error naming the call. */
export const libpodOk = async <T = unknown>(socketPath: string, method: string, path: string, body?: unknown): Promise<T> => {
  const r = await libpod<T>(socketPath, method, path, body);
  if (r.status < 200 || r.status > 299) throw new Error(`${method} ${path}: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  return r.body;
};

export interface InspectLite {
  readonly Id: string;
  readonly State: { readonly Running: boolean; readonly Pid: number; readonly StartedAt: string; readonly Status: string };
}

export const inspectContainer = (socketPath: string, name: string): Promise<InspectLite> =>
  libpodOk<InspectLite>(socketPath, "GET", `/containers/${encodeURIComponent(name)}/json`);

/** Podman's RFC 3339 time with nanoseconds -> epoch ms with the sub-ms part kept. */
export const podmanTimeMs = (t: string): number => {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(t);
  if (!m) return Date.parse(t);
  return Date.parse(`${m[1]}${m[3]}`) + Number(`0.${m[2] ?? "0"}`) * 1000;
};
