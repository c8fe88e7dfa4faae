// Image updates with rollback. For a container with an update policy: get the candidate
// image (registry: pull the tag; local: rebuild from the Containerfile), and when its id
// differs from the running one, pin the container to it (the supervisor recreates it, and its
// `restart: true` dependents, in order), require it to become ready and stay ready for the
// window, else pin it back to the previous image id, which a tag keeps from being pruned.
// Persisted data is bind-mounted and never touched.

import { startOrder } from "../domain/graph.js";
import type { ContainerSpec } from "../domain/spec.js";
import type { Clock } from "../lib/clock.js";
import { PodwardenError, UsageError, errorMessage } from "../lib/errors.js";
import type { Logger } from "../observability/logger.js";
import type { ImageClient, Progress } from "../runtime/port.js";
import type { Snapshot } from "../domain/snapshot.js";
import { ensureImage, imageOutdated } from "../runtime/ensure-image.js";
import type { PodControl } from "./pod-control.js";
import type { UpdateRecord } from "../domain/jobs.js";
import type { StateStore } from "./state.js";

/** Where the image a container ran before its last update is tagged, so that pruning keeps it. */
export const PREVIOUS_REPO = "localhost/podwarden-previous";

export interface UpdateCheck {
  readonly container: string;
  readonly policy: "registry" | "local";
  readonly current: string | null;
  /** registry: the tag's image id after a pull; local: the tag's id, and whether a rebuild is due. */
  readonly candidate: string | null;
  readonly rebuildDue: boolean;
  readonly available: boolean;
}

export interface UpdateOutcome extends UpdateRecord {
  readonly container: string;
}

export interface UpdateDeps {
  readonly pod: PodControl;
  readonly runtime: ImageClient;
  readonly state: StateStore;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly progress?: Progress;
  /** Counted in /metrics. */
  readonly onOutcome?: (o: UpdateOutcome) => void;
}

const FAILING = new Set(["failed", "backing-off", "unhealthy"]);

export class Updates {
  readonly #d: UpdateDeps;

  constructor(deps: UpdateDeps) {
    this.#d = deps;
  }

  /** The containers an update run looks at: `only`, or every one with an update policy, in start order. */
  targets(only?: string): ContainerSpec[] {
    const spec = this.#d.pod.spec();
    if (only !== undefined) {
      const c = spec.containers.find((x) => x.name === only);
      if (!c) throw new UsageError(`no container ${JSON.stringify(only)} in pod ${spec.name} (containers: ${spec.containers.map((x) => x.name).join(", ")})`);
      if (!c.update) throw new UsageError(`containers.${only}.update is not set (policy registry or local) in ${spec.source}: nothing to update from`);
      return [c];
    }
    return startOrder(spec.containers).map((n) => spec.containers.find((c) => c.name === n)!).filter((c) => c.update !== undefined);
  }

  /** What an update would do, without changing anything but the local image cache (a registry pull). */
  async check(only?: string): Promise<UpdateCheck[]> {
    const { runtime, pod } = this.#d;
    const out: UpdateCheck[] = [];
    for (const c of this.targets(only)) {
      const policy = c.update!.policy;
      const current = pod.snapshot().containers[c.name]?.imageId ?? null;
      if (policy === "registry") await runtime.pullImage(c.image, this.#progress(c.name));
      const rebuildDue = policy === "local" && (await imageOutdated(c.image, pod.spec().images, runtime));
      const candidate = (await runtime.imageId(c.image)) ?? null;
      out.push({ container: c.name, policy, current, candidate, rebuildDue, available: rebuildDue || (candidate !== null && candidate !== current) });
    }
    return out;
  }

  /** Updates every target in start order; one that rolls back does not stop the others. */
  async run(only: string | undefined, signal: AbortSignal): Promise<UpdateOutcome[]> {
    const out: UpdateOutcome[] = [];
    for (const c of this.targets(only)) {
      if (signal.aborted) break;
      const started = this.#d.clock.now();
      let o: UpdateOutcome;
      try {
        o = await this.#updateOne(c, started, signal);
      } catch (err) {
        o = this.#outcome(c.name, started, "failed", null, null, errorMessage(err));
      }
      await this.#d.state.update((s) => ({ ...s, updates: { ...s.updates, [c.name]: o } }));
      this.#d.onOutcome?.(o);
      this.#d.logger[o.result === "failed" || o.result === "rolled-back" ? "warn" : "info"]({ container: c.name, result: o.result, from: o.from, to: o.to, ms: o.ms }, o.message);
      out.push(o);
    }
    return out;
  }

  #progress(name: string): Progress {
    return (line) => {
      this.#d.logger.info({ container: name }, line);
      this.#d.progress?.(line);
    };
  }

