// A clock the test moves by hand. sleep() resolves when time is advanced past its end.

import type { Clock } from "../../src/lib/clock.js";

export class FakeClock implements Clock {
  #now: number;
  #sleepers: { until: number; resolve: () => void }[] = [];

  constructor(start = Date.parse("2026-01-01T00:00:00Z")) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  advance(ms: number): void {
    this.#now += ms;
    const due = this.#sleepers.filter((s) => s.until <= this.#now);
    this.#sleepers = this.#sleepers.filter((s) => s.until > this.#now);
    for (const s of due) s.resolve();
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted || ms <= 0) return resolve();
      const aborted = (): void => {
        this.#sleepers = this.#sleepers.filter((s) => s !== entry);
        resolve();
      };
      const entry = {
        until: this.#now + ms,
        resolve: () => {
          signal?.removeEventListener("abort", aborted);
          resolve();
        },
      };
      this.#sleepers.push(entry);
      signal?.addEventListener("abort", aborted, { once: true });
    });
  }
}
