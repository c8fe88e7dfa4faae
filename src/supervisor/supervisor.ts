// The supervisor facade: runs the loop, the event watcher, the probe scheduler and the disk sampler in the
// background, switches between bringing the pod up and taking it down, and answers "what is
// the state now" from the last pass.

import { setMaxListeners } from "node:events";
import type { HostProblem } from "../domain/host-problems.js";
import type { Mode } from "../domain/plan.js";
import type { Clock } from "../lib/clock.js";
import { PodmanUnavailableError, PodwardenError } from "../lib/errors.js";
import { waitFor } from "../lib/wait-for.js";
import type { Logger } from "../observability/logger.js";
import type { ContainerRuntime, RuntimeEvent } from "../runtime/port.js";
import { ReconcileLoop } from "./loop.js";
import { EventWatcher } from "./watcher.js";
import type { PassResult, Reconciler } from "./reconciler.js";
import { buildSnapshot, type Snapshot } from "../domain/snapshot.js";
import { WAKE } from "../lib/abort.js";

export interface SupervisorDeps {
  readonly reconciler: Reconciler;
  readonly clock: Clock;
  readonly logger: Logger;
  /**
   * The safety-net relist: how long the loop sleeps when nothing is due, while the event stream
   * is open and while it is not (changes are then seen only by looking). Default 60 s and 10 s.
   */
  readonly relistMs?: { readonly connected: number; readonly disconnected: number };
  /** A pass that has made no progress for this long is cut short (its observation and actions aborted). Default 30 s. */
  readonly passDeadlineMs?: number;
  /** Where to follow Podman's events from; without it the loop only polls. */
  readonly events?: Pick<ContainerRuntime, "watch">;
  readonly onEvent?: (e: RuntimeEvent) => void;
  /** After every pass: its duration and whether it failed (metrics). */
  readonly onPassDone?: (ms: number, ok: boolean, at: number) => void;
}

type Listener = () => void;

/** Listeners a signal may have before Node warns: one per request or probe in flight, all removed when done. */
const SIGNAL_LISTENERS = 100;

/** How long a pass cut short by its deadline may take to wind down before the loop counts as stuck. */
export const DEADLINE_GRACE_MS = 1_000;

export class Supervisor {
  readonly #deps: SupervisorDeps;
  readonly #loop: ReconcileLoop;
  readonly #listeners = new Set<Listener>();
  #controller: AbortController | undefined;
  #running: Promise<unknown> | undefined;
  readonly #watcher: EventWatcher | undefined;
  #lastResult: PassResult | undefined;
  #lastError: Error | undefined;
  #lastPassAt: number | undefined;
  /**
   * Aborted when the pass in flight must stop acting: the mode changed (its plan is for the
   * other mode), quiesce() (a stop signal), or stop(). Renewed when a mode is given again.
   */
  #actions = new AbortController();

  constructor(deps: SupervisorDeps) {
    this.#deps = deps;
    const relist = deps.relistMs ?? { connected: 60_000, disconnected: 10_000 };
    this.#loop = new ReconcileLoop({
      pass: () => this.#pass(),
      clock: deps.clock,
      logger: deps.logger.child({ component: "loop" }),
      idleMs: () => (this.eventsConnected ? relist.connected : relist.disconnected),
      errorBackoff: { initialMs: 500, maxMs: 30_000 },
      onPass: (r, ms) => {
        this.#lastPassAt = deps.clock.now();
        deps.onPassDone?.(ms, !(r instanceof Error), this.#lastPassAt);
        if (r instanceof Error) this.#lastError = r;
        else {
          this.#lastResult = r;
          this.#lastError = undefined;
        }
        this.#sayHostProblem();
        for (const l of this.#listeners) l();
      },
    });
    this.#watcher =
      deps.events &&
      new EventWatcher({
        runtime: deps.events,
        pod: deps.reconciler.spec.name,
        clock: deps.clock,
        logger: deps.logger.child({ component: "events" }),
        kick: () => this.kick(),
        ...(deps.onEvent ? { onEvent: deps.onEvent } : {}),
      });
  }

  /** Whether the event stream is open (false: changes are seen at the next poll). */
  get eventsConnected(): boolean {
    return this.#watcher?.connected ?? false;
  }

  start(mode: Mode): void {
    this.#enter(mode);
    if (this.#running) return this.kick();
    this.#controller = new AbortController();
    const signal = this.#controller.signal;
    // Each probe out listens on it (a starting container may have several): not a leak.
    setMaxListeners(SIGNAL_LISTENERS, signal);
    this.#running = Promise.all([this.#loop.run(signal), this.#watcher?.run(signal), this.#deps.reconciler.probes.run(signal), this.#deps.reconciler.watchDisk(signal)]);
  }

  setMode(mode: Mode): void {
    this.#enter(mode);
    this.kick();
  }

  /** A new mode cancels what the pass in flight still meant to do for the old one (creates and starts while going down). */
  #enter(mode: Mode): void {
    if (mode !== this.#deps.reconciler.mode || this.#actions.signal.aborted) {
      this.#actions.abort();
      this.#actions = new AbortController();
    }
    this.#deps.reconciler.mode = mode;
  }

  /**
   * Stop acting at once (a stop signal came): the pass in flight issues no further create,
   * start or stop, and later passes only observe, until start() or setMode() gives a mode again.
   */
  quiesce(): void {
    this.#actions.abort();
  }

  kick(): void {
    this.#loop.kick();
  }

  /** Stops the loop (not the pod) and waits for the pass in flight to finish. */
  async stop(): Promise<void> {
    this.#controller?.abort();
    this.#actions.abort();
    await this.#running;
    this.#running = undefined;
  }

