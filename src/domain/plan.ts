// plan(): the pure decision of one reconcile pass. Given the desired spec, what Podman
// shows and what the supervisor remembers, it returns the actions to take now, the state
// of every container, and when to look again.

import type { Overrides } from "./desired.js";
import { seenSince, type ContainerHistory, type StopReason } from "./history.js";
import { startOrder, stopOrder, transitiveDependentsOf } from "./graph.js";
import type { ContainerState } from "./lifecycle.js";
import type { Observed, ObservedContainer } from "./observed.js";
import { hasGivenUp, isServing } from "./serving.js";
import type { ContainerSpec, DependencyEdge, PodSpec } from "./spec.js";

export type Mode = "up" | "down";

export type Action =
  | { readonly type: "create-pod" }
  | { readonly type: "remove-pod" }
  | { readonly type: "create"; readonly name: string }
  | { readonly type: "start"; readonly name: string; readonly id: string }
  | { readonly type: "stop"; readonly name: string; readonly id: string; readonly reason: StopReason; readonly timeoutS: number }
  | { readonly type: "remove"; readonly name: string; readonly id: string; readonly reason: StopReason }
  | { readonly type: "unpause"; readonly name: string; readonly id: string };

export interface PlanInput {
  readonly spec: PodSpec;
  /** Desired spec hash per logical container name. */
  readonly hashes: ReadonlyMap<string, string>;
  /** Desired hash of the pod itself (name, ports, DNS): a pod that differs is recreated. */
  readonly podHash?: string;
  readonly observed: Observed;
  readonly history: ReadonlyMap<string, ContainerHistory>;
  readonly now: number;
  readonly mode: Mode;
  /**
   * What jobs change for a while. Held: a job (a backup pausing the container) has it; its state
   * stays as it was, nothing is done to it, and its dependents keep seeing it as it was.
   * Suspended: kept stopped (a restore swaps their data), in reverse dependency order, not started.
   * (Pins are in the hashes already: see desired.ts.)
   */
  readonly overrides?: Pick<Overrides, "held" | "suspended">;
  /**
   * Out of disk space on a persisted filesystem (domain/disk.ts): failing probes do not get it
   * restarted (a restart frees no space and loses what it holds in memory); it stays unhealthy
   * until it passes again. An exit is still restarted with backoff: it is down already.
   */
  readonly diskFull?: ReadonlySet<string>;
}

export interface Plan {
  readonly actions: readonly Action[];
  readonly states: ReadonlyMap<string, ContainerState>;
  /** Look again after this long even if nothing happens (null: only on events). */
  readonly requeueAfterMs: number | null;
  /** up: every container ready; down: pod gone. */
  readonly settled: boolean;
  /** up: every container ready except soft dependencies that have given up (domain/serving.ts); down: false. */
  readonly serving: boolean;
}

interface Decision {
  readonly state: ContainerState;
  readonly actions: readonly Action[];
  /** When this container next needs attention. */
  readonly wakeAt?: number;
}

const NOTHING: readonly Action[] = [];

/** How long an init container may run before that counts as a failure. */
export const INIT_DEADLINE_MS = 15 * 60_000;

/**
 * Whether an edge lets its dependent start. Hard: once the dependency is ready. Soft: also once
 * the dependency has given up (see serving.ts hasGivenUp): the dependent does not wait for
 * another attempt. A soft dependency on its first try, or coming back after a one-off failure,
 * is waited for (up to its start period), so the start order holds when all is well.
 */
const edgeOpen = (edge: DependencyEdge, input: PlanInput, states: ReadonlyMap<string, ContainerState>): boolean => {
  const state = states.get(edge.name);
  return state === "ready" || (edge.soft && hasGivenUp(state, input.history.get(edge.name)?.failedUnready));
};

/** A stop already requested and still within its timeout: wait for the exit, do not ask again. */
const stopPending = (o: ObservedContainer | undefined, h: ContainerHistory | undefined, now: number): number | undefined =>
  o?.running && h?.stopDeadline !== undefined && now < h.stopDeadline ? h.stopDeadline : undefined;

/** Stops a container; a paused one is thawed first (Podman refuses to stop it), and stopped next pass. */
const stop = (name: string, id: string, reason: StopReason, timeoutS: number, o?: ObservedContainer): Action =>
  o?.state === "paused" ? { type: "unpause", name, id } : { type: "stop", name, id, reason, timeoutS };

