// The timers: for each scheduled job, sleep (on the injected clock) until its cron
// expression next fires, then start a run without waiting for it. The timing decision is
// CronSchedule.next(); this is only the shell around it.

import type { Clock } from "../lib/clock.js";
import type { Logger } from "../observability/logger.js";
import { CronSchedule } from "./cron.js";

export interface ScheduledJob {
  readonly name: string;
  readonly schedule: string;
  /** Starts a run; must not throw (JobRunner.scheduled does not). */
  readonly fire: () => Promise<void>;
}

interface Entry {
  readonly job: ScheduledJob;
  readonly cron: CronSchedule;
  next: number | undefined;
}

export class Scheduler {
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #jobs: Entry[];
  readonly #controller = new AbortController();
  #loops: Promise<unknown> | undefined;

  constructor(jobs: readonly ScheduledJob[], clock: Clock, logger: Logger) {
    this.#clock = clock;
    this.#logger = logger;
    this.#jobs = jobs.map((job) => ({ job, cron: new CronSchedule(job.schedule), next: undefined }));
  }

  /** When each job fires next (epoch ms), for /status. */
  nextRuns(): ReadonlyMap<string, number | undefined> {
    return new Map(this.#jobs.map((j) => [j.job.name, j.next]));
  }

  start(): void {
    this.#loops ??= Promise.all(this.#jobs.map((j) => this.#loop(j)));
  }

  async #loop(entry: Entry): Promise<void> {
    const signal = this.#controller.signal;
    const inFlight = new Set<Promise<void>>();
    while (!signal.aborted) {
      const now = this.#clock.now();
      entry.next = entry.cron.next(now);
      this.#logger.debug({ job: entry.job.name, at: new Date(entry.next).toISOString() }, "next run");
      await this.#clock.sleep(entry.next - now, signal);
      if (signal.aborted) break;
      // Not awaited: a long run must not delay the next tick (which the runner skips if it still runs).
      const run = entry.job.fire().finally(() => inFlight.delete(run));
      inFlight.add(run);
    }
    entry.next = undefined;
    await Promise.all(inFlight);
  }

  /** Stops the timers; runs in flight are stopped by their runners. */
  async stop(): Promise<void> {
    this.#controller.abort();
    await this.#loops;
  }
}