  #outcome(container: string, started: number, result: UpdateRecord["result"], from: string | null, to: string | null, message: string): UpdateOutcome {
    const now = this.#d.clock.now();
    return { container, at: new Date(now).toISOString(), result, from, to, message, ms: now - started };
  }

  async #updateOne(c: ContainerSpec, started: number, signal: AbortSignal): Promise<UpdateOutcome> {
    const { pod, runtime, state } = this.#d;
    const before = pod.snapshot().containers[c.name];
    if (!before?.ready || !before.imageId) throw new PodwardenError("E_NOT_READY", `${c.name} is not ready: an update starts from a ready container`);
    const current = before.imageId;
    if (c.update!.policy === "registry") await runtime.pullImage(c.image, this.#progress(c.name), signal);
    else await ensureImage(c.image, pod.spec().images, runtime, this.#progress(c.name), signal);
    const candidate = await runtime.imageId(c.image);
    if (!candidate) throw new PodwardenError("E_UPDATE", `${c.image}: no image after the ${c.update!.policy === "registry" ? "pull" : "build"}`);
    if (candidate === current) return this.#outcome(c.name, started, "up-to-date", current, candidate, `${c.name} already runs ${c.image} (${short(current)})`);
    if (state.state.rejected[c.name] === candidate) {
      return this.#outcome(c.name, started, "skipped", current, candidate, `${short(candidate)} was rolled back before: waiting for a newer ${c.image}`);
    }
    // Keep the way back: a tag on the previous image, and its id in the state file.
    const [repo, tag] = [PREVIOUS_REPO, `${pod.spec().name}-${c.name}`];
    await runtime.tagImage(current, repo, tag);
    await state.update((s) => ({ ...s, previous: { ...s.previous, [c.name]: current } }));
    await this.#pin(c, candidate);
    const budget = c.stopTimeoutS * 1000 + (c.probe?.startPeriodMs ?? 0) + 30_000;
    try {
      await pod.waitFor(`${c.name} ready on ${short(candidate)}`, readyOn(c.name, candidate), budget, signal);
      await staysReady(pod, c.name, c.update!.windowMs, signal);
    } catch (err) {
      if (signal.aborted) throw err;
      this.#d.logger.warn({ container: c.name, image: short(candidate), err }, "update failed: rolling back");
      await this.#pin(c, current);
      await state.update((s) => ({ ...s, rejected: { ...s.rejected, [c.name]: candidate } }));
      await pod.waitFor(`${c.name} ready again on ${short(current)}`, readyOn(c.name, current), budget, signal);
      return this.#outcome(c.name, started, "rolled-back", current, candidate, `${short(candidate)} failed (${errorMessage(err)}); back on ${short(current)}`);
    }
    return this.#outcome(c.name, started, "updated", current, candidate, `${c.name} runs ${short(candidate)}, ready for ${Math.round(c.update!.windowMs / 1000)} s`);
  }

  async #pin(c: ContainerSpec, image: string): Promise<void> {
    const pin = { ref: c.image, image };
    this.#d.pod.pinImage(c.name, pin);
    await this.#d.state.update((s) => ({ ...s, pins: { ...s.pins, [c.name]: pin } }));
  }
}

const short = (id: string): string => id.replace(/^sha256:/, "").slice(0, 12);

/** Ready on `image`; an Error once that instance is failing (no point waiting out the budget). */
const readyOn = (name: string, image: string) => (s: Snapshot): boolean | Error => {
  const x = s.containers[name];
  if (!x || x.imageId !== image) return false;
  if (x.ready) return true;
  return FAILING.has(x.state) ? new PodwardenError("E_UPDATE", `${name} is ${x.state}${x.lastReason ? ` (${x.lastReason})` : ""}`) : false;
};

/** Resolves when `name` stayed ready (same instance) for `ms`; rejects as soon as it does not. */
const staysReady = async (pod: PodControl, name: string, ms: number, signal: AbortSignal): Promise<void> => {
  const first = pod.snapshot().containers[name];
  const broken = (s: Snapshot): boolean | Error => {
    const x = s.containers[name];
    if (!x?.ready) return new PodwardenError("E_UPDATE", `${name} stopped being ready within the window (${x?.state ?? "gone"})`);
    if (x.id !== first?.id || x.restarts !== first?.restarts) return new PodwardenError("E_UPDATE", `${name} restarted within the window`);
    return false;
  };
  try {
    await pod.waitFor(`${name} ready for the window`, broken, ms, signal);
  } catch (err) {
    if (err instanceof PodwardenError && err.code === "E_TIMEOUT") return; // the whole window passed
    throw err;
  }
};