const decideUp = (
  c: ContainerSpec,
  o: ObservedContainer | undefined,
  h: ContainerHistory | undefined,
  depsReady: boolean,
  input: PlanInput,
): Decision => {
  const { now } = input;
  const pending = stopPending(o, h, now);
  if (pending !== undefined) return { state: "stopping", actions: NOTHING, wakeAt: pending };
  if (o?.state === "paused") {
    // Frozen, and no job holds it (a backup cut off by a crash, or someone ran podman pause): thaw it.
    return { state: h?.state ?? "starting", actions: [{ type: "unpause", name: c.name, id: o.id }] };
  }
  if (o && o.specHash !== input.hashes.get(c.name)) {
    // Replace: stop it first (gracefully, without blocking the loop), remove it once it is down.
    const action = o.running ? stop(c.name, o.id, "spec-changed", c.stopTimeoutS) : ({ type: "remove", name: c.name, id: o.id, reason: "spec-changed" } as const);
    return { state: "stopping", actions: [action] };
  }
  if (c.init && o && !o.running && o.exitCode === 0 && o.startedAt !== null) {
    return { state: "ready", actions: NOTHING }; // ran to completion
  }
  if (!o?.running) {
    if (h?.nextAttemptAt !== undefined && h.nextAttemptAt > now) {
      return { state: "backing-off", actions: NOTHING, wakeAt: h.nextAttemptAt };
    }
    if (!depsReady) return { state: o ? "stopped" : "pending", actions: NOTHING };
    if (!o) return { state: "creating", actions: [{ type: "create", name: c.name }] };
    return { state: "starting", actions: [{ type: "start", name: c.name, id: o.id }] };
  }
  // A `restart: true` edge: the dependency came back as a new instance and is ready again.
  const restartFor = c.dependsOn.find((d) => {
    if (!d.restart || !depsReady) return false;
    const was = h?.startedWith?.[d.name];
    const now = input.history.get(d.name)?.instance;
    return was !== undefined && now !== undefined && was !== now;
  });
  if (restartFor) {
    return { state: "stopping", actions: [stop(c.name, o.id, "dependency-restarted", c.stopTimeoutS)] };
  }
  if (c.init) {
    // Running to completion: wait for the exit, within its start period.
    const deadline = seenSince(h, now) + INIT_DEADLINE_MS;
    if (now >= deadline) return { state: "failed", actions: [stop(c.name, o.id, "start-timeout", c.stopTimeoutS)] };
    return { state: "starting", actions: NOTHING, wakeAt: deadline };
  }
  const probe = c.probe;
  // Probes run on their own schedule (supervisor/probe-scheduler.ts) and ask for a pass when a
  // verdict changes: a probe time is no reason to look again.
  if (h?.ready) {
    if (probe && h.consecutiveFailures >= probe.retries) {
      // Out of disk space: stay up (see PlanInput.diskFull); the disk is judged again at the next probe's time.
      if (input.diskFull?.has(c.name)) return { state: "unhealthy", actions: NOTHING, ...(h.nextProbeAt !== undefined ? { wakeAt: h.nextProbeAt } : {}) };
      return { state: "unhealthy", actions: [stop(c.name, o.id, "unhealthy", c.stopTimeoutS)] };
    }
    return { state: "ready", actions: NOTHING };
  }
  if (!probe) return { state: "starting", actions: NOTHING }; // ready once the pass has seen it run
  const deadline = seenSince(h, now) + probe.startPeriodMs;
  if (now >= deadline) return { state: "failed", actions: [stop(c.name, o.id, "start-timeout", c.stopTimeoutS)] };
  return { state: "starting", actions: NOTHING, wakeAt: deadline };
};

/** Any container that depends on `name` and is still running. */
const dependentRunning = (name: string, input: PlanInput): boolean =>
  input.spec.containers.some((x) => x.dependsOn.some((d) => d.name === name) && input.observed.containers.get(x.name)?.running === true);

/** A suspended container stops once the suspended containers that depend on it (through others too) have stopped, and stays down. */
const decideSuspended = (c: ContainerSpec, input: PlanInput): Decision => {
  const o = input.observed.containers.get(c.name);
  if (!o?.running) return { state: "stopped", actions: NOTHING };
  const pending = stopPending(o, input.history.get(c.name), input.now);
  if (pending !== undefined) return { state: "stopping", actions: NOTHING, wakeAt: pending };
  const later = transitiveDependentsOf(input.spec.containers, c.name);
  const waiting = [...later].some((n) => input.overrides?.suspended.has(n) && input.observed.containers.get(n)?.running === true);
  if (waiting) return { state: "stopping", actions: NOTHING };
  return { state: "stopping", actions: [stop(c.name, o.id, "suspended", c.stopTimeoutS, o)] };
};

