import { describe, expect, it } from "vitest";
import { emptyHistory, type ContainerHistory } from "../../../src/domain/history.js";
import type { ObservedContainer } from "../../../src/domain/observed.js";
import { plan, type PlanInput } from "../../../src/domain/plan.js";
import { chainSpec, container } from "../../support/pod-spec.js";

const NOW = Date.parse("2026-01-01T00:10:00Z");
const spec = chainSpec({ containers: [container("db"), container("app", ["db"])] });
const hashes = new Map([
  ["db", "h-db"],
  ["app", "h-app"],
]);
const pod = { id: "p1", name: "testpod", state: "Running", managed: true, specHash: "h-pod" };

const obs = (name: string, over: Partial<ObservedContainer> = {}): ObservedContainer => ({
  id: `id-${name}`,
  name,
  podmanName: `testpod-${name}`,
  specHash: `h-${name}`,
  state: "running",
  running: true,
  exitCode: null,
  startedAt: NOW - 5_000,
  finishedAt: null,
  oomKilled: false,
  health: "none",
  image: "img",
  imageId: "sha",
  ...over,
});

/** A running instance this supervisor saw start (seenAt = startedAt unless given). */
const hist = (over: Partial<ContainerHistory> = {}): ContainerHistory => {
  const startedAt = over.startedAt ?? NOW - 5_000;
  return { ...emptyHistory(), running: true, startedAt, seenAt: startedAt, ...over };
};
const readyHist = (over: Partial<ContainerHistory> = {}) => hist({ ready: true, readyAt: NOW - 4_000, nextProbeAt: NOW + 6_000, ...over });

const input = (observed: ObservedContainer[], history: [string, ContainerHistory][], over: Partial<PlanInput> = {}): PlanInput => ({
  spec,
  hashes,
  podHash: "h-pod",
  observed: { pod, containers: new Map(observed.map((o) => [o.name, o])) },
  history: new Map(history),
  now: NOW,
  mode: "up",
  ...over,
});

