// The daemon's process: SIGTERM and SIGINT from its first moment, and Node's own warnings and
// crashes told through the logger.

import { EXIT } from "../lib/errors.js";
import type { Logger } from "../observability/logger.js";

/** Under `run` every line is the logger's: Node's warnings and a crash too (a crash still exits 1). */
export const logProcessTrouble = (log: Logger): void => {
  process.removeAllListeners("warning");
  process.on("warning", (w) => log.warn({ warning: w.name }, w.message));
  const crash =
    (what: string) =>
    (err: unknown): void => {
      log.fatal({ err }, what);
      process.exit(EXIT.failure);
    };
  process.on("uncaughtException", crash("uncaught exception: exiting"));
  process.on("unhandledRejection", crash("unhandled promise rejection: exiting"));
};

/**
 * SIGTERM and SIGINT, caught from the daemon's first moment: the first one ends the start-up
 * wherever it is (what is listed in `onSignal` runs at once, in the handler) and starts the
 * shutdown; a later one goes to `onSecond` (by default: exit 1 at once).
 */
export class StopSignals {
  requested: NodeJS.Signals | undefined;
  readonly first: Promise<NodeJS.Signals>;
  readonly #now: (() => void)[] = [];
  #again: () => void = () => process.exit(EXIT.failure);

  constructor() {
    let resolve!: (s: NodeJS.Signals) => void;
    this.first = new Promise((r) => (resolve = r));
    const on = (signal: NodeJS.Signals) => (): void => {
      if (this.requested) return this.#again();
      this.requested = signal;
      for (const f of this.#now) f();
      resolve(signal);
    };
    process.on("SIGTERM", on("SIGTERM"));
    process.on("SIGINT", on("SIGINT"));
  }

  /** Runs `f` in the first signal's handler (now, if it already came). */
  onSignal(f: () => void): void {
    this.#now.push(f);
    if (this.requested) f();
  }

  onSecond(f: () => void): void {
    this.#again = f;
  }
}
