// Watching a shutdown from outside, through the Podman API.

import { request } from "node:http";

/** Whether the container still runs: true, false (exited), or "gone" (404). */
const runState = (socketPath: string, name: string): Promise<boolean | "gone" | undefined> =>
  new Promise((resolve) => {
    const req = request({ socketPath, path: `/v4.0.0/libpod/containers/${name}/json`, method: "GET" }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => {
        if (res.statusCode === 404) return resolve("gone");
        try {
          resolve((JSON.parse(body) as { State?: { Running?: boolean } }).State?.Running === true);
        } catch {
          resolve(undefined);
        }
      });
    });
    req.on("error", () => resolve(undefined));
    req.end();
  });

/**
 * Polls Podman through the API every ~10 ms during a shutdown and records, for each
 * container, when it was first seen stopped (or gone with the pod). Podman's own
 * FinishedAt cannot show the order: the cleanup process rewrites it tens of ms later.
 */
export const stopWatcher = (socketPath: string, names: readonly string[]) => {
  const stoppedAt = new Map<string, number>();
  let running = true;
  const loop = (async () => {
    while (running) {
      await Promise.all(
        names.filter((n) => !stoppedAt.has(n)).map(async (n) => {
          const r = await runState(socketPath, n);
          if (r === false || r === "gone") stoppedAt.set(n, performance.now());
        }),
      );
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    stoppedAt,
    stop: async () => {
      running = false;
      await loop;
    },
  };
};