describe("plan (up)", () => {
  const cases: { name: string; input: PlanInput; actions: string[]; states: Record<string, string>; requeue?: number | null }[] = [
    {
      name: "no pod: create it first",
      input: { ...input([], []), observed: { pod: null, containers: new Map() } },
      actions: ["create-pod"],
      states: { db: "pending", app: "pending" },
      requeue: 0,
    },
    {
      name: "empty pod: create the root, hold the dependent",
      input: input([], []),
      actions: ["create db"],
      states: { db: "creating", app: "pending" },
      requeue: 0,
    },
    {
      // Probes run on their own schedule and kick a pass when the verdict changes: the plan only wakes at the start deadline.
      name: "dependency running but not yet ready: wait for its probe's verdict, look again at its start deadline",
      input: input([obs("db")], [["db", hist({ nextProbeAt: NOW + 200 })]]),
      actions: [],
      states: { db: "starting", app: "pending" },
      requeue: 55_000,
    },
    {
      name: "dependency ready: create the dependent",
      input: input([obs("db")], [["db", readyHist()]]),
      actions: ["create app"],
      states: { db: "ready", app: "creating" },
    },
    {
      name: "everything ready: nothing to do until something happens (the next probe is not the plan's business)",
      input: input([obs("db"), obs("app")], [["db", readyHist()], ["app", readyHist({ nextProbeAt: NOW + 3_000 })]]),
      actions: [],
      states: { db: "ready", app: "ready" },
      requeue: null,
    },
    {
      name: "spec hash differs on a running container: stop it first",
      input: input([obs("db", { specHash: "old" })], [["db", readyHist()]]),
      actions: ["stop db spec-changed"],
      states: { db: "stopping", app: "pending" },
    },
    {
      name: "spec hash differs on a stopped container: remove it (it is created anew next)",
      input: input([obs("db", { specHash: "old", running: false, state: "exited" })], [["db", hist({ running: false })]]),
      actions: ["remove db spec-changed"],
      states: { db: "stopping", app: "pending" },
    },
    {
      name: "a stop already requested: wait for the exit until its deadline, ask nothing again",
      input: input([obs("db", { specHash: "old" })], [["db", readyHist({ stopReason: "spec-changed", stopDeadline: NOW + 12_000 })]]),
      actions: [],
      states: { db: "stopping", app: "pending" },
      requeue: 12_000,
    },
    {
      name: "a stop past its deadline is requested again",
      input: input([obs("db")], [["db", readyHist({ stopReason: "unhealthy", stopDeadline: NOW - 1, consecutiveFailures: 3 })]]),
      actions: ["stop db unhealthy"],
      states: { db: "unhealthy", app: "pending" },
    },
    {
      name: "exited container inside its backoff: wait",
      input: input([obs("db", { running: false, state: "exited", exitCode: 1 })], [["db", hist({ running: false, nextAttemptAt: NOW + 4_000 })]]),
      actions: [],
      states: { db: "backing-off", app: "pending" },
      requeue: 4_000,
    },
    {
      name: "exited container past its backoff: start it",
      input: input([obs("db", { running: false, state: "exited" })], [["db", hist({ running: false, nextAttemptAt: NOW - 1 })]]),
      actions: ["start db"],
      states: { db: "starting", app: "pending" },
    },
    {
      name: "stopped dependent while its dependency is not ready: stays stopped",
      input: input([obs("db", { running: false, state: "exited" }), obs("app", { running: false, state: "exited" })], [["db", hist({ running: false, nextAttemptAt: NOW + 1_000 })]]),
      actions: [],
      states: { db: "backing-off", app: "stopped" },
    },
    {
      name: "starting past its start period: a failure",
      input: input([obs("db", { startedAt: NOW - 61_000 })], [["db", hist({ startedAt: NOW - 61_000, nextProbeAt: NOW })]]),
      actions: ["stop db start-timeout"],
      states: { db: "failed", app: "pending" },
    },
    {
      name: "adopted an hour after its start, not yet probed: starting, judged a start period after it was first seen",
      input: input([obs("db", { startedAt: NOW - 3_600_000 })], [["db", hist({ startedAt: NOW - 3_600_000, seenAt: NOW - 1_000, nextProbeAt: NOW })]]),
      actions: [],
      states: { db: "starting", app: "pending" },
    },
    {
      name: "adopted, its probe still failing a start period after it was first seen: a failure",
      input: input([obs("db", { startedAt: NOW - 3_600_000 })], [["db", hist({ startedAt: NOW - 3_600_000, seenAt: NOW - 61_000, nextProbeAt: NOW })]]),
      actions: ["stop db start-timeout"],
      states: { db: "failed", app: "pending" },
    },
    {
      name: "ready container failing `retries` probes in a row: unhealthy, stopped",
      input: input([obs("db")], [["db", readyHist({ consecutiveFailures: 3 })]]),
      actions: ["stop db unhealthy"],
      states: { db: "unhealthy", app: "pending" },
    },
    {
      name: "out of disk space and failing `retries` probes: unhealthy, NOT stopped (a restart frees no space and loses its memory); look again at the next probe",
      input: input([obs("db")], [["db", readyHist({ consecutiveFailures: 3 })]], { diskFull: new Set(["db"]) }),
      actions: [],
      states: { db: "unhealthy", app: "pending" },
      requeue: 6_000,
    },
    {
      name: "out of disk space, probes still passing: ready, nothing to do",
      input: input([obs("db")], [["db", readyHist()]], { diskFull: new Set(["db"]) }),
      actions: ["create app"],
      states: { db: "ready", app: "creating" },
    },
    {
      name: "out of disk space, passing again (space freed): ready, its dependent starts",
      input: input([obs("db")], [["db", readyHist({ state: "unhealthy", consecutiveFailures: 0 })]], { diskFull: new Set(["db"]) }),
      actions: ["create app"],
      states: { db: "ready", app: "creating" },
    },
    {
      name: "another container's disk is full: this unhealthy one is still stopped",
      input: input([obs("db"), obs("app")], [["db", readyHist({ consecutiveFailures: 3 })], ["app", readyHist()]], { diskFull: new Set(["app"]) }),
      actions: ["stop db unhealthy"],
      states: { db: "unhealthy", app: "ready" },
    },
    {
      name: "out of disk space and exited: restarted (it is down already)",
      input: input([obs("db", { running: false, state: "exited", exitCode: 1 })], [["db", hist({ running: false, failures: 1, nextAttemptAt: NOW - 1 })]], { diskFull: new Set(["db"]) }),
      actions: ["start db"],
      states: { db: "starting", app: "pending" },
    },
    {
      name: "out of disk space and exited, within its backoff: backing off",
      input: input([obs("db", { running: false, state: "exited", exitCode: 1 })], [["db", hist({ running: false, failures: 1, nextAttemptAt: NOW + 2_000 })]], { diskFull: new Set(["db"]) }),
      actions: [],
      states: { db: "backing-off", app: "pending" },
      requeue: 2_000,
    },
    {
      name: "out of disk space, starting past its start period: still a failure (it never held anything)",
      input: input([obs("db", { startedAt: NOW - 61_000 })], [["db", hist({ startedAt: NOW - 61_000, nextProbeAt: NOW })]], { diskFull: new Set(["db"]) }),
      actions: ["stop db start-timeout"],
      states: { db: "failed", app: "pending" },
    },
    {
      name: "one failed probe is not yet unhealthy",
      input: input([obs("db")], [["db", readyHist({ consecutiveFailures: 1 })]]),
      actions: ["create app"],
      states: { db: "ready", app: "creating" },
    },
    {
      name: "a managed container the spec no longer has is removed",
      input: input([obs("db"), obs("app"), obs("old", { specHash: "x" })], [["db", readyHist()], ["app", readyHist()]]),
      actions: ["stop old orphan"],
      states: { db: "ready", app: "ready" },
    },
    {
      name: "held (paused by a backup): no action and its state stays, even though Podman shows it not running",
      input: input([obs("db", { running: false, state: "paused" }), obs("app")], [["db", readyHist({ state: "ready" })], ["app", readyHist()]], { overrides: { held: new Set(["db"]), suspended: new Set() } }),
      actions: [],
      states: { db: "ready", app: "ready" },
    },
    {
      name: "suspended (a restore): the dependent stops first, in reverse order",
      input: input([obs("db"), obs("app")], [["db", readyHist()], ["app", readyHist()]], { overrides: { held: new Set(), suspended: new Set(["db", "app"]) } }),
      actions: ["stop app suspended"],
      states: { db: "stopping", app: "stopping" },
    },
    {
      name: "suspended: once the dependent is down, the dependency stops",
      input: input([obs("db"), obs("app", { running: false, state: "exited", exitCode: 0 })], [["db", readyHist()], ["app", hist({ running: false })]], { overrides: { held: new Set(), suspended: new Set(["db", "app"]) } }),
      actions: ["stop db suspended"],
      states: { db: "stopping", app: "stopped" },
    },
    {
      name: "suspended containers stay down; a dependent that is not suspended waits for them",
      input: input([obs("db", { running: false, state: "exited", exitCode: 0 })], [["db", hist({ running: false })]], { overrides: { held: new Set(), suspended: new Set(["db"]) } }),
      actions: [],
      states: { db: "stopped", app: "pending" },
    },
  ];

  it.each(cases)("$name", ({ input: i, actions, states, requeue }) => {
    const p = plan(i);
    expect(p.actions.map((a) => [a.type, "name" in a ? a.name : undefined, "reason" in a ? a.reason : undefined].filter(Boolean).join(" "))).toEqual(actions);
    expect(Object.fromEntries(p.states)).toEqual(states);
    if (requeue !== undefined) expect(p.requeueAfterMs).toBe(requeue);
  });

  it("is settled only when every container is ready", () => {
    expect(plan(input([obs("db"), obs("app")], [["db", readyHist()], ["app", readyHist()]])).settled).toBe(true);
    expect(plan(input([obs("db"), obs("app")], [["db", readyHist()], ["app", hist()]])).settled).toBe(false);
  });
});

