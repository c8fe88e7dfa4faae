// Follows Podman's event stream so that an exit is noticed the moment it happens, not at
// the next poll. Events carry no decisions: relevant ones only kick the loop. A broken
// stream is reopened with a growing delay; every loss and every (re)connect kicks once, to
// catch up on whatever happened while it was down (and to relist more often meanwhile).

import type { Clock } from "../lib/clock.js";
import type { Logger } from "../observability/logger.js";
import { isRelevant } from "../runtime/map-event.js";
import type { ContainerRuntime, RuntimeEvent } from "../runtime/port.js";

export interface WatcherDeps {
  readonly runtime: Pick<ContainerRuntime, "watch">;
  readonly pod: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly kick: () => void;
  /** Every relevant event, after it is logged (metrics, status timeline). */
  readonly onEvent?: (e: RuntimeEvent) => void;
  readonly retry?: { readonly initialMs: number; readonly maxMs: number };
}

export class EventWatcher {
  readonly #deps: WatcherDeps;
  #connected = false;

  constructor(deps: WatcherDeps) {
    this.#deps = deps;
  }

  get connected(): boolean {
    return this.#connected;
  }

  #handle = (e: RuntimeEvent): void => {
    if (!isRelevant(e)) return;
    this.#deps.logger.debug({ container: e.name, action: e.action, type: e.type, exitCode: e.exitCode, eventAt: e.at }, "podman event");
    this.#deps.onEvent?.(e);
    this.#deps.kick();
  };

  async run(signal: AbortSignal): Promise<void> {
    const { runtime, pod, clock, logger } = this.#deps;
    const retry = this.#deps.retry ?? { initialMs: 500, maxMs: 30_000 };
    let failures = 0;
    let lost = false;
    while (!signal.aborted) {
      try {
        await runtime.watch(pod, this.#handle, signal, () => {
          if (lost) logger.info("event stream reconnected");
          failures = 0;
          lost = false;
          this.#connected = true;
          this.#deps.kick();
        });
        if (!signal.aborted) logger.warn("event stream ended; reopening");
      } catch (err) {
        if (signal.aborted) break;
        if (!lost) logger.warn({ err }, "event stream lost; polling until it is back");
        lost = true;
      }
      // Lost: the loop looks again now, and relists at its short period until the stream is back.
      if (this.#connected && !signal.aborted) this.#deps.kick();
      this.#connected = false;
      failures += 1;
      await clock.sleep(Math.min(retry.maxMs, retry.initialMs * 2 ** (failures - 1)), signal);
    }
    this.#connected = false;
  }
}
