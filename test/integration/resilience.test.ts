// Issue 3 on the fake runtime and a fake clock: crashes, hangs, drift, reloads and outages,
// table-driven where the cases share a shape.

import { describe, expect, it } from "vitest";
import { PodmanUnavailableError } from "../../src/lib/errors.js";
import type { Clock } from "../../src/lib/clock.js";
import { ReconcileLoop } from "../../src/supervisor/loop.js";
import { FakeClock } from "../support/fake-clock.js";
import { EventWatcher } from "../../src/supervisor/watcher.js";
import { Harness, silentLogger } from "../support/harness.js";
import { chainSpec, container, probe } from "../support/pod-spec.js";
import { PROBE_GRID_MS } from "../../src/domain/history.js";

const CHAIN = ["valkey", "falkordb", "datadog", "opencode"];
const startsOf = (h: Harness, name: string) => h.runtime.journal.filter((j) => j.name === name && j.op === "start").map((j) => j.at);
const gaps = (xs: number[]) => xs.slice(1).map((x, i) => x - xs[i]!);
const idOf = (h: Harness, name: string) => h.runtime.byName(name)?.id;
const startedAt = (h: Harness, name: string) => h.runtime.byName(name)?.startedAt;

/** Runs passes until `until` holds, crashing `name` right after each of its starts. */
const crashLoop = async (h: Harness, name: string, passes: number) => {
  let seen = 0;
  for (let i = 0; i < passes; i++) {
    await h.step();
    const starts = startsOf(h, name).length;
    if (starts > seen) {
      seen = starts;
      h.runtime.crash(name, 3);
    }
  }
};

