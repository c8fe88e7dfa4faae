// Follows the libpod event stream for one pod's containers (by label), for tests that
// need Podman's own account of when containers stopped.

import { request } from "node:http";

export interface DiedEvent {
  readonly name: string;
  readonly timeNano: number;
  readonly exitCode: string | undefined;
}

interface RawEvent {
  Type?: string;
  Action?: string;
  status?: string;
  timeNano?: number;
  Actor?: { Attributes?: Record<string, string> };
}

export const podEvents = (socketPath: string, pod: string) => {
  const events: RawEvent[] = [];
  const filters = JSON.stringify({ type: ["container"], label: [`io.podwarden.pod=${pod}`] });
  let buffer = "";
  let resolveReady!: () => void;
  const ready = new Promise<void>((r) => (resolveReady = r));
  const req = request({ socketPath, path: `/v4.0.0/libpod/events?stream=true&filters=${encodeURIComponent(filters)}`, method: "GET" }, (res) => {
    resolveReady();
    res.setEncoding("utf8");
    res.on("data", (chunk: string) => {
      buffer += chunk;
      const lines = buffer.split("\n");
      buffer = lines.pop() ?? "";
      for (const l of lines) if (l.trim()) events.push(JSON.parse(l) as RawEvent);
    });
  });
  req.on("error", () => resolveReady());
  req.end();
  // Podman may hold the response headers until the first event: give it a moment instead.
  setTimeout(resolveReady, 500);
  return {
    ready,
    close: () => req.destroy(),
    died: (): DiedEvent[] =>
      events
        .filter((e) => (e.Action ?? e.status) === "died")
        .map((e) => ({ name: e.Actor?.Attributes?.name ?? "", timeNano: e.timeNano ?? 0, exitCode: e.Actor?.Attributes?.containerExitCode }))
        .filter((e) => !e.name.endsWith("-infra")),
  };
};
