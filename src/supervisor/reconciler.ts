// One reconcile pass: observe (Podman + due probes) -> plan (pure) -> act.

import type { BackoffPolicy } from "../domain/backoff.js";
import {
  containerCreateRequest,
  podCreateRequest,
  renderSecretFile,
  type ContainerCreateRequest,
  type PodCreateRequest,
} from "../domain/create-request.js";
import {
  absorbNoProbe,
  absorbObservation,
  absorbProbe,
  emptyHistory,
  markStartAttempt,
  markStartFailed,
  markStopping,
  resetBackoff,
  STOP_SLACK_MS,
  type AbsorbContext,
  type ContainerHistory,
  type StopReason,
} from "../domain/history.js";
import { diskNote, diskVerdicts, fullContainers, persistedPaths, type DiskVerdict, type FsSample } from "../domain/disk.js";
import type { SupervisorEvent } from "../domain/events.js";
import { isLegalTransition } from "../domain/lifecycle.js";
import type { Observed } from "../domain/observed.js";
import { plan, type Action, type Mode, type Plan } from "../domain/plan.js";
import { LABELS, type PodSpec, type Secrets } from "../domain/spec.js";
import { secretName, specHash } from "../domain/spec-hash.js";
import { secretKeysFor } from "../domain/secret-env.js";
import type { Clock } from "../lib/clock.js";
import { PodwardenError, errorMessage } from "../lib/errors.js";
import type { Logger } from "../observability/logger.js";
import type { DiskSampler } from "../probes/disk.js";
import type { Prober } from "../probes/prober.js";
import type { ContainerRuntime } from "../runtime/port.js";
import { ensureImage } from "./images.js";

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
  /** Every transition, failure, restart and probe result (timeline, metrics). */
  readonly onEvent?: (e: SupervisorEvent) => void;
  /** A line of progress from long work inside a pass (pulling, building an image). */
  readonly onProgress?: (line: string) => void;
  /** Free space of the persisted directories' filesystems (none: no disk verdicts). */
  readonly disk?: DiskSampler;
}

/** Passes sample the persisted filesystems at most this often. */
export const DISK_SAMPLE_MS = 1_000;

export interface PassResult {
  readonly mode: Mode;
  readonly requeueAfterMs: number | null;
  readonly settled: boolean;
  /** Every container ready except soft dependencies that are down (see domain/serving.ts). */
  readonly serving: boolean;
}

interface Desired {
  readonly request: ContainerCreateRequest;
  /** The secret file to create before the container: [name, content]. */
  readonly secret: readonly [string, string] | undefined;
}

/**
 * An image pinned by a job (an update, a rollback) in place of the spec's reference, while the
 * spec still names `ref`: a changed config drops the pin.
 */
export interface ImagePin {
  readonly ref: string;
  readonly image: string;
}

/** Renders every container's create request once; the spec-hash label goes on last. */
const renderDesired = (spec: PodSpec, secrets: Secrets, pins: ReadonlyMap<string, ImagePin>, key: Uint8Array): Map<string, Desired> =>
  new Map(
    spec.containers.map((declared) => {
      const pin = pins.get(declared.name);
      const c = pin && pin.ref === declared.image ? { ...declared, image: pin.image } : declared;
      const keys = secretKeysFor(c, secrets.keys());
      const content = renderSecretFile(keys, secrets);
      const secret = keys.length > 0 ? ([secretName(key, spec.name, c.name, content), content] as const) : undefined;
      const base = containerCreateRequest(spec, c, secret ? { secret: secret[0], keys } : undefined);
      const request = { ...base, labels: { ...base.labels, [LABELS.specHash]: specHash(base) } };
      return [c.name, { request, secret }];
    }),
  );

export class Reconciler {
  #deps: ReconcilerDeps;
  #desired!: Map<string, Desired>;
  #hashes!: Map<string, string>;
  #podRequest!: PodCreateRequest;
  #history = new Map<string, ContainerHistory>();
  #mode: Mode = "up";
  #lastPlan: Plan | undefined;
  #lastObserved: Observed | undefined;
  /** Secrets of replaced containers are pruned once the pod has settled on the new ones. */
  #secretsPruned = false;
  #pins = new Map<string, ImagePin>();
  readonly #held = new Set<string>();
  readonly #suspended = new Set<string>();
  #diskSamples: ReadonlyMap<string, FsSample> = new Map();
  #diskSampledAt = Number.NEGATIVE_INFINITY;
  #disk: ReadonlyMap<string, DiskVerdict> = new Map();

  constructor(deps: ReconcilerDeps) {
    this.#deps = deps;
    this.#render();
  }