describe("plan (down)", () => {
  it("stops dependents before their dependencies", () => {
    const p = plan(input([obs("db"), obs("app")], [], { mode: "down" }));
    expect(p.actions).toEqual([{ type: "stop", name: "app", id: "id-app", reason: "shutdown", timeoutS: 10 }]);
  });

  it("stops the dependency once its dependents are down", () => {
    const p = plan(input([obs("db"), obs("app", { running: false, state: "exited" })], [], { mode: "down" }));
    expect(p.actions.map((a) => a.type + ("name" in a ? ` ${a.name}` : ""))).toEqual(["stop db"]);
  });

  it("waits for a requested stop instead of asking again, then moves on", () => {
    const pending = plan(input([obs("db"), obs("app")], [["app", hist({ stopReason: "shutdown", stopDeadline: NOW + 9_000 })]], { mode: "down" }));
    expect(pending.actions).toEqual([]);
    expect(pending.requeueAfterMs).toBe(9_000);
  });

  it("removes the pod when nothing runs, and is settled once it is gone", () => {
    expect(plan(input([obs("db", { running: false })], [], { mode: "down" })).actions).toEqual([{ type: "remove-pod" }]);
    const gone = plan({ ...input([], [], { mode: "down" }), observed: { pod: null, containers: new Map() } });
    expect(gone.settled).toBe(true);
    expect(gone.actions).toEqual([]);
  });
});

