// Injectable time: the real clock in production, a fake one in tests.

export interface Clock {
  now(): number;
  /** Resolves after `ms`, or early (without error) when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      }
      signal?.addEventListener("abort", done, { once: true });
    }),
};

/** Until `at` on `clock`, or for ever when `at` is undefined; either way no longer than until `signal` aborts. */
export const sleepUntil = (clock: Clock, at: number | undefined, signal: AbortSignal): Promise<void> =>
  at === undefined
    ? new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener("abort", () => resolve(), { once: true })))
    : clock.sleep(Math.max(0, at - clock.now()), signal);