describe("restart backoff", () => {
  const restart = { initialDelayMs: 1_000, maxDelayMs: 8_000, resetAfterMs: 60_000 };

  it("retries a crash loop at once, then 1 s, 2 s, 4 s, 8 s and never more than the cap", async () => {
    const h = new Harness({ spec: chainSpec({ restart, containers: [container("valkey")] }), backoff: { initialMs: 1_000, maxMs: 8_000, factor: 2, jitter: 0.1, resetAfterMs: 60_000 } });
    await h.runUntil((r) => r.settled);
    const crashedAt = h.clock.now();
    h.runtime.crash("valkey", 3);
    await crashLoop(h, "valkey", 60);
    const restarts = startsOf(h, "valkey").slice(1);
    expect(restarts[0]! - crashedAt).toBeLessThan(50);
    // The fake clock moves 1 ms per pass on top of each delay (no jitter with random = 0.5).
    const delays = gaps(restarts).map((g) => g - 1);
    expect(delays.slice(0, 6)).toEqual([1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
    expect(Math.max(...delays)).toBe(8_000);
    expect(h.reconciler.history.get("valkey")).toMatchObject({ lastExitCode: 3, lastReason: "exited (code 3)", state: "backing-off" });
  });

  it("forgives earlier failures once the container stayed ready for resetAfter", async () => {
    const h = new Harness({ spec: chainSpec({ containers: [container("valkey")] }), backoff: { initialMs: 1_000, maxMs: 8_000, factor: 2, jitter: 0.1, resetAfterMs: 60_000 } });
    await h.runUntil((r) => r.settled);
    h.runtime.crash("valkey");
    await h.runUntil((r) => r.settled);
    h.runtime.crash("valkey");
    await h.runUntil((r) => r.settled);
    expect(h.reconciler.history.get("valkey")!.failures).toBe(2);
    for (let i = 0; i < 10; i++) await h.step(10_000); // 100 s of being ready
    expect(h.reconciler.history.get("valkey")!.failures).toBe(0);
    const before = h.clock.now();
    h.runtime.crash("valkey");
    await h.runUntil((r) => r.settled);
    expect(startsOf(h, "valkey").at(-1)! - before).toBeLessThan(50);
  });
});

describe("liveness", () => {
  it("restarts a ready container after `retries` failed probes in a row, as unhealthy", async () => {
    const spec = chainSpec({ containers: [container("valkey", [], { probe: probe(6380, { intervalMs: 1_000, retries: 3 }) })] });
    const h = new Harness({ spec });
    await h.runUntil((r) => r.settled);
    const hungAt = h.clock.now();
    h.failing.add("valkey");
    await h.runUntil(() => h.runtime.order("stop").includes("valkey"));
    // Three failed probes one interval apart (each on the probe grid): stopped within (interval + grid) × retries.
    expect(h.runtime.journal.find((j) => j.op === "stop")!.at - hungAt).toBeLessThanOrEqual(3 * (1_000 + PROBE_GRID_MS));
    h.failing.delete("valkey");
    await h.runUntil((r) => r.settled);
    expect(h.reconciler.history.get("valkey")).toMatchObject({ restarts: 1, lastReason: "unhealthy" });
    expect(startsOf(h, "valkey")).toHaveLength(2);
  });

  it("a single failed probe does not restart anything", async () => {
    const spec = chainSpec({ containers: [container("valkey", [], { probe: probe(6380, { intervalMs: 1_000, retries: 3 }) })] });
    const h = new Harness({ spec });
    await h.runUntil((r) => r.settled);
    h.failing.add("valkey");
    await h.step(1_000);
    await h.step(1_000);
    h.failing.delete("valkey");
    for (let i = 0; i < 5; i++) await h.step(1_000);
    expect(h.runtime.order("stop")).toEqual([]);
  });
});

describe("dependencies after start-up", () => {
  it("a crashed dependent is not restarted while its dependency is not ready", async () => {
    const h = new Harness({ spec: chainSpec() });
    await h.runUntil((r) => r.settled);
    h.failing.add("valkey");
    h.runtime.crash("valkey");
    h.runtime.crash("falkordb");
    for (let i = 0; i < 30; i++) await h.step(100);
    expect(startsOf(h, "falkordb")).toHaveLength(1);
    expect(h.reconciler.history.get("falkordb")!.state).toBe("stopped");
    h.failing.delete("valkey");
    await h.runUntil((r) => r.settled);
    const valkeyRestart = startsOf(h, "valkey")[1]!;
    const valkeyReady = h.probes.find((p) => p.name === "valkey" && p.ok && p.at > valkeyRestart)!.at;
    expect(startsOf(h, "falkordb")[1]).toBeGreaterThanOrEqual(valkeyReady);
  });

  it.each([
    { restart: false, dependentRestarts: 1 },
    { restart: true, dependentRestarts: 2 },
  ])("restart: $restart edge -> the dependent is started $dependentRestarts time(s) in all", async ({ restart, dependentRestarts }) => {
    const spec = chainSpec({ containers: [container("db"), container("app", [], { dependsOn: [{ name: "db", restart, soft: false }] })] });
    const h = new Harness({ spec, readyAfterMs: { db: 500 } });
    await h.runUntil((r) => r.settled);
    h.runtime.crash("db");
    await h.runUntil((r) => r.settled && startsOf(h, "db").length === 2);
    for (let i = 0; i < 5; i++) await h.step(100);
    await h.runUntil((r) => r.settled);
    expect(startsOf(h, "app")).toHaveLength(dependentRestarts);
    if (restart) {
      const dbRestart = startsOf(h, "db")[1]!;
      const dbReady = h.probes.find((p) => p.name === "db" && p.ok && p.at > dbRestart)!.at;
      expect(startsOf(h, "app")[1]).toBeGreaterThanOrEqual(dbReady);
      // Restarting for a dependency is not a failure of the dependent.
      expect(h.reconciler.history.get("app")!.failures).toBe(0);
    }
  });
});

describe("drift is repaired", () => {
  it.each([
    { name: "a container stopped by hand", drift: (h: Harness) => h.runtime.stopContainer(idOf(h, "datadog")!), recreated: [] as string[] },
    { name: "a container removed by hand", drift: (h: Harness) => h.runtime.removeByHand("datadog"), recreated: ["datadog"] },
    { name: "the pod removed by hand", drift: (h: Harness) => h.runtime.removePodByHand(), recreated: CHAIN },
  ])("$name", async ({ drift, recreated }) => {
    const h = new Harness({ spec: chainSpec() });
    await h.runUntil((r) => r.settled);
    const mark = h.runtime.journal.length;
    await drift(h);
    await h.runUntil((r) => r.settled);
    const after = h.runtime.journal.slice(mark);
    expect(after.filter((j) => j.op === "create").map((j) => j.name)).toEqual(recreated);
    // Whatever was restored came back in dependency order.
    const started = after.filter((j) => j.op === "start").map((j) => j.name);
    expect(started).toEqual(CHAIN.filter((c) => started.includes(c)));
    expect(started.length).toBeGreaterThan(0);
  });
});

describe("reload", () => {
  it("recreates exactly the containers whose spec changed, in order, and nothing else", async () => {
    const h = new Harness({ spec: chainSpec() });
    await h.runUntil((r) => r.settled);
    const base = chainSpec();
    const next = { ...base, containers: base.containers.map((c) => (c.name === "falkordb" || c.name === "opencode" ? { ...c, env: { CHANGED: "1" } } : c)) };
    const mark = h.runtime.journal.length;
    const diff = h.reconciler.reconfigure({ spec: next, secrets: new Map(), prober: async (_c, o) => ({ ok: o.running, ms: 1, at: h.clock.now(), message: "" }) });
    expect(diff).toEqual({ changed: ["falkordb", "opencode"], podChanged: false });
    await h.runUntil((r) => r.settled);
    const ops = h.runtime.journal.slice(mark).map((j) => `${j.op} ${j.name}`);
    expect(ops.filter((o) => o.startsWith("create"))).toEqual(["create falkordb", "create opencode"]);
    expect(ops.some((o) => o.endsWith("valkey") || o.endsWith("datadog"))).toBe(false);
  });

  it("a changed port mapping recreates the pod: reverse stop, then everything in order", async () => {
    const h = new Harness({ spec: chainSpec() });
    await h.runUntil((r) => r.settled);
    const next = chainSpec({ ports: [{ host: 16380, container: 6380, protocol: "tcp" }] });
    const diff = h.reconciler.reconfigure({ spec: next, secrets: new Map(), prober: async (_c, o) => ({ ok: o.running, ms: 1, at: h.clock.now(), message: "" }) });
    expect(diff.podChanged).toBe(true);
    const mark = h.runtime.journal.length;
    await h.runUntil((r) => r.settled);
    const ops = h.runtime.journal.slice(mark);
    expect(ops.filter((j) => j.op === "stop").map((j) => j.name)).toEqual([...CHAIN].reverse());
    expect(ops.filter((j) => j.op === "remove-pod" || j.op === "create-pod").map((j) => j.op)).toEqual(["remove-pod", "create-pod"]);
    expect(ops.filter((j) => j.op === "start").map((j) => j.name)).toEqual(CHAIN);
  });
});

describe("Podman outages", () => {
  /** A clock whose sleeps return at once and are recorded. */
  const recordingClock = (): Clock & { sleeps: number[] } => {
    let now = 0;
    const sleeps: number[] = [];
    return { sleeps, now: () => now, sleep: async (ms) => void (sleeps.push(ms), (now += ms)) };
  };

  /** A loop whose every pass runs `before` (which may throw) and then reports the pod settled, next look in 10 s. */
  const loopOf = (clock: Clock, before: () => void): ReconcileLoop =>
    new ReconcileLoop({
      clock,
      logger: silentLogger(),
      idleMs: 30_000,
      errorBackoff: { initialMs: 500, maxMs: 4_000 },
      pass: async () => {
        before();
        return { mode: "up", requeueAfterMs: 10_000, settled: true, serving: true };
      },
    });

  it("retries failed passes with growing delays and keeps going once Podman is back", async () => {
    const clock = recordingClock();
    const controller = new AbortController();
    let calls = 0;
    const loop = loopOf(clock, () => {
      calls += 1;
      if (calls <= 5) throw new PodmanUnavailableError("socket gone");
      if (calls >= 8) controller.abort();
    });
    await loop.run(controller.signal);
    expect(calls).toBe(8);
    expect(clock.sleeps.slice(0, 5)).toEqual([500, 1_000, 2_000, 4_000, 4_000]);
    expect(clock.sleeps.slice(5, 7)).toEqual([10_000, 10_000]);
  });

  it("a stop that arrives during a pass ends the loop after that pass, without waiting out the next delay", async () => {
    const controller = new AbortController();
    let calls = 0;
    const loop = loopOf(new FakeClock(), () => {
      calls += 1;
      controller.abort(); // what `up` does once a pass reports the pod settled
    });
    // The fake clock never moves: a loop that went to sleep would never return.
    const ended = await Promise.race([loop.run(controller.signal).then(() => "ended"), new Promise((r) => setTimeout(() => r("still sleeping"), 1_000))]);
    expect(ended).toBe("ended");
    expect(calls).toBe(1);
  });

  it("the event watcher survives a broken stream, reconnects with backoff and kicks on reconnect", async () => {
    const clock = recordingClock();
    const controller = new AbortController();
    let attempts = 0;
    let kicks = 0;
    const watcher = new EventWatcher({
      pod: "p",
      clock,
      logger: silentLogger(),
      kick: () => void (kicks += 1),
      retry: { initialMs: 500, maxMs: 2_000 },
      runtime: {
        watch: async (_pod, onEvent, _signal, onConnected) => {
          attempts += 1;
          if (attempts <= 3) throw new PodmanUnavailableError("gone");
          onConnected?.();
          onEvent({ type: "container", action: "died", name: "valkey", id: "x", exitCode: 137, at: 0 });
          onEvent({ type: "container", action: "health_status", name: "valkey", id: "x", exitCode: undefined, at: 0 });
          controller.abort();
        },
      },
    });
    await watcher.run(controller.signal);
    expect(attempts).toBe(4);
    expect(clock.sleeps.slice(0, 3)).toEqual([500, 1_000, 2_000]);
    // One kick for the reconnect, one for the exit; health checks do not kick.
    expect(kicks).toBe(2);
  });

  it("a pass against an unreachable Podman fails without touching the supervisor's memory of the pod", async () => {
    const h = new Harness({ spec: chainSpec() });
    await h.runUntil((r) => r.settled);
    const before = JSON.stringify([...h.reconciler.history]);
    h.runtime.unavailable = true;
    await expect(h.reconciler.reconcileOnce()).rejects.toBeInstanceOf(PodmanUnavailableError);
    expect(JSON.stringify([...h.reconciler.history])).toBe(before);
    h.runtime.unavailable = false;
    const mark = h.runtime.journal.length;
    await h.runUntil((r) => r.settled);
    expect(h.runtime.journal.length).toBe(mark);
    for (const c of CHAIN) expect(startedAt(h, c)).not.toBeNull();
  });
});
