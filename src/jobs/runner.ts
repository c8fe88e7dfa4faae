// One job: never overlaps itself (or the other jobs that change the pod), never throws into
// the scheduler, logs and counts every outcome, and stops cleanly with the daemon.

import type { JobOutcome, Trigger } from "../domain/jobs.js";
import { PodwardenError, errorMessage } from "../lib/errors.js";
import type { Logger } from "../observability/logger.js";

/** A run that did not start (busy, not possible now): logged and counted as skipped, not as failed. */
export class JobSkipped extends PodwardenError {}


/** One lock for the jobs that change the pod: a backup, a restore and an update never run at once. */
export class JobLock {
  #holder: string | undefined;
  get holder(): string | undefined {
    return this.#holder;
  }
  tryTake(job: string): boolean {
    if (this.#holder !== undefined) return false;
    this.#holder = job;
    return true;
  }
  give(job: string): void {
    if (this.#holder === job) this.#holder = undefined;
  }
}

export interface RunnerDeps {
  readonly lock: JobLock;
  readonly logger: Logger;
  readonly now: () => number;
  readonly onOutcome?: (o: JobOutcome) => void;
  /** Why the job cannot run now (the pod is not ready, ...), or undefined when it can. */
  readonly precondition?: () => string | undefined;
}

export class JobRunner<A, T> {
  readonly name: string;
  readonly #run: (arg: A, signal: AbortSignal) => Promise<T>;
  readonly #deps: RunnerDeps;
  readonly #controller = new AbortController();
  #inFlight: Promise<unknown> | undefined;
  #last: JobOutcome | undefined;

  constructor(name: string, run: (arg: A, signal: AbortSignal) => Promise<T>, deps: RunnerDeps) {
    this.name = name;
    this.#run = run;
    this.#deps = deps;
  }

  get running(): boolean {
    return this.#inFlight !== undefined;
  }

  get last(): JobOutcome | undefined {
    return this.#last;
  }

  /** A scheduled run: skipped (with a logged reason) when busy or not possible now; errors are logged and counted, never thrown. */
  async scheduled(arg: A): Promise<void> {
    await this.#go(arg, "scheduled").catch(() => undefined);
  }

  /** An on-demand run: the result, or the error (E_BUSY when another job runs, E_NOT_READY when it cannot run now). */
  now(arg: A): Promise<T> {
    return this.#go(arg, "manual");
  }

  async #go(arg: A, trigger: Trigger): Promise<T> {
    const { lock, logger } = this.#deps;
    const log = logger.child({ job: this.name, trigger });
    const skip = (message: string, code: "E_BUSY" | "E_NOT_READY" | "E_ABORTED"): never => {
      log.warn({ reason: message }, "job skipped");
      this.#record(trigger, "skipped", 0, message);
      throw new JobSkipped(code, `${this.name}: ${message}`);
    };
    if (this.#controller.signal.aborted) skip("the daemon is stopping", "E_ABORTED");
    if (!lock.tryTake(this.name)) skip(`${lock.holder} is running`, "E_BUSY");
    const started = this.#deps.now();
    let release!: () => void;
    this.#inFlight = new Promise<void>((r) => (release = r));
    try {
      const unable = this.#deps.precondition?.();
      if (unable !== undefined) skip(unable, "E_NOT_READY");
      log.info("job started");
      const result = await this.#run(arg, this.#controller.signal);
      const ms = this.#deps.now() - started;
      log.info({ ms }, "job finished");
      this.#record(trigger, "ok", ms, "done");
      return result;
    } catch (err) {
      if (!(err instanceof JobSkipped)) {
        const ms = this.#deps.now() - started;
        log.error({ ms, err }, "job failed");
        this.#record(trigger, "failed", ms, errorMessage(err));
      }
      throw err;
    } finally {
      lock.give(this.name);
      this.#inFlight = undefined;
      release();
    }
  }

  #record(trigger: Trigger, result: JobOutcome["result"], ms: number, message: string): void {
    this.#last = { job: this.name, trigger, result, ms, message };
    this.#deps.onOutcome?.(this.#last);
  }

  /** Asks the run in flight to stop and waits for it. */
  async stop(): Promise<void> {
    this.#controller.abort();
    await this.#inFlight;
  }
}
