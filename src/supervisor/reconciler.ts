// One reconcile pass: observe (one look at Podman) -> plan (pure) -> act (act.ts). Probes run
// on their own schedule beside it (probe-scheduler.ts) and ask for a pass when a verdict changes.

import type { ImagePin } from "../domain/jobs.js";
import type { BackoffPolicy } from "../domain/backoff.js";
import { desiredChanges, renderDesired, type Desired } from "../domain/desired.js";
import type { PodCreateRequest } from "../domain/create-request.js";
import { absorbNoProbe, absorbObservation, resetBackoff, type AbsorbContext, type ContainerHistory } from "../domain/history.js";
import { startOrder } from "../domain/graph.js";
import { diskNote, diskVerdicts, fullContainers, nextDiskLookMs, persistedPaths, type DiskVerdict, type FsSample } from "../domain/disk.js";
import type { SupervisorEvent } from "../domain/events.js";
import { isLegalTransition } from "../domain/lifecycle.js";
import type { Observed } from "../domain/observed.js";
import { plan, type Mode, type Plan } from "../domain/plan.js";
import { LABELS, type PodSpec, type Secrets } from "../domain/spec.js";
import { untilAborted } from "../lib/abort.js";
import type { Clock } from "../lib/clock.js";
import { PodwardenError } from "../lib/errors.js";
import type { Logger } from "../observability/logger.js";
import type { DiskSampler } from "../probes/disk.js";
import type { Prober } from "../probes/prober.js";
import type { ContainerRuntime } from "../runtime/port.js";
import { Actor } from "./act.js";
import { HistoryBook } from "./history-book.js";
import { ProbeScheduler } from "./probe-scheduler.js";

export interface ReconcilerDeps {
  readonly spec: PodSpec;
  readonly secrets: Secrets;
  /** The key of secret names (config/naming-key.ts): the same key keeps names, and so hashes, stable. */
  readonly namingKey: Uint8Array;
  readonly runtime: ContainerRuntime;
  readonly prober: Prober;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly backoff: BackoffPolicy;
  readonly random: () => number;
  /** Asks the loop for a pass: background work (a stop) finished, or a probe changed a verdict. */
  readonly kick: () => void;
  /** Every transition, failure, restart and probe result (timeline, metrics). */
  readonly onEvent?: (e: SupervisorEvent) => void;
  /** A line of progress from long work inside a pass (pulling, building an image). */
  readonly onProgress?: (line: string) => void;
  /** Free space of the persisted directories' filesystems (none: no disk verdicts). */
  readonly disk?: DiskSampler;
}

/** Passes sample the persisted filesystems at most this often. */
export const DISK_SAMPLE_MS = 1_000;
/**
 * Between passes the filesystems are sampled this often when one is near full (a full disk
 * shows in /status within it), and as seldom as DISK_WATCH_MAX_MS when all have room to spare
 * (domain/disk.ts nextDiskLookMs): each look cost ~1 ms of CPU, two thirds of an idle daemon's.
 */
export const DISK_WATCH_MS = 5_000;
export const DISK_WATCH_MAX_MS = 60_000;

export interface PassResult {
  readonly mode: Mode;
  readonly requeueAfterMs: number | null;
  readonly settled: boolean;
  /** Every container ready except soft dependencies that are down (see domain/serving.ts). */
  readonly serving: boolean;
}

/** Containers to be created, in start order: now (a create action), or once their dependencies are ready (pending, none made yet). */
const toBeCreated = (p: Plan, observed: Observed, spec: PodSpec): string[] => {
  const now = p.actions.flatMap((a) => (a.type === "create" ? [a.name] : []));
  const later = startOrder(spec.containers).filter((n) => !now.includes(n) && p.states.get(n) === "pending" && !observed.containers.has(n));
  return [...now, ...later];
};