  #lastProgressAt = Number.NEGATIVE_INFINITY;
  /** When the pass in flight began (undefined: none is in flight). */
  #passStartedAt: number | undefined;

  /** Long work inside a pass (an image build) reported progress: the loop is not stuck, and the pass's deadline moves on. */
  noteProgress(): void {
    this.#lastProgressAt = this.#deps.clock.now();
  }

  get #passDeadlineMs(): number {
    return this.#deps.passDeadlineMs ?? 30_000;
  }

  /** When the pass in flight is due to be cut short: its deadline counts from its start or its last progress. */
  #passDeadlineAt(): number {
    return Math.max(this.#passStartedAt ?? Number.NEGATIVE_INFINITY, this.#lastProgressAt) + this.#passDeadlineMs;
  }

  /**
   * One pass under a deadline. The loop's own signal ends the loop; `#actions` ends the acting
   * (stop() aborts both); the deadline cuts a pass that hangs (a Podman call that never answers).
   */
  async #pass(): Promise<PassResult> {
    const { clock, reconciler } = this.#deps;
    this.#passStartedAt = clock.now();
    const done = new AbortController();
    const deadline = new AbortController();
    // Each Podman request of the pass listens on it (observing inspects every changed container at once).
    setMaxListeners(SIGNAL_LISTENERS, deadline.signal);
    void (async () => {
      while (!done.signal.aborted) {
        const left = this.#passDeadlineAt() - clock.now();
        if (left <= 0) return deadline.abort(new PodwardenError("E_TIMEOUT", `reconcile pass cut short: no progress for ${this.#passDeadlineMs} ms`));
        await clock.sleep(left, done.signal);
      }
    })();
    try {
      return await reconciler.reconcileOnce(this.#actions.signal, deadline.signal);
    } finally {
      done.abort(WAKE);
      this.#passStartedAt = undefined;
    }
  }

  /**
   * The loop is alive: no pass is in flight past its deadline (with a second's grace to wind
   * down once cut short). An idle loop waiting for events is alive; one stuck in a pass that
   * ignores its deadline is not (systemd's watchdog, /healthz).
   */
  loopAlive(): boolean {
    return this.#passStartedAt === undefined || this.#deps.clock.now() <= this.#passDeadlineAt() + DEADLINE_GRACE_MS;
  }

  /** Calls `listener` after every pass (or failed pass); returns the unsubscribe function. */
  onPass(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The current mode's goal reached in the last pass (up: all ready; down: pod gone). */
  get settled(): boolean {
    return this.#lastResult?.settled === true && this.#lastResult.mode === this.#deps.reconciler.mode && this.#lastError === undefined;
  }

  #hostProblem: HostProblem | undefined;
  #saidProblem = "";

  /**
   * What the host checks block on (undefined: they pass). Shown in the snapshot (so /status
   * and systemd's STATUS=) and told to every onPass listener, as a pass would.
   */
  setHostProblem(problem: HostProblem | undefined): void {
    if (JSON.stringify(problem) === JSON.stringify(this.#hostProblem)) return;
    this.#hostProblem = problem;
    for (const l of this.#listeners) l();
  }

  /** A host problem recognised in Podman's errors is logged once, with its fix, not at every retry. */
  #sayHostProblem(): void {
    const p = this.snapshot().blocked;
    const key = p ? `${p.check}: ${p.cause}` : "";
    if (key === this.#saidProblem) return;
    if (p) this.#deps.logger.error({ check: p.check, cause: p.cause, fix: p.fix }, `host problem: ${p.cause} (retrying will not fix it); fix: ${p.fix}`);
    else this.#deps.logger.info({ was: this.#saidProblem }, "host problem gone");
    this.#saidProblem = key;
  }

  /** Up, and the last pass found every container ready except soft dependencies that are down. */
  get serving(): boolean {
    const r = this.#lastResult;
    return r?.serving === true && r.mode === "up" && this.#deps.reconciler.mode === "up" && this.#lastError === undefined;
  }

  snapshot(): Snapshot {
    const r = this.#deps.reconciler;
    return buildSnapshot({
      spec: r.spec,
      mode: r.mode,
      observed: r.lastObserved,
      plan: r.lastPlan,
      history: r.history,
      lastError: this.#lastError,
      podmanReachable: !(this.#lastError instanceof PodmanUnavailableError),
      eventsConnected: this.eventsConnected,
      lastPassAt: this.#lastPassAt,
      now: this.#deps.clock.now(),
      hostProblem: this.#hostProblem,
      disk: r.disk,
    });
  }

  /**
   * Resolves when a pass reports the current mode settled (`goal` "serving": up, and serving);
   * rejects at the deadline.
   */
  waitUntilSettled(timeoutMs: number, signal?: AbortSignal, goal: "settled" | "serving" = "settled"): Promise<void> {
    const settled = (): boolean => (goal === "serving" ? this.serving : this.settled);
    if (settled()) return Promise.resolve();
    // Conflicts do not go away by waiting: give up at once.
    const check = (): boolean | Error => settled() || (this.#lastError instanceof PodwardenError && this.#lastError.code === "E_CONFLICT" ? this.#lastError : false);
    return waitFor(check, timeoutMs, signal, {
      clock: this.#deps.clock,
      changes: (l) => this.onPass(l),
      timedOut: () => new PodwardenError("E_TIMEOUT", `not ${this.#deps.reconciler.mode === "up" ? "ready" : "down"} after ${timeoutMs} ms`),
    });
  }
}
