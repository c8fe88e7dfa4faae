// Acting on a plan: create the pod, make and start containers (pulling or building their
// image first), stop them in the background, remove and unpause them. The history records
// each attempt, so the next pass can tell a failure from a container still on its way.

import type { Desired } from "../domain/desired.js";
import type { SupervisorEvent } from "../domain/events.js";
import { markStartAttempt, markStartFailed, markStopping, STOP_SLACK_MS, type AbsorbContext, type ContainerHistory, type StopReason } from "../domain/history.js";
import type { Action } from "../domain/plan.js";
import type { PodSpec } from "../domain/spec.js";
import type { Clock } from "../lib/clock.js";
import { errorMessage } from "../lib/errors.js";
import type { Logger } from "../observability/logger.js";
import type { ContainerRuntime, CreatePrep } from "../runtime/port.js";
import type { HistoryBook } from "./history-book.js";
import { ensureImage, imageCurrent } from "../runtime/ensure-image.js";

export interface ActorDeps {
  readonly runtime: ContainerRuntime;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly book: HistoryBook;
  /** Now, the backoff policy and the jitter source, for recording a failed start. */
  readonly ctx: () => AbsorbContext;
  readonly emit: (e: SupervisorEvent) => void;
  /** A line of progress from long work (pulling, building an image). */
  readonly onProgress?: (line: string) => void;
  /** Background work (a stop) finished: look again at once. */
  readonly kick: () => void;
}

/** What the actions are for: the spec and its rendering. */
export interface Target {
  readonly spec: PodSpec;
  readonly desired: Desired;
}

/** A container's image and secret, readied (or being readied) ahead of its create. */
interface Readied {
  /** The spec hash it was readied for. */
  readonly hash: string;
  readonly signal: AbortSignal | undefined;
  /** What the create needs from the image, read once the image is there. */
  readonly done: Promise<CreatePrep>;
}

/** A readying made for this spec hash and not cut short still serves. */
const fits = (r: Readied | undefined, hash: string | undefined): boolean => r !== undefined && r.hash === hash && r.signal?.aborted !== true;

export class Actor {
  readonly #deps: ActorDeps;
  /** Readying runs one container at a time, in the order asked: two images may share a base that is still to be built. */
  #chain: Promise<void> = Promise.resolve();
  readonly #ahead = new Map<string, Readied>();
  /** Containers created ahead of their start (see createAhead): the id, or undefined when none was made. */
  readonly #created = new Map<string, { readonly hash: string; readonly id: Promise<string | undefined> }>();

  constructor(deps: ActorDeps) {
    this.#deps = deps;
  }