const planUp = (input: PlanInput): Plan => {
  const { spec, observed } = input;
  if (observed.pod && input.podHash !== undefined && observed.pod.specHash !== input.podHash) {
    // Ports or DNS changed: a pod cannot be edited, so take it down in order and make it anew.
    return { ...planDown(input, "pod-changed"), settled: false, serving: false };
  }
  if (!observed.pod) {
    const states = new Map(spec.containers.map((c) => [c.name, "pending" as ContainerState]));
    return { actions: [{ type: "create-pod" }], states, requeueAfterMs: 0, settled: false, serving: false };
  }
  const byName = new Map(spec.containers.map((c) => [c.name, c]));
  const actions: Action[] = [];
  const states = new Map<string, ContainerState>();
  let wakeAt = Number.POSITIVE_INFINITY;
  // Containers podwarden manages in this pod but the spec no longer has.
  for (const o of observed.containers.values()) {
    if (byName.has(o.name) || stopPending(o, input.history.get(o.name), input.now) !== undefined) continue;
    actions.push(o.running ? stop(o.name, o.id, "orphan", 10, o) : { type: "remove", name: o.name, id: o.id, reason: "orphan" });
  }
  for (const name of startOrder(spec.containers)) {
    const c = byName.get(name)!;
    if (input.overrides?.held.has(name)) {
      states.set(name, input.history.get(name)?.state ?? "pending");
      continue;
    }
    if (input.overrides?.suspended.has(name)) {
      const d = decideSuspended(c, input);
      states.set(name, d.state);
      actions.push(...d.actions);
      if (d.wakeAt !== undefined) wakeAt = Math.min(wakeAt, d.wakeAt);
      continue;
    }
    // Dependencies come first in start order, so their decision for this pass is known:
    // one that is being stopped or replaced right now does not count as ready.
    const depsReady = c.dependsOn.every((d) => edgeOpen(d, input, states));
    const d = decideUp(c, observed.containers.get(name), input.history.get(name), depsReady, input);
    states.set(name, d.state);
    actions.push(...d.actions);
    if (d.wakeAt !== undefined) wakeAt = Math.min(wakeAt, d.wakeAt);
  }
  const settled = [...states.values()].every((s) => s === "ready");
  const serving = isServing(
    spec.containers,
    (n) => states.get(n) === "ready",
    (n) => hasGivenUp(states.get(n), input.history.get(n)?.failedUnready),
  );
  const requeueAfterMs =
    actions.length > 0 ? 0 : Number.isFinite(wakeAt) ? Math.max(0, wakeAt - input.now) : null;
  return { actions, states, requeueAfterMs, settled, serving };
};

const planDown = (input: PlanInput, reason: StopReason = "shutdown"): Plan => {
  const { spec, observed, history, now } = input;
  const states = new Map<string, ContainerState>();
  if (!observed.pod) {
    for (const c of spec.containers) states.set(c.name, "stopped");
    return { actions: NOTHING, states, requeueAfterMs: null, settled: true, serving: false };
  }
  const actions: Action[] = [];
  let wakeAt = Number.POSITIVE_INFINITY;
  // Reverse dependency order: a container stops only once everything that depends on it has.
  for (const name of stopOrder(spec.containers)) {
    const c = spec.containers.find((x) => x.name === name)!;
    const o = observed.containers.get(name);
    if (!o?.running) {
      states.set(name, "stopped");
      continue;
    }
    states.set(name, "stopping");
    const pending = stopPending(o, history.get(name), now);
    if (pending !== undefined) {
      wakeAt = Math.min(wakeAt, pending);
      continue;
    }
    if (!dependentRunning(name, input)) actions.push(stop(name, o.id, reason, c.stopTimeoutS, o));
  }
  const known = new Set(spec.containers.map((c) => c.name));
  for (const o of observed.containers.values()) {
    if (known.has(o.name) || !o.running) continue;
    const pending = stopPending(o, history.get(o.name), now);
    if (pending !== undefined) wakeAt = Math.min(wakeAt, pending);
    else actions.push(stop(o.name, o.id, reason, 10, o));
  }
  const anyRunning = [...observed.containers.values()].some((o) => o.running);
  if (actions.length === 0 && !anyRunning) actions.push({ type: "remove-pod" });
  // Stops run in the background: look again when one is due to have finished (events come sooner).
  const requeueAfterMs = actions.length > 0 ? 0 : Math.max(0, wakeAt - now);
  return { actions, states, requeueAfterMs, settled: false, serving: false };
};

export const plan = (input: PlanInput): Plan => (input.mode === "up" ? planUp(input) : planDown(input));
