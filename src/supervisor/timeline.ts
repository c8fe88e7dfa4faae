// The recent events a person wants to see on the status page: state changes, failures and
// restarts (not every probe), newest last, bounded.

import type { SupervisorEvent } from "../domain/events.js";

export interface TimelineEntry {
  readonly at: string;
  readonly container: string;
  readonly kind: "transition" | "failure" | "restart" | "start-failed";
  readonly message: string;
}

const describe = (e: Exclude<SupervisorEvent, { kind: "probe" }>): string => {
  switch (e.kind) {
    case "transition":
      return `${e.from} -> ${e.to}${e.reason && (e.to === "backing-off" || e.to === "failed" || e.to === "unhealthy") ? ` (${e.reason})` : ""}`;
    case "failure":
      return `failed: ${e.reason}; retry in ${(e.retryInMs / 1000).toFixed(1)} s`;
    case "restart":
      return `restarting after: ${e.reason}`;
    case "start-failed":
      return `start failed: ${e.message}`;
  }
};

export class Timeline {
  readonly #entries: TimelineEntry[] = [];
  constructor(readonly capacity = 100) {}

  record = (e: SupervisorEvent): void => {
    if (e.kind === "probe") return;
    this.#entries.push({ at: new Date(e.at).toISOString(), container: e.container, kind: e.kind, message: describe(e) });
    if (this.#entries.length > this.capacity) this.#entries.splice(0, this.#entries.length - this.capacity);
  };

  entries(): readonly TimelineEntry[] {
    return [...this.#entries];
  }
}