export class Reconciler {
  #deps: ReconcilerDeps;
  #desired!: Desired;
  readonly #book = new HistoryBook();
  #mode: Mode = "up";
  #lastPlan: Plan | undefined;
  #lastObserved: Observed | undefined;
  /** Secrets of replaced containers are pruned once the pod has settled on the new ones. */
  #secretsPruned = false;
  readonly #overrides = { held: new Set<string>(), suspended: new Set<string>(), pins: new Map<string, ImagePin>() };
  #diskSamples: ReadonlyMap<string, FsSample> = new Map();
  #diskSampledAt = Number.NEGATIVE_INFINITY;
  #disk: ReadonlyMap<string, DiskVerdict> = new Map();
  readonly #actor: Actor;
  /** Runs the probes between passes; the supervisor runs it beside the loop. */
  readonly probes: ProbeScheduler;

  constructor(deps: ReconcilerDeps) {
    this.#deps = deps;
    this.#render();
    const emit = (e: SupervisorEvent): void => this.#deps.onEvent?.(e);
    const { runtime, clock, logger } = deps;
    this.#actor = new Actor({ runtime, clock, logger, book: this.#book, ctx: () => this.#ctx(), emit, kick: deps.kick, ...(deps.onProgress ? { onProgress: deps.onProgress } : {}) });
    this.probes = new ProbeScheduler({
      book: this.#book,
      clock,
      logger,
      current: () => this.#deps,
      active: (name) => this.#mode === "up" && !this.#overrides.held.has(name),
      observed: (name) => this.#lastObserved?.containers.get(name),
      emit,
      kick: deps.kick,
    });
  }

