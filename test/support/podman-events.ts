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

export interface ContainerEvent {
  /** Podman's action: died, start, stop, remove, create... */
  readonly action: string;
  /** The Podman name of the container. */
  readonly name: string;
  /** Podman's own time stamp of the event (ns since the epoch). */
  readonly timeNano: number;
  readonly exitCode: string | undefined;
}

interface RawEvent {
  Action?: string;
  status?: string;
  timeNano?: number;
  Actor?: { Attributes?: Record<string, string> };
}

/**
 * Follows the libpod event stream for one pod's containers (by label), infra excluded.
 * A "died" event is sent by the cleanup process Podman runs after an exit, so its time
 * is when Podman itself reports the death: the earliest an event-driven daemon can know.
 */
export const podEvents = (socketPath: string, pod: string) => containerEvents(socketPath, { label: [`io.podwarden.pod=${pod}`] });

/**
 * Follows the libpod event stream for the containers `filters` select (libpod's event
 * filters, e.g. `{ container: [name] }`: a name matches a container created later too, and
 * keeps matching after the container is removed), infra containers excluded.
 */
export const containerEvents = (socketPath: string, filters: Readonly<Record<string, readonly string[]>>) => {
  const events: ContainerEvent[] = [];
  const query = JSON.stringify({ ...filters, type: ["container"] });
  let buffer = "";
  let resolveReady!: () => void;
  const ready = new Promise<void>((r) => (resolveReady = r));
  const req = request({ socketPath, path: `/v4.0.0/libpod/events?stream=true&filters=${encodeURIComponent(query)}`, method: "GET" }, (res) => {
    resolveReady();
    res.setEncoding("utf8");
    res.on("data", (chunk: string) => {
      buffer += chunk;
      const lines = buffer.split("\n");
      buffer = lines.pop() ?? "";
      for (const l of lines) {
        if (!l.trim()) continue;
        const e = JSON.parse(l) as RawEvent;
        const name = e.Actor?.Attributes?.name ?? "";
        if (name.endsWith("-infra")) continue;
        events.push({ action: e.Action ?? e.status ?? "", name, timeNano: e.timeNano ?? 0, exitCode: e.Actor?.Attributes?.containerExitCode });
      }
    });
  });
  req.on("error", () => resolveReady());
  req.end();
  // Podman may hold the response headers until the first event: give it a moment instead.
  setTimeout(resolveReady, 500);
  return {
    ready,
    close: () => req.destroy(),
    /** Every event so far, optionally of one action only. */
    events: (action?: string): ContainerEvent[] => events.filter((e) => action === undefined || e.action === action),
  };
};
