// HTTP probe: GET path, 2xx passes; optional basic auth.

import { request } from "node:http";
import type { Target } from "./tcp.js";

export interface BasicAuth {
  readonly username: string;
  readonly password: string;
}

export const probeHttp = (target: Target, path: string, timeoutMs: number, auth?: BasicAuth): Promise<string> =>
  new Promise<string>((resolve, reject) => {
    const headers: Record<string, string> = { connection: "close" };
    if (auth) headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`;
    // No keep-alive agent: a server that closes after answering would leave a dead socket for the next probe.
    const req = request({ host: target.host, port: target.port, path, method: "GET", headers, timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) resolve(`HTTP ${status}`);
      else reject(new Error(`HTTP ${status}${status === 401 ? " (credentials missing or wrong)" : ""}`));
    });
    req.on("timeout", () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
