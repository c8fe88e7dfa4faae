// The lifecycle table against the pure core. A small simulated Podman (containers that run,
// crash, get removed, paused and restarted by hand) and the supervisor's pass written out with
// the pure functions the reconciler uses (history's absorb and mark functions, then plan())
// run thousands of seeded random event sequences. Every state change a pass records must be in
// the table, and every change the table allows must turn up: the table is neither looser nor
// tighter than what the core does. A failing case prints its seed and its events.

import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_BACKOFF } from "../../../src/domain/backoff.js";
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
} from "../../../src/domain/history.js";
import { isLegalTransition, STATES, transitionsFrom, type ContainerState } from "../../../src/domain/lifecycle.js";
import type { Observed, ObservedContainer } from "../../../src/domain/observed.js";
import { plan, type Action, type Mode, type Plan } from "../../../src/domain/plan.js";
import { transitiveDependentsOf } from "../../../src/domain/graph.js";
import type { ContainerSpec, PodSpec } from "../../../src/domain/spec.js";
import { mulberry32 } from "../../support/prng.js";
import { chainSpec, container, probe } from "../../support/pod-spec.js";

const SEQUENCES = 5_000;
const STEPS = 120;
const T0 = Date.parse("2026-03-01T00:00:00Z");

interface SimContainer {
  readonly id: string;
  readonly hash: string;
  state: "created" | "running" | "paused" | "exited";
  exitCode: number | null;
  startedAt: number | null;
  oomKilled: boolean;
  /** What its probe would answer. */
  healthy: boolean;
  /** A stop (or a crash at start) under way: it exits at this time. */
  exitAt?: number;
}

/** Which spec a sequence runs: probe settings vary, so start periods of 0 and retries of 1 are covered. */
const specFor = (random: () => number): PodSpec => {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const p = () => probe(1000, { intervalMs: 200, startIntervalMs: 100, retries: pick([1, 2, 3]), startPeriodMs: pick([0, 0, 2_000, 30_000]) });
  return chainSpec({
    containers: [
      container("db", [], { probe: p(), stopTimeoutS: pick([1, 10]) }),
      container("migrate", ["db"], { probe: undefined, init: true }),
      container("app", [], { probe: p(), dependsOn: [{ name: "db", restart: true, soft: false }, { name: "migrate", restart: false, soft: false }] }),
      container("agent", [], { probe: undefined, dependsOn: [{ name: "app", restart: false, soft: true }] }),
    ],
  });
};

/** One simulated daemon over one simulated Podman; `step` applies a random event and runs a pass. */
class Sim {
  readonly random: () => number;
  readonly spec: PodSpec;
  readonly events: string[] = [];
  now = T0;
  pod: { hash: string } | null = null;
  readonly world = new Map<string, SimContainer>();
  history = new Map<string, ContainerHistory>();
  mode: Mode = "up";
  held = new Set<string>();
  suspended = new Set<string>();
  diskFull = new Set<string>();
  readonly versions = new Map<string, number>();
  podVersion = 0;
  lastPlan: Plan | undefined;
  #ids = 0;

  constructor(
    seed: number,
    readonly onTransition: (from: ContainerState, to: ContainerState, name: string) => void,
  ) {
    this.random = mulberry32(seed);
    this.spec = specFor(this.random);
  }

