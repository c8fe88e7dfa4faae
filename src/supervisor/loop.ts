// The reconcile loop: one pass at a time; triggers (events, timers, kicks) only say
// "reconcile now" and coalesce; a failed pass is retried with a growing delay.

import type { Clock } from "../lib/clock.js";
import type { Logger } from "../observability/logger.js";
import type { PassResult } from "./reconciler.js";
import { WAKE } from "../lib/abort.js";

export interface LoopOptions {
  readonly pass: (signal: AbortSignal) => Promise<PassResult>;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Look again at least this often when nothing else is due (safety-net relist); asked after every pass. */
  readonly idleMs: number | (() => number);
  readonly errorBackoff: { readonly initialMs: number; readonly maxMs: number };
  readonly onPass?: (result: PassResult | Error, ms: number) => void;
}

export class ReconcileLoop {
  readonly #opts: LoopOptions;
  #wake: AbortController | undefined;
  #kicked = false;

  constructor(opts: LoopOptions) {
    this.#opts = opts;
  }

  /** Ask for a pass now; several kicks before the pass runs make one pass. */
  kick(): void {
    this.#kicked = true;
    this.#wake?.abort(WAKE);
  }

  async run(signal: AbortSignal): Promise<void> {
    const { clock, logger, errorBackoff } = this.#opts;
    const idle = this.#opts.idleMs;
    let errors = 0;
    while (!signal.aborted) {
      this.#kicked = false;
      let delay: number;
      const started = performance.now();
      try {
        const result = await this.#opts.pass(signal);
        errors = 0;
        this.#opts.onPass?.(result, performance.now() - started);
        const idleMs = typeof idle === "number" ? idle : idle();
        delay = Math.min(result.requeueAfterMs ?? idleMs, idleMs);
      } catch (err) {
        errors += 1;
        delay = Math.min(errorBackoff.maxMs, errorBackoff.initialMs * 2 ** (errors - 1));
        logger.error({ err, retryInMs: delay }, "reconcile pass failed");
        this.#opts.onPass?.(err instanceof Error ? err : new Error(String(err)), performance.now() - started);
      }
      // Stopped during the pass: an already aborted signal never fires its abort listener,
      // so sleeping now would hold stop() for the whole delay.
      if (signal.aborted) break;
      if (this.#kicked || delay <= 0) continue;
      this.#wake = new AbortController();
      const onAbort = (): void => this.#wake?.abort(WAKE);
      signal.addEventListener("abort", onAbort, { once: true });
      await clock.sleep(delay, this.#wake.signal);
      signal.removeEventListener("abort", onAbort);
      this.#wake = undefined;
    }
  }
}