describe("plan: suspended containers with one not suspended between them", () => {
  // db <- mid <- app; a restore suspends db and app (mid has no data).
  const three = chainSpec({ containers: [container("db"), container("mid", ["db"]), container("app", ["mid"])] });
  const base = (observed: ObservedContainer[]): PlanInput => ({
    ...input(observed, [["db", readyHist()], ["mid", readyHist()], ["app", readyHist()]], { overrides: { held: new Set(), suspended: new Set(["db", "app"]) } }),
    spec: three,
    hashes: new Map([["db", "h-db"], ["mid", "h-mid"], ["app", "h-app"]]),
  });
  const names = (i: PlanInput) => plan(i).actions.map((a) => ("name" in a ? `${a.type} ${a.name}` : a.type));

  it("app (which depends on db through mid) stops before db; mid keeps running", () => {
    expect(names(base([obs("db"), obs("mid"), obs("app")]))).toEqual(["stop app"]);
    expect(names(base([obs("db"), obs("mid"), obs("app", { running: false, state: "exited" })]))).toEqual(["stop db"]);
  });
});

describe("plan: a paused container nobody holds", () => {
  const paused = obs("db", { state: "paused" });
  it("is thawed when the pod should be up, keeping its state", () => {
    const p = plan(input([paused, obs("app")], [["db", readyHist({ state: "ready" })], ["app", readyHist()]]));
    expect(p.actions).toEqual([{ type: "unpause", name: "db", id: "id-db" }]);
    expect(p.states.get("db")).toBe("ready");
  });
  it("is thawed before it is stopped (Podman refuses to stop a paused container)", () => {
    const p = plan(input([paused], [["db", readyHist()]], { mode: "down" }));
    expect(p.actions).toEqual([{ type: "unpause", name: "db", id: "id-db" }]);
  });
});