  chance(p: number): boolean {
    return this.random() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.random() * xs.length)]!;
  }
  get names(): string[] {
    return this.spec.containers.map((c) => c.name);
  }
  hashOf(name: string): string {
    return `h-${name}-${this.versions.get(name) ?? 0}`;
  }
  get podHash(): string {
    return `h-pod-${this.podVersion}`;
  }
  ctx(): AbsorbContext {
    return { now: this.now, backoff: DEFAULT_BACKOFF, random: this.random };
  }
  h(name: string): ContainerHistory {
    return this.history.get(name) ?? emptyHistory();
  }
  update(name: string, f: (h: ContainerHistory) => ContainerHistory): void {
    this.history.set(name, f(this.h(name)));
  }
  specOf(name: string): ContainerSpec {
    return this.spec.containers.find((c) => c.name === name)!;
  }

  observe(): Observed {
    if (!this.pod) return { pod: null, containers: new Map() };
    const containers = new Map<string, ObservedContainer>();
    for (const [name, c] of this.world) {
      const running = c.state === "running" || c.state === "paused";
      containers.set(name, {
        id: c.id,
        name,
        podmanName: `testpod-${name}`,
        specHash: c.hash,
        state: c.state,
        running,
        exitCode: running ? null : c.exitCode,
        startedAt: c.startedAt,
        finishedAt: null,
        oomKilled: c.oomKilled,
        health: "none",
        image: "img",
        imageId: "sha",
      });
    }
    return { pod: { id: "pod", name: this.spec.name, state: "Running", managed: true, specHash: this.pod.hash }, containers };
  }

  /** Stops and crashes whose time has come. */
  settle(): void {
    for (const c of this.world.values()) {
      if (c.exitAt !== undefined && c.exitAt <= this.now && (c.state === "running" || c.state === "paused")) {
        Object.assign(c, { state: "exited", exitCode: c.healthy ? 0 : 137, exitAt: undefined });
      }
    }
  }

  runContainer(c: SimContainer): void {
    // A new instance is told apart by its start time: Podman's never repeats.
    if (c.startedAt === this.now) this.now += 1;
    Object.assign(c, { state: "running", startedAt: this.now, exitCode: null, oomKilled: false, healthy: this.chance(0.6), exitAt: undefined });
    // Some starts crash soon after (a crash loop).
    if (this.chance(0.15)) c.exitAt = this.now + Math.floor(this.random() * 3_000);
  }

  /** The reconciler's pass, with the pure functions it calls, in its order. */
  pass(): void {
    this.settle();
    const observed = this.observe();
    const ctx = this.ctx();
    for (const c of this.spec.containers) {
      if (this.held.has(c.name)) continue;
      this.update(c.name, (h) => absorbObservation(h, observed.containers.get(c.name), ctx, c.init === true));
    }
    for (const [name, h] of this.history) {
      if (h.running && h.startedWith === undefined) this.history.set(name, { ...h, startedWith: this.depInstances(name) });
    }
    if (this.mode === "up") this.probeDue(observed);
    const p = plan({
      spec: this.spec,
      hashes: new Map(this.names.map((n) => [n, this.hashOf(n)])),
      podHash: this.podHash,
      observed,
      history: this.history,
      now: this.now,
      mode: this.mode,
      overrides: { held: this.held, suspended: this.suspended },
      diskFull: this.diskFull,
    });
    for (const [name, state] of p.states) {
      const h = this.h(name);
      if (h.state === state) continue;
      this.onTransition(h.state, state, name);
      this.history.set(name, { ...h, state });
    }
    this.lastPlan = p;
    // A pass cut short (a stop signal, a change of mode) leaves the rest of its actions undone.
    const cut = this.chance(0.05) ? Math.floor(this.random() * p.actions.length) : p.actions.length;
    for (const action of p.actions.slice(0, cut)) this.act(action);
  }

  depInstances(name: string): Record<string, string> {
    const pairs = this.specOf(name).dependsOn.flatMap((d) => {
      const inst = this.history.get(d.name)?.instance;
      return inst === undefined ? [] : [[d.name, inst] as const];
    });
    return Object.fromEntries(pairs);
  }

  probeDue(observed: Observed): void {
    for (const c of this.spec.containers) {
      if (c.init || this.held.has(c.name)) continue;
      const o = observed.containers.get(c.name);
      const h = this.h(c.name);
      if (o?.running !== true || h.nextProbeAt === undefined || h.nextProbeAt > this.now) continue;
      if (!c.probe) {
        this.update(c.name, (x) => absorbNoProbe(x, this.now));
        continue;
      }
      const ok = o.state === "running" && this.world.get(c.name)?.healthy === true;
      this.update(c.name, (x) => absorbProbe(x, c, { ok, ms: 1, at: this.now, message: ok ? "ok" : "refused" }));
    }
  }

  startFailed(name: string, adjust: (h: ContainerHistory) => ContainerHistory): void {
    this.update(name, (h) => markStartFailed(adjust(h), "simulated", this.ctx()));
  }

  start(name: string): void {
    this.update(name, (h) => markStartAttempt(h, this.depInstances(name)));
    const c = this.world.get(name);
    if (!c || this.chance(0.08)) return this.startFailed(name, (h) => ({ ...h, running: false }));
    this.runContainer(c);
  }

  act(a: Action): void {
    switch (a.type) {
      case "create-pod":
        if (this.chance(0.05)) return;
        this.pod = { hash: this.podHash };
        this.world.clear();
        return;
      case "remove-pod":
        this.pod = null;
        this.world.clear();
        return;
      case "create":
        if (this.chance(0.08)) return this.startFailed(a.name, (h) => h);
        this.world.set(a.name, { id: `c${++this.#ids}`, hash: this.hashOf(a.name), state: "created", exitCode: null, startedAt: null, oomKilled: false, healthy: true });
        return this.start(a.name);
      case "start":
        return this.start(a.name);
      case "stop": {
        this.update(a.name, (h) => markStopping(h, a.reason, this.now + a.timeoutS * 1000 + STOP_SLACK_MS));
        const c = this.world.get(a.name);
        // The request can fail (Podman answers an error): the container runs on and is asked again.
        if (c && !this.chance(0.1)) c.exitAt = Math.min(c.exitAt ?? Infinity, this.now + Math.floor(this.random() * a.timeoutS * 1000));
        return;
      }
      case "remove":
        this.world.delete(a.name);
        return;
      case "unpause": {
        const c = this.world.get(a.name);
        if (c?.state === "paused") c.state = "running";
        return;
      }
    }
  }

  /** One random thing happening to the pod or the daemon, then (mostly) a pass. */
  step(): void {
    // Half the time the event is about a container that is down (the rarer case worth stirring).
    const down = this.names.filter((n) => this.world.get(n)?.state === "exited");
    const name = down.length > 0 && this.chance(0.5) ? this.pick(down) : this.pick(this.names);
    const c = this.world.get(name);
    const r = this.random();
    let event: string;
    if (r < 0.25) {
      const dt = Math.floor(this.random() * 300);
      this.now += dt;
      event = `+${dt}ms`;
    } else if (r < 0.38) {
      // The loop waits for what the plan asked (or much longer: a slow pull elsewhere, a suspended host).
      const wait = this.lastPlan?.requeueAfterMs ?? null;
      const dt = wait !== null && this.chance(0.7) ? Math.min(wait, 600_000) : Math.floor(this.random() * 120_000);
      this.now += dt;
      event = `wait ${dt}ms`;
    } else if (r < 0.45 && c && (c.state === "running" || c.state === "paused")) {
      Object.assign(c, { state: "exited", exitCode: this.pick([0, 1, 137]), oomKilled: this.chance(0.2), exitAt: undefined });
      event = `${name} exits (${c.exitCode}${c.oomKilled ? ", oom" : ""})`;
    } else if (r < 0.53 && c) {
      c.healthy = !c.healthy;
      event = `${name} ${c.healthy ? "healthy" : "unhealthy"}`;
    } else if (r < 0.57 && c) {
      this.world.delete(name);
      event = `podman rm -f ${name}`;
    } else if (r < 0.62 && c) {
      this.runContainer(c);
      event = `podman restart ${name}`;
    } else if (r < 0.63 && c?.state === "running") {
      c.state = "paused";
      event = `podman pause ${name}`;
    } else if (r < 0.64 && this.pod) {
      this.pod = null;
      this.world.clear();
      event = "podman pod rm -f";
    } else if (r < 0.68) {
      this.mode = this.mode === "up" ? "down" : "up";
      event = `mode ${this.mode}`;
    } else if (r < 0.73) {
      // A job holds a container (a backup pauses it) and later releases it, thawed.
      if (this.held.delete(name)) {
        if (c?.state === "paused") c.state = "running";
        event = `release ${name}`;
      } else {
        this.held.add(name);
        if (c?.state === "running" && this.chance(0.5)) c.state = "paused";
        event = `hold ${name}`;
      }
    } else if (r < 0.77) {
      // A restore suspends a container with everything that depends on it, then resumes them.
      if (this.suspended.size > 0) {
        this.suspended.clear();
        event = "resume";
      } else {
        this.suspended = new Set([name, ...transitiveDependentsOf(this.spec.containers, name)]);
        event = `suspend ${[...this.suspended].join(",")}`;
      }
    } else if (r < 0.81) {
      // A reload changing this container (a new changed spec gets a fresh start, as reconfigure does).
      this.versions.set(name, ((this.versions.get(name) ?? 0) + 1) % 2);
      if (this.history.has(name)) this.update(name, resetBackoff);
      event = `reload ${name}`;
    } else if (r < 0.815) {
      this.podVersion = (this.podVersion + 1) % 2;
      event = "reload pod (ports)";
    } else if (r < 0.86) {
      if (!this.diskFull.delete(name)) this.diskFull.add(name);
      event = `disk ${this.diskFull.has(name) ? "full" : "free"} for ${name}`;
    } else if (r < 0.865) {
      // The daemon restarts: it remembers nothing, and adopts what runs.
      this.history = new Map();
      this.held = new Set();
      this.suspended = new Set();
      this.mode = "up";
      event = "daemon restart";
    } else {
      event = "pass";
    }
    // Most events are followed by a pass; the others pile up until the next one.
    const passes = this.chance(0.9);
    this.events.push(passes ? event : `${event} (no pass)`);
    if (passes) this.pass();
  }
}