  /**
   * Readies the image (present and current, or pulled or built) and the secret of each named
   * container, in the background and in this order: the ones to create now first, then those
   * waiting for their dependencies. When a container's turn comes its create goes straight to
   * Podman, instead of inspecting images and making secrets on the start's critical path.
   */
  readyAhead(names: readonly string[], target: Target, imageSignal: AbortSignal | undefined): void {
    for (const name of names) {
      const hash = target.desired.hashes.get(name);
      if (hash === undefined || fits(this.#ahead.get(name), hash)) continue;
      this.#ahead.set(name, { hash, signal: imageSignal, done: this.#ready(name, target, imageSignal) });
    }
  }

  #ready(name: string, target: Target, imageSignal: AbortSignal | undefined): Promise<CreatePrep> {
    const { runtime, logger } = this.#deps;
    const desired = target.desired.containers.get(name)!;
    const progress = (line: string): void => {
      logger.info({ container: name, image: desired.request.image }, line);
      this.#deps.onProgress?.(line);
    };
    const done = this.#chain.then(async () => {
      await ensureImage(desired.request.image, target.spec.images, runtime, progress, imageSignal);
      if (desired.secret) await runtime.ensureSecret(...desired.secret);
      return runtime.prepareCreate(desired.request);
    });
    this.#chain = done.then(
      () => undefined,
      () => undefined,
    );
    // Its error is the create's: handled where the create takes it.
    done.catch(() => undefined);
    return done;
  }

  /**
   * Creates this container, not started, once `allowed` resolves true, when nothing has to be
   * made for it first (its image and bases present and current, no secret): the host check
   * calls this while it starts the pod's infra, so that its start goes straight to Podman.
   * Resolves once the create is done or left out; never rejects (a create that failed is made
   * again by its pass).
   */
  async createAhead(name: string, target: Target, allowed: Promise<boolean>): Promise<void> {
    const { runtime, logger } = this.#deps;
    const hash = target.desired.hashes.get(name);
    const desired = target.desired.containers.get(name);
    if (hash === undefined || desired === undefined || desired.secret !== undefined) return;
    const id = allowed
      .then(async (ok) => {
        if (!ok || !(await imageCurrent(desired.request.image, target.spec.images, runtime))) return undefined;
        const prep = await runtime.prepareCreate(desired.request);
        logger.info({ container: name, image: desired.request.image }, "creating container (while the pod's infra starts)");
        return await runtime.createContainer(desired.request, prep);
      })
      .catch((err: unknown) => {
        logger.warn({ container: name, err }, "creating ahead failed; the start creates it");
        return undefined;
      });
    this.#created.set(name, { hash, id });
    await id;
  }

  /** The id of the container created ahead for this spec, if one was; used once. */
  async #takeCreated(name: string, target: Target): Promise<string | undefined> {
    const early = this.#created.get(name);
    this.#created.delete(name);
    return early !== undefined && early.hash === target.desired.hashes.get(name) ? early.id : undefined;
  }

  /** The container's readying made ahead for this spec (and not cut short), or a new one; used once. */
  #take(name: string, target: Target, imageSignal: AbortSignal | undefined): Promise<CreatePrep> {
    const ahead = this.#ahead.get(name);
    this.#ahead.delete(name);
    return ahead !== undefined && fits(ahead, target.desired.hashes.get(name)) ? ahead.done : this.#ready(name, target, imageSignal);
  }

  /**
   * Takes the actions in order. An aborted signal (a stop signal, a change of mode, the pass's
   * deadline) ends the acting between actions: nothing more is created or started for a plan
   * that no longer holds. Pulls and builds listen to `imageSignal` only (default: `signal`):
   * a download may be silent for longer than a pass's deadline without being stuck.
   */
  async act(actions: readonly Action[], target: Target, signal?: AbortSignal, imageSignal: AbortSignal | undefined = signal): Promise<void> {
    for (const action of actions) {
      if (signal?.aborted) return;
      await this.#one(action, target, signal, imageSignal);
    }
  }

  async #one(action: Action, target: Target, signal: AbortSignal | undefined, imageSignal: AbortSignal | undefined): Promise<void> {
    const { runtime, logger } = this.#deps;
    const { spec } = target;
    switch (action.type) {
      case "create-pod":
        logger.info({ pod: spec.name, ports: spec.ports }, "creating pod");
        return runtime.createPod(target.desired.pod);
      case "remove-pod":
        logger.info({ pod: spec.name }, "removing pod");
        await runtime.removePod(spec.name);
        return runtime.pruneSecrets(spec.name, new Set());
      case "create":
        return this.#createAndStart(action.name, target, signal, imageSignal);
      case "start":
        // Seen created (ahead of its start, or left so by an earlier run): started as it is.
        this.#created.delete(action.name);
        return this.#start(action.name, action.id, spec);
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
    const { runtime, logger, clock, book } = this.#deps;
    book.update(name, (h) => markStopping(h, reason, clock.now() + timeoutS * 1000 + STOP_SLACK_MS));
    logger.info({ container: name, reason, timeoutS }, "stopping");
    runtime.stopContainer(id, timeoutS).then(
      () => this.#deps.kick(),
      (err: unknown) => logger.warn({ container: name, err }, "stop request failed; will ask again"),
    );
  }

  async #createAndStart(name: string, target: Target, signal: AbortSignal | undefined, imageSignal: AbortSignal | undefined): Promise<void> {
    const { runtime, logger } = this.#deps;
    const desired = target.desired.containers.get(name)!;
    const early = await this.#takeCreated(name, target);
    if (early !== undefined) {
      if (!signal?.aborted) await this.#start(name, early, target.spec);
      return;
    }
    let id: string;
    try {
      const prep = await this.#take(name, target, imageSignal);
      if (signal?.aborted) return;
      logger.info({ container: name, image: desired.request.image }, "creating container");
      id = await runtime.createContainer(desired.request, prep);
    } catch (err) {
      // A build or pull cut short by the stop is no failure of the container.
      if (signal?.aborted) return;
      this.#startFailed(name, "create failed", err, (h) => h);
      return;
    }
    // Created while the stop came: left unstarted (removed with the pod).
    if (signal?.aborted) return;
    await this.#start(name, id, target.spec);
  }

  #startFailed(name: string, what: string, err: unknown, adjust: (h: ContainerHistory) => ContainerHistory): void {
    const message = errorMessage(err);
    this.#deps.book.update(name, (h) => markStartFailed(adjust(h), message, this.#deps.ctx()));
    this.#deps.logger.error({ container: name, err }, what);
    this.#deps.emit({ kind: "start-failed", at: this.#deps.clock.now(), container: name, message });
  }

  async #start(name: string, id: string, spec: PodSpec): Promise<void> {
    const { runtime, logger, book, clock } = this.#deps;
    try {
      logger.info({ container: name }, "starting");
      const before = book.get(name);
      if (before && before.failures > 0) this.#deps.emit({ kind: "restart", at: clock.now(), container: name, reason: before.lastReason ?? "unknown" });
      const deps = spec.containers.find((c) => c.name === name)?.dependsOn.map((d) => d.name) ?? [];
      book.update(name, (h) => markStartAttempt(h, book.instancesOf(deps)));
      await runtime.startContainer(id);
    } catch (err) {
      this.#startFailed(name, "start failed", err, (h) => ({ ...h, running: false }));
    }
  }
}