describe("plan: a soft dependency (app -> db, soft)", () => {
  const softSpec = chainSpec({ containers: [container("db"), container("app", [], { dependsOn: [{ name: "db", restart: false, soft: true }] })] });
  const hardSpec = spec;
  const exited = (over: Partial<ObservedContainer> = {}) => obs("db", { running: false, state: "exited", exitCode: 1, ...over });
  /** It exited during start-up (never ready): a crash loop at start, like the Agent without its key. */
  const failedOnce = { lastReason: "exited (code 1)", failures: 1, lastExitCode: 1, failedUnready: true };
  /** It crashed once it had been ready (or was removed with the pod): a one-off failure. */
  const crashedOnceReady = { lastReason: "removed", failures: 2, lastExitCode: null, failedUnready: false };
  const at = (s: typeof spec, observed: ObservedContainer[], history: [string, ContainerHistory][]): PlanInput => ({ ...input(observed, history), spec: s });

  const cases: { name: string; input: PlanInput; actions: string[]; states: Record<string, string>; serving: boolean }[] = [
    {
      name: "empty pod: the soft dependency is created first, the dependent waits (order kept)",
      input: at(softSpec, [], []),
      actions: ["create db"],
      states: { db: "creating", app: "pending" },
      serving: false,
    },
    {
      name: "soft dependency starting within its start period: the dependent waits for it",
      input: at(softSpec, [obs("db", { startedAt: NOW - 30_000 })], [["db", hist({ startedAt: NOW - 30_000, nextProbeAt: NOW + 200 })]]),
      actions: [],
      states: { db: "starting", app: "pending" },
      serving: false,
    },
    {
      name: "soft dependency ready: the dependent is created, as with a hard edge",
      input: at(softSpec, [obs("db")], [["db", readyHist()]]),
      actions: ["create app"],
      states: { db: "ready", app: "creating" },
      serving: false,
    },
    {
      name: "soft dependency past its start period: it is stopped as failed and the dependent created in the same pass",
      input: at(softSpec, [obs("db", { startedAt: NOW - 61_000 })], [["db", hist({ startedAt: NOW - 61_000, nextProbeAt: NOW })]]),
      actions: ["stop db start-timeout", "create app"],
      states: { db: "failed", app: "creating" },
      serving: false,
    },
    {
      name: "soft dependency crashed at once and backs off: the dependent is created without waiting",
      input: at(softSpec, [exited()], [["db", hist({ running: false, nextAttemptAt: NOW + 4_000, ...failedOnce })]]),
      actions: ["create app"],
      states: { db: "backing-off", app: "creating" },
      serving: false,
    },
    {
      name: "soft dependency failing to come up, on another try: the dependent does not wait for that attempt",
      input: at(softSpec, [obs("db", { startedAt: NOW - 1_000 })], [["db", hist({ startedAt: NOW - 1_000, nextProbeAt: NOW + 100, restarts: 1, ...failedOnce })]]),
      actions: ["create app"],
      states: { db: "starting", app: "creating" },
      serving: false,
    },
    {
      name: "soft dependency starting again after a one-off failure once ready (e.g. the pod removed by hand): waited for",
      input: at(softSpec, [obs("db", { startedAt: NOW - 1_000 })], [["db", hist({ startedAt: NOW - 1_000, nextProbeAt: NOW + 100, restarts: 1, ...crashedOnceReady })]]),
      actions: [],
      states: { db: "starting", app: "pending" },
      serving: false,
    },
    {
      name: "soft dependency backing off after a one-off failure once ready (the pod removed by hand): the dependent waits",
      input: at(softSpec, [], [["db", hist({ running: false, nextAttemptAt: NOW + 1_000, ...crashedOnceReady })]]),
      actions: [],
      states: { db: "backing-off", app: "pending" },
      serving: false,
    },
    {
      name: "soft dependency failing to come up, backing off with no container left: the dependent does not wait",
      input: at(softSpec, [], [["db", hist({ running: false, nextAttemptAt: NOW + 4_000, ...failedOnce })]]),
      actions: ["create app"],
      states: { db: "backing-off", app: "creating" },
      serving: false,
    },
    {
      name: "soft dependency unhealthy: it is restarted, the stopped dependent starts",
      input: at(softSpec, [obs("db"), obs("app", { running: false, state: "exited", exitCode: 0 })], [["db", readyHist({ consecutiveFailures: 3 })], ["app", hist({ running: false })]]),
      actions: ["stop db unhealthy", "start app"],
      states: { db: "unhealthy", app: "starting" },
      serving: false,
    },
    {
      name: "dependent ready while the soft dependency crash-loops: the dependent is left alone, the pod serves",
      input: at(softSpec, [exited(), obs("app")], [["db", hist({ running: false, nextAttemptAt: NOW + 8_000, restarts: 3, ...failedOnce })], ["app", readyHist()]]),
      actions: [],
      states: { db: "backing-off", app: "ready" },
      serving: true,
    },
    {
      name: "dependent ready while the soft dependency is being stopped as failed: the dependent is left alone",
      input: at(softSpec, [obs("db", { startedAt: NOW - 61_000 }), obs("app")], [["db", hist({ startedAt: NOW - 61_000 })], ["app", readyHist()]]),
      actions: ["stop db start-timeout"],
      states: { db: "failed", app: "ready" },
      serving: true,
    },
    {
      name: "dependent ready while the soft dependency is replaced (spec changed, never failed): not serving until it is back",
      input: at(softSpec, [obs("db", { specHash: "old" }), obs("app")], [["db", readyHist()], ["app", readyHist()]]),
      actions: ["stop db spec-changed"],
      states: { db: "stopping", app: "ready" },
      serving: false,
    },
    {
      name: "soft dependency replaced (spec changed) without having failed: the stopped dependent waits for it",
      input: at(softSpec, [obs("db", { specHash: "old" }), obs("app", { running: false, state: "exited", exitCode: 0 })], [["db", readyHist()], ["app", hist({ running: false })]]),
      actions: ["stop db spec-changed"],
      states: { db: "stopping", app: "stopped" },
      serving: false,
    },
    {
      name: "hard edge, unchanged: a dependency backing off keeps the dependent down",
      input: at(hardSpec, [exited()], [["db", hist({ running: false, nextAttemptAt: NOW + 4_000, ...failedOnce })]]),
      actions: [],
      states: { db: "backing-off", app: "pending" },
      serving: false,
    },
    {
      name: "hard edge, unchanged: a dependency past its start period is stopped, the dependent waits",
      input: at(hardSpec, [obs("db", { startedAt: NOW - 61_000 })], [["db", hist({ startedAt: NOW - 61_000, nextProbeAt: NOW })]]),
      actions: ["stop db start-timeout"],
      states: { db: "failed", app: "pending" },
      serving: false,
    },
    {
      name: "hard edge: a ready dependent with its dependency backing off is not serving",
      input: at(hardSpec, [exited(), obs("app")], [["db", hist({ running: false, nextAttemptAt: NOW + 8_000, ...failedOnce })], ["app", readyHist()]]),
      actions: [],
      states: { db: "backing-off", app: "ready" },
      serving: false,
    },
  ];

  it.each(cases)("$name", ({ input: i, actions, states, serving }) => {
    const p = plan(i);
    expect(p.actions.map((a) => [a.type, "name" in a ? a.name : undefined, "reason" in a ? a.reason : undefined].filter(Boolean).join(" "))).toEqual(actions);
    expect(Object.fromEntries(p.states)).toEqual(states);
    expect(p.serving).toBe(serving);
    expect(p.settled).toBe(false);
  });

  it("serves and is settled once both are ready; down mode never serves", () => {
    const both = at(softSpec, [obs("db"), obs("app")], [["db", readyHist()], ["app", readyHist()]]);
    expect(plan(both)).toMatchObject({ settled: true, serving: true });
    expect(plan({ ...both, mode: "down" }).serving).toBe(false);
  });
});