/** Runs `sequences` seeded sequences; returns every transition seen (with the first seed that made it) and the first illegal one. */
const explore = (firstSeed: number, sequences: number) => {
  const seen = new Map<string, number>();
  let illegal: string | undefined;
  for (let seed = firstSeed; seed < firstSeed + sequences && !illegal; seed++) {
    let step = 0;
    const sim: Sim = new Sim(seed, (from, to, name) => {
      if (!seen.has(`${from} -> ${to}`)) seen.set(`${from} -> ${to}`, seed);
      if (!isLegalTransition(from, to) && !illegal) {
        illegal = `illegal transition ${name}: ${from} -> ${to} (seed ${seed}, step ${step})\nevents:\n  ${sim.events.join("\n  ")}`;
      }
    });
    for (; step < STEPS && !illegal; step++) sim.step();
  }
  return { seen, illegal };
};

describe("the lifecycle table", () => {
  let seen = new Map<string, number>();
  let illegal: string | undefined;
  beforeAll(() => {
    ({ seen, illegal } = explore(1, SEQUENCES));
  }, 120_000);

  it(`holds over ${SEQUENCES} random sequences of ${STEPS} events (exits, probes, time, modes, holds, reloads, restarts)`, () => {
    expect(illegal, illegal).toBeUndefined();
  });

  it("allows nothing the core never does: every legal transition is seen", () => {
    const legal = STATES.flatMap((from) => transitionsFrom(from).map((to) => `${from} -> ${to}`));
    expect(legal.filter((t) => !seen.has(t))).toEqual([]);
  });

  it("a container becomes unhealthy only from ready (or a stop that did not happen): it was ready first", () => {
    for (const from of STATES) {
      expect(isLegalTransition(from, "unhealthy"), from).toBe(from === "ready" || from === "stopping" || from === "unhealthy");
    }
  });
});