  #render(): void {
    const { spec, secrets, namingKey } = this.#deps;
    this.#desired = renderDesired(spec, secrets, this.#overrides.pins, namingKey);
  }

  /**
   * Switches to a new spec (a reloaded config). The next passes recreate exactly the
   * containers whose hash changed, in order. Returns what differs: changed, added and
   * removed container names, and whether the pod itself (ports, DNS) must be recreated.
   */
  reconfigure(next: Pick<ReconcilerDeps, "spec" | "secrets" | "prober">): { changed: string[]; podChanged: boolean } {
    const before = this.#desired;
    this.#deps = { ...this.#deps, ...next };
    this.#render();
    const diff = desiredChanges(before, this.#desired);
    for (const n of this.#book.all.keys()) if (!this.#desired.hashes.has(n)) this.#book.delete(n);
    // A fix (a new env file, a new command) is tried at once, not after the crash loop's backoff.
    for (const n of diff.changed) if (this.#book.get(n)) this.#book.update(n, resetBackoff);
    this.#secretsPruned = false;
    this.probes.reschedule();
    return diff;
  }

  /** Runs `name` from `pin.image` while the spec names `pin.ref` (undefined: the spec's image again). */
  pinImage(name: string, pin: ImagePin | undefined): void {
    if (pin) this.#overrides.pins.set(name, pin);
    else this.#overrides.pins.delete(name);
    this.#render();
  }

  get pins(): ReadonlyMap<string, ImagePin> {
    return this.#overrides.pins;
  }

  /** Hands off `name` (a job pauses it): no probes, no verdicts, no actions until released. */
  hold(name: string): void {
    this.#overrides.held.add(name);
  }

  release(name: string): void {
    this.#overrides.held.delete(name);
    this.probes.reschedule();
  }

  /** Keeps these containers stopped (in reverse dependency order) until resumed. */
  suspend(names: Iterable<string>): void {
    for (const n of names) this.#overrides.suspended.add(n);
  }

  resume(names: Iterable<string>): void {
    for (const n of names) this.#overrides.suspended.delete(n);
  }

  get spec(): PodSpec {
    return this.#deps.spec;
  }
  get secrets(): Secrets {
    return this.#deps.secrets;
  }
  get mode(): Mode {
    return this.#mode;
  }
  set mode(mode: Mode) {
    this.#mode = mode;
    this.probes.reschedule();
  }
  get history(): ReadonlyMap<string, ContainerHistory> {
    return this.#book.all;
  }
  get lastPlan(): Plan | undefined {
    return this.#lastPlan;
  }
  get lastObserved(): Observed | undefined {
    return this.#lastObserved;
  }
  /** The pod as it is to be made (with its spec hash): the host check makes it when it does not exist. */
  get podRequest(): PodCreateRequest {
    return this.#desired.pod;
  }

  /**
   * The host check is making the pod (none exists) and starts its infra: the first container
   * to start is created meanwhile, once `allowed` (every other check passed) says so. Only that
   * one: the others are made one at a time by the passes, which a stop signal ends between two
   * creates. Resolves once that create is done or left out.
   */
  createAhead(allowed: Promise<boolean>): Promise<void> {
    const { spec } = this.#deps;
    const first = spec.containers.find((c) => c.name === startOrder(spec.containers)[0]);
    if (!first || first.dependsOn.length > 0 || first.init) return Promise.resolve();
    return this.#actor.createAhead(first.name, { spec, desired: this.#desired }, allowed);
  }

  get hashes(): ReadonlyMap<string, string> {
    return this.#desired.hashes;
  }
  /** Each container's persisted filesystem as of the last pass (containers with persisted directories). */
  get disk(): ReadonlyMap<string, DiskVerdict> {
    return this.#disk;
  }

  /**
   * One pass. `signal` aborted (a stop signal, a change of mode): act no further, the plan no
   * longer holds. `deadline` aborted: the pass is cut short wherever it is, observation included,
   * and fails with the deadline's reason.
   */
  async reconcileOnce(signal?: AbortSignal, deadline?: AbortSignal): Promise<PassResult> {
    const { spec, runtime, clock } = this.#deps;
    const observed = await untilAborted(runtime.observe(spec.name, deadline), deadline);
    this.#lastObserved = observed;
    if (observed.pod && !observed.pod.managed) {
      // Someone else's pod (the seed's systemd unit makes one with `podman pod create`): never touch it.
      throw new PodwardenError(
        "E_CONFLICT",
        `pod ${spec.name} exists but was not created by podwarden (no ${LABELS.managed} label): ` +
          `remove it (podman pod rm -f ${spec.name}) or choose another pod.name`,
      );
    }
    this.#absorb(observed);
    await this.#judgeDisk();
    const mode = this.#mode;
    const p = plan({ spec, hashes: this.#desired.hashes, podHash: this.#desired.podHash, observed, history: this.#book.all, now: clock.now(), mode, overrides: this.#overrides, diskFull: fullContainers(this.#disk) });
    this.#recordStates(p);
    this.#lastPlan = p;
    this.probes.reschedule();
    const acting = deadline && signal ? AbortSignal.any([signal, deadline]) : (signal ?? deadline);
    const target = { spec, desired: this.#desired };
    if (mode === "up") this.#actor.readyAhead(toBeCreated(p, observed, spec), target, signal);
    await this.#actor.act(p.actions, target, acting, signal);
    if (deadline?.aborted) throw deadline.reason as Error;
    if (p.actions.length > 0) this.#secretsPruned = false;
    else if (mode === "up" && !this.#secretsPruned && !signal?.aborted && this.#allCurrent(observed)) {
      // Every container now exists as desired, with the desired secret names: older ones are
      // unused. Known while the last one is still starting: pruned then, not at the end.
      await runtime.pruneSecrets(spec.name, this.#desired.secretNames);
      this.#secretsPruned = true;
    }
    // Cut short: the plan's "again at once" no longer holds; whoever aborted gives the next mode (and kicks).
    return { mode, requeueAfterMs: signal?.aborted ? null : p.requeueAfterMs, settled: p.settled, serving: p.serving };
  }

  /** Whether every container of the spec exists with its desired spec hash (none to make, none left from an older spec). */
  #allCurrent(observed: Observed): boolean {
    return this.#deps.spec.containers.every((c) => observed.containers.get(c.name)?.specHash === this.#desired.hashes.get(c.name));
  }

  /** Folds the observation into every container's history (held ones excepted), and says each new failure once. */
  #absorb(observed: Observed): void {
    const ctx = this.#ctx();
    for (const c of this.#deps.spec.containers) {
      if (this.#overrides.held.has(c.name)) continue;
      const before = this.#book.get(c.name);
      let after = this.#book.update(c.name, (h) => absorbObservation(h, observed.containers.get(c.name), ctx, c.init === true));
      // Nothing to probe: ready as soon as it runs (init steps are judged by their exit code).
      if (!c.probe && !c.init && this.#mode === "up" && after.nextProbeAt !== undefined) after = this.#book.update(c.name, (h) => absorbNoProbe(h, ctx.now));
      if (after.failures > (before?.failures ?? 0)) {
        const retryInMs = (after.nextAttemptAt ?? ctx.now) - ctx.now;
        const reason = after.lastReason ?? "unknown";
        this.#deps.logger.warn({ container: c.name, exitCode: after.lastExitCode, reason, failures: after.failures, retryInMs }, "container failed");
        this.#deps.onEvent?.({ kind: "failure", at: ctx.now, container: c.name, reason, exitCode: after.lastExitCode, retryInMs });
      }
    }
    // A running container first seen by this daemon (adopted) counts as started against today's dependencies.
    for (const c of this.#deps.spec.containers) {
      const h = this.#book.get(c.name);
      if (h?.running && h.startedWith === undefined) this.#book.update(c.name, (x) => ({ ...x, startedWith: this.#book.instancesOf(c.dependsOn.map((d) => d.name)) }));
    }
  }

  #ctx(): AbsorbContext {
    return { now: this.#deps.clock.now(), backoff: this.#deps.backoff, random: this.#deps.random };
  }

  /**
   * Samples the persisted filesystems beside the loop, as the probes run beside it (every
   * DISK_WATCH_MS near full, up to DISK_WATCH_MAX_MS with room to spare): /status and /metrics
   * show recent figures, and a container turning full (or writable again) asks for a pass at once.
   */
  async watchDisk(signal: AbortSignal): Promise<void> {
    if (!this.#deps.disk) return;
    while (!signal.aborted) {
      await this.#deps.clock.sleep(nextDiskLookMs(this.#diskSamples.values(), DISK_WATCH_MS, DISK_WATCH_MAX_MS), signal);
      if (signal.aborted) break;
      try {
        if (await this.#judgeDisk()) this.#deps.kick();
      } catch (err) {
        this.#deps.logger.warn({ err }, "cannot sample the persisted filesystems");
      }
    }
  }

  /**
   * Samples the persisted filesystems (at most every DISK_SAMPLE_MS) and logs each container
   * turning full or not; returns whether any did.
   */
  async #judgeDisk(): Promise<boolean> {
    const { disk, spec, clock, logger } = this.#deps;
    if (!disk) return false;
    const now = clock.now();
    if (now - this.#diskSampledAt >= DISK_SAMPLE_MS) {
      this.#diskSampledAt = now;
      this.#diskSamples = await disk([...persistedPaths(spec).values()].flat(), now);
    }
    const before = this.#disk;
    this.#disk = diskVerdicts(spec, this.#diskSamples, this.#book.all);
    let turned = false;
    for (const [name, v] of this.#disk) {
      if (v.full === (before.get(name)?.full ?? false)) continue;
      turned = true;
      const fields = { container: name, path: v.path, filesystem: v.filesystem, freeBytes: v.freeBytes, sizeBytes: v.sizeBytes };
      if (v.full) logger.error({ ...fields, reason: v.reason }, diskNote(name, v));
      else logger.info(fields, "persisted filesystem writable again: liveness restarts resume");
    }
    return turned;
  }

  #recordStates(p: Plan): void {
    for (const [name, state] of p.states) {
      const h = this.#book.get(name);
      const from = h?.state ?? "pending";
      if (from === state) continue;
      const log = this.#deps.logger;
      // The table is tested against the pure core (test/unit/domain/lifecycle.test.ts): a change
      // outside it is a bug in podwarden, logged loudly; supervising goes on.
      if (!isLegalTransition(from, state)) log.error({ container: name, from, to: state }, `bug: ${from} -> ${state} is not in the lifecycle table (domain/lifecycle.ts)`);
      log.info({ container: name, from, reason: h?.lastReason }, `-> ${state}`);
      this.#book.update(name, (x) => ({ ...x, state }));
      this.#deps.onEvent?.({ kind: "transition", at: this.#deps.clock.now(), container: name, from, to: state, ...(h?.lastReason ? { reason: h.lastReason } : {}) });
    }
  }
}