  #render(): void {
    const { spec, secrets, namingKey } = this.#deps;
    this.#desired = renderDesired(spec, secrets, this.#pins, namingKey);
    this.#hashes = new Map([...this.#desired].map(([n, d]) => [n, d.request.labels[LABELS.specHash]!]));
    const pod = podCreateRequest(spec);
    this.#podRequest = { ...pod, labels: { ...pod.labels, [LABELS.specHash]: specHash(pod) } };
  }

  /**
   * Switches to a new spec (a reloaded config). The next passes recreate exactly the
   * containers whose hash changed, in order. Returns what differs: changed, added and
   * removed container names, and whether the pod itself (ports, DNS) must be recreated.
   */
  reconfigure(next: Pick<ReconcilerDeps, "spec" | "secrets" | "prober">): { changed: string[]; podChanged: boolean } {
    const before = new Map(this.#hashes);
    const podBefore = this.#podRequest.labels[LABELS.specHash];
    this.#deps = { ...this.#deps, ...next };
    this.#render();
    const names = new Set([...before.keys(), ...this.#hashes.keys()]);
    const changed = [...names].filter((n) => before.get(n) !== this.#hashes.get(n));
    for (const n of this.#history.keys()) if (!this.#hashes.has(n)) this.#history.delete(n);
    // A fix (a new env file, a new command) is tried at once, not after the crash loop's backoff.
    for (const n of changed) if (this.#history.has(n)) this.#update(n, resetBackoff);
    this.#secretsPruned = false;
    return { changed, podChanged: podBefore !== this.#podRequest.labels[LABELS.specHash] };
  }

  /** Runs `name` from `pin.image` while the spec names `pin.ref` (undefined: the spec's image again). */
  pinImage(name: string, pin: ImagePin | undefined): void {
    if (pin) this.#pins.set(name, pin);
    else this.#pins.delete(name);
    this.#render();
  }

  get pins(): ReadonlyMap<string, ImagePin> {
    return this.#pins;
  }

  /** Hands off `name` (a job pauses it): no probes, no verdicts, no actions until released. */
  hold(name: string): void {
    this.#held.add(name);
  }

  release(name: string): void {
    this.#held.delete(name);
  }

  /** Keeps these containers stopped (in reverse dependency order) until resumed. */
  suspend(names: Iterable<string>): void {
    for (const n of names) this.#suspended.add(n);
  }

  resume(names: Iterable<string>): void {
    for (const n of names) this.#suspended.delete(n);
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
  }
  get history(): ReadonlyMap<string, ContainerHistory> {
    return this.#history;
  }
  get lastPlan(): Plan | undefined {
    return this.#lastPlan;
  }
  get lastObserved(): Observed | undefined {
    return this.#lastObserved;
  }
  get hashes(): ReadonlyMap<string, string> {
    return this.#hashes;
  }
  /** Each container's persisted filesystem as of the last pass (containers with persisted directories). */
  get disk(): ReadonlyMap<string, DiskVerdict> {
    return this.#disk;
  }

  async reconcileOnce(signal?: AbortSignal): Promise<PassResult> {
    const { spec, runtime, clock } = this.#deps;
    const observed = await runtime.observe(spec.name);
    this.#lastObserved = observed;
    if (observed.pod && !observed.pod.managed) {
      // Someone else's pod (the seed's systemd unit makes one with `podman pod create`): never touch it.
      throw new PodwardenError(
        "E_CONFLICT",
        `pod ${spec.name} exists but was not created by podwarden (no ${LABELS.managed} label): ` +
          `remove it (podman pod rm -f ${spec.name}) or choose another pod.name`,
      );
    }
    const ctx = this.#ctx();
    for (const c of spec.containers) {
      if (this.#held.has(c.name)) continue;
      const before = this.#history.get(c.name);
      this.#update(c.name, (h) => absorbObservation(h, observed.containers.get(c.name), ctx, c.init === true));
      const after = this.#history.get(c.name)!;
      if (after.failures > (before?.failures ?? 0)) {
        const retryInMs = (after.nextAttemptAt ?? ctx.now) - ctx.now;
        const reason = after.lastReason ?? "unknown";
        this.#deps.logger.warn({ container: c.name, exitCode: after.lastExitCode, reason, failures: after.failures, retryInMs }, "container failed");
        this.#emit({ kind: "failure", at: ctx.now, container: c.name, reason, exitCode: after.lastExitCode, retryInMs });
      }
    }
    this.#adoptDependencies();
    if (this.#mode === "up") await this.#probeDue(observed);
    await this.#judgeDisk();
    const mode = this.#mode;
    const p = plan({
      spec,
      hashes: this.#hashes,
      podHash: this.#podRequest.labels[LABELS.specHash],
      observed,
      history: this.#history,
      now: clock.now(),
      mode,
      held: this.#held,
      suspended: this.#suspended,
      diskFull: fullContainers(this.#disk),
    });
    this.#recordStates(p);
    this.#lastPlan = p;
    // An aborted signal (a stop signal, a change of mode) ends the acting between actions:
    // nothing more is created or started for a plan that no longer holds.
    for (const action of p.actions) {
      if (signal?.aborted) break;
      await this.#act(action, signal);
    }
    if (p.actions.length > 0) this.#secretsPruned = false;
    else if (mode === "up" && p.settled && !this.#secretsPruned && !signal?.aborted) {
      // Every container now runs with the desired secret names: older ones are unused.
      const keep = new Set([...this.#desired.values()].flatMap((d) => (d.secret ? [d.secret[0]] : [])));
      await runtime.pruneSecrets(spec.name, keep);
      this.#secretsPruned = true;
    }
    // Cut short: the plan's "again at once" no longer holds; whoever aborted gives the next mode (and kicks).
    const requeueAfterMs = signal?.aborted ? null : p.requeueAfterMs;
    return { mode, requeueAfterMs, settled: p.settled, serving: p.serving };
  }

  /** Instances of `name`'s dependencies right now. */
  #depInstances(name: string): Record<string, string> {
    const c = this.#deps.spec.containers.find((x) => x.name === name);
    const pairs = (c?.dependsOn ?? []).flatMap((d) => {
      const inst = this.#history.get(d.name)?.instance;
      return inst === undefined ? [] : [[d.name, inst] as const];
    });
    return Object.fromEntries(pairs);
  }

  /** A running container first seen by this daemon (adopted) counts as started against today's dependencies. */
  #adoptDependencies(): void {
    for (const [name, h] of this.#history) {
      if (h.running && h.startedWith === undefined) this.#history.set(name, { ...h, startedWith: this.#depInstances(name) });
    }
  }

  #emit(e: SupervisorEvent): void {
    this.#deps.onEvent?.(e);
  }

  #ctx(): AbsorbContext {
    return { now: this.#deps.clock.now(), backoff: this.#deps.backoff, random: this.#deps.random };
  }

  #update(name: string, f: (h: ContainerHistory) => ContainerHistory): void {
    this.#history.set(name, f(this.#history.get(name) ?? emptyHistory()));
  }

  async #probeDue(observed: Observed): Promise<void> {
    const now = this.#deps.clock.now();
    const due = this.#deps.spec.containers.filter((c) => {
      if (c.init || this.#held.has(c.name)) return false; // an init container's exit code is its result
      const h = this.#history.get(c.name);
      return observed.containers.get(c.name)?.running === true && h?.nextProbeAt !== undefined && h.nextProbeAt <= now;
    });
    await Promise.all(
      due.map(async (c) => {
        if (!c.probe) return this.#update(c.name, (h) => absorbNoProbe(h, now));
        const result = await this.#deps.prober(c, observed.containers.get(c.name)!);
        this.#emit({ kind: "probe", at: result.at, container: c.name, ok: result.ok, ms: result.ms });
        const wasReady = this.#history.get(c.name)?.ready === true;
        this.#update(c.name, (h) => absorbProbe(h, c, result));
        const h = this.#history.get(c.name)!;
        if (h.ready && !wasReady) this.#deps.logger.info({ container: c.name, probe: c.probe.kind, ms: result.ms }, "probe passed: ready");
        else if (!result.ok && wasReady) {
          this.#deps.logger.warn({ container: c.name, failures: h.consecutiveFailures, reason: result.message }, "probe failed");
        }
      }),
    );
  }

  /** Samples the persisted filesystems (at most every DISK_SAMPLE_MS) and logs each container turning full or not. */
  async #judgeDisk(): Promise<void> {
    const { disk, spec, clock, logger } = this.#deps;
    if (!disk) return;
    const now = clock.now();
    if (now - this.#diskSampledAt >= DISK_SAMPLE_MS) {
      this.#diskSampledAt = now;
      this.#diskSamples = await disk([...persistedPaths(spec).values()].flat(), now);
    }
    const before = this.#disk;
    this.#disk = diskVerdicts(spec, this.#diskSamples, this.#history);
    for (const [name, v] of this.#disk) {
      if (v.full === (before.get(name)?.full ?? false)) continue;
      const fields = { container: name, path: v.path, filesystem: v.filesystem, freeBytes: v.freeBytes, sizeBytes: v.sizeBytes };
      if (v.full) logger.error({ ...fields, reason: v.reason }, diskNote(name, v));
      else logger.info(fields, "persisted filesystem writable again: liveness restarts resume");
    }
  }

  #recordStates(p: Plan): void {
    for (const [name, state] of p.states) {
      const h = this.#history.get(name) ?? emptyHistory();
      if (h.state === state) continue;
      const log = this.#deps.logger;
      if (!isLegalTransition(h.state, state)) log.warn({ container: name, from: h.state, to: state }, "unexpected state transition");
      log.info({ container: name, from: h.state, reason: h.lastReason }, `-> ${state}`);
      this.#history.set(name, { ...h, state });
      this.#emit({ kind: "transition", at: this.#deps.clock.now(), container: name, from: h.state, to: state, ...(h.lastReason ? { reason: h.lastReason } : {}) });
    }
  }

  async #act(action: Action, signal?: AbortSignal): Promise<void> {
    const { runtime, spec, logger } = this.#deps;
    switch (action.type) {
      case "create-pod":
        logger.info({ pod: spec.name, ports: spec.ports }, "creating pod");
        return runtime.createPod(this.#podRequest);
      case "remove-pod":
        logger.info({ pod: spec.name }, "removing pod");
        await runtime.removePod(spec.name);
        return runtime.pruneSecrets(spec.name, new Set());
      case "create":
        return this.#createAndStart(action.name, signal);
      case "start":
        return this.#start(action.name, action.id);
      case "stop":
        return this.#stop(action.name, action.id, action.reason, action.timeoutS);
      case "remove":
        logger.info({ container: action.name, reason: action.reason }, "removing container");
        return runtime.removeContainer(action.id);
      case "unpause":
        logger.warn({ container: action.name }, "found paused by nobody here: unpausing");
        return runtime.unpauseContainer(action.id);
    }
  }

  /**
   * Asks Podman to stop the container (SIGTERM, then SIGKILL after its timeout) without
   * waiting for it: the loop stays responsive while a database writes its snapshot, and the
   * exit is seen by the next pass (the event stream or the request's end kick one).
   */
  #stop(name: string, id: string, reason: StopReason, timeoutS: number): void {
    const { runtime, logger, clock } = this.#deps;
    this.#update(name, (h) => markStopping(h, reason, clock.now() + timeoutS * 1000 + STOP_SLACK_MS));
    logger.info({ container: name, reason, timeoutS }, "stopping");
    runtime.stopContainer(id, timeoutS).then(
      () => this.#kick?.(),
      (err: unknown) => logger.warn({ container: name, err }, "stop request failed; will ask again"),
    );
  }

  #kick: (() => void) | undefined;
  /** Called when background work (a stop) finishes, to look again at once. */
  set onBackgroundDone(kick: () => void) {
    this.#kick = kick;
  }

  async #createAndStart(name: string, signal?: AbortSignal): Promise<void> {
    const { runtime, spec, logger } = this.#deps;
    const desired = this.#desired.get(name)!;
    let id: string;
    try {
      const progress = (line: string): void => {
        logger.info({ container: name, image: desired.request.image }, line);
        this.#deps.onProgress?.(line);
      };
      await ensureImage(desired.request.image, spec.images, runtime, progress, signal);
      if (desired.secret) await runtime.ensureSecret(...desired.secret);
      if (signal?.aborted) return;
      logger.info({ container: name, image: desired.request.image }, "creating container");
      id = await runtime.createContainer(desired.request);
    } catch (err) {
      // A build or pull cut short by the stop is no failure of the container.
      if (signal?.aborted) return;
      this.#startFailed(name, "create failed", err, (h) => h);
      return;
    }
    // Created while the stop came: left unstarted (removed with the pod).
    if (signal?.aborted) return;
    await this.#start(name, id);
  }

  #startFailed(name: string, what: string, err: unknown, adjust: (h: ContainerHistory) => ContainerHistory): void {
    const message = errorMessage(err);
    this.#update(name, (h) => markStartFailed(adjust(h), message, this.#ctx()));
    this.#deps.logger.error({ container: name, err }, what);
    this.#emit({ kind: "start-failed", at: this.#deps.clock.now(), container: name, message });
  }

  async #start(name: string, id: string): Promise<void> {
    const { runtime, logger } = this.#deps;
    try {
      logger.info({ container: name }, "starting");
      const before = this.#history.get(name);
      if (before && before.failures > 0) this.#emit({ kind: "restart", at: this.#deps.clock.now(), container: name, reason: before.lastReason ?? "unknown" });
      this.#update(name, (h) => markStartAttempt(h, this.#depInstances(name)));
      await runtime.startContainer(id);
    } catch (err) {
      this.#startFailed(name, "start failed", err, (h) => ({ ...h, running: false }));
    }
  }
}
