// "Wait until the next passes show X": the one way a caller waits for the reconcile loop to
// bring something about (the pod up or down, a container stopped or ready on a new image).
// Time comes from the injected Clock; every wait has a deadline and listens to its signal.

import type { Clock } from "./clock.js";
import { PodwardenError } from "./errors.js";

export interface WaitOn {
  readonly clock: Clock;
  /** Calls the listener whenever the predicate may have changed (after a pass); returns the unsubscribe function. */
  readonly changes: (listener: () => void) => () => void;
  /** The error at the deadline (E_TIMEOUT). */
  readonly timedOut: () => Error;
  /** The error when `signal` aborts (default: E_ABORTED "interrupted"). */
  readonly interrupted?: () => Error;
}

/**
 * Resolves once `predicate` returns true after a change; rejects with what it returns when that
 * is an Error (a state that waiting will not change), when `signal` aborts, or after `timeoutMs`.
 * The predicate is asked only on changes: a caller that may already be there asks first.
 */
export const waitFor = (predicate: () => boolean | Error, timeoutMs: number, signal: AbortSignal | undefined, on: WaitOn): Promise<void> =>
  new Promise<void>((resolve, reject) => {
    const interrupted = on.interrupted ?? ((): Error => new PodwardenError("E_ABORTED", "interrupted"));
    if (signal?.aborted) return reject(interrupted());
    const done = new AbortController();
    const finish = (err?: Error): void => {
      if (done.signal.aborted) return;
      done.abort();
      unsubscribe();
      signal?.removeEventListener("abort", onAbort);
      if (err) reject(err);
      else resolve();
    };
    const look = (): void => {
      const verdict = predicate();
      if (verdict instanceof Error) finish(verdict);
      else if (verdict) finish();
    };
    const onAbort = (): void => finish(interrupted());
    const unsubscribe = on.changes(look);
    signal?.addEventListener("abort", onAbort, { once: true });
    void on.clock.sleep(timeoutMs, done.signal).then(() => finish(on.timedOut()));
  });
