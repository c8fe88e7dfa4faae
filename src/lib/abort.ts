// Deadlines and cancellation for work that may not listen to a signal itself.

/**
 * Settles like `work`, or rejects with the signal's reason as soon as `signal` aborts (the
 * work is then left to finish on its own, its result ignored).
 */
export const untilAborted = <T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> => {
  if (!signal) return work;
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(signal.reason as Error);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err as Error);
      },
    );
  });
};

/**
 * The reason given when aborting a controller that only wakes a wait (a sleep, a scheduler's
 * timer). abort() without a reason builds a DOMException, with its stack, each time: on the
 * probe scheduler's path that was a few per cent of a probe's CPU.
 */
export const WAKE: Error = new Error("woken");
