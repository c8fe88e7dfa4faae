// Watching costs next to nothing while all is well, on the fake runtime and clock with the
// whole supervisor running (loop, event watcher, probe scheduler): probes that change no
// verdict make no Podman call and no pass, a changed verdict makes one pass, an idle pod is
// only relisted now and then, and a pass that hangs is cut short at its deadline.

import { afterEach, describe, expect, it } from "vitest";
import type { Observed } from "../../src/domain/observed.js";
import type { ContainerRuntime } from "../../src/runtime/port.js";
import type { Supervisor, SupervisorDeps } from "../../src/supervisor/supervisor.js";
import { Harness } from "../support/harness.js";
import { chainSpec } from "../support/pod-spec.js";
import { PROBE_GRID_MS } from "../../src/domain/history.js";

/** Every operation of the port, counted. */
const PORT: readonly (keyof ContainerRuntime)[] = [
  "ping", "hostInfo", "observe", "createPod", "startPod", "removePod", "imageExists", "imageRecipe", "imageId", "tagImage",
  "buildInputsHash", "pullImage", "buildImage", "bootstrapImage", "ensureSecret", "pruneSecrets", "createContainer",
  "startContainer", "stopContainer", "removeContainer", "pauseContainer", "unpauseContainer", "watch", "logs", "healthcheck",
];

const countCalls = (h: Harness): { total: () => number; of: (op: string) => number; reset: () => void } => {
  const calls = new Map<string, number>();
  const rt = h.runtime as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const op of PORT) {
    const original = rt[op]!.bind(h.runtime);
    rt[op] = (...args: unknown[]) => {
      calls.set(op, (calls.get(op) ?? 0) + 1);
      return original(...args);
    };
  }
  return { total: () => [...calls.values()].reduce((a, b) => a + b, 0), of: (op) => calls.get(op) ?? 0, reset: () => calls.clear() };
};

/** Lets the background work run to quiet at the current fake time. */
const flush = async (): Promise<void> => {
  for (let i = 0; i < 30; i++) await new Promise((r) => setImmediate(r));
};

/** Moves the fake clock forward in steps, letting the loop and the probes run at each. */
const advance = async (h: Harness, ms: number, stepMs = 50): Promise<void> => {
  for (let t = 0; t < ms; t += stepMs) {
    h.clock.advance(Math.min(stepMs, ms - t));
    await flush();
  }
};

const running: Supervisor[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

/** A supervisor over a harness (events from the fake runtime), started and run until the pod is ready. */
const started = async (over: Partial<SupervisorDeps> = {}, readyAfterMs: Record<string, number> = {}) => {
  const h = new Harness({ spec: chainSpec(), readyAfterMs });
  const calls = countCalls(h);
  let passes = 0;
  const supervisor = h.supervise({ events: h.runtime, onPassDone: () => void (passes += 1), ...over });
  running.push(supervisor);
  supervisor.start("up");
  return { h, calls, supervisor, passes: () => passes };
};

const untilSettled = async (h: Harness, supervisor: Supervisor): Promise<void> => {
  for (let i = 0; i < 2_000 && !supervisor.settled; i++) await advance(h, 50);
  expect(supervisor.settled).toBe(true);
};

describe("cheap watching", () => {
  it("probes that change no verdict make no Podman call and no pass", async () => {
    const { h, calls, supervisor, passes } = await started();
    await untilSettled(h, supervisor);
    await advance(h, 1_000); // the passes that follow the last start are done
    calls.reset();
    const passesBefore = passes();
    const probesBefore = h.probes.length;
    await advance(h, 30_000 + 3 * PROBE_GRID_MS, 500); // three probe intervals of 10 s (each on the probe grid)
    expect(h.probes.length - probesBefore).toBe(12); // four containers, three probes each
    expect(h.probes.slice(probesBefore).every((p) => p.ok)).toBe(true);
    expect(calls.total()).toBe(0);
    expect(passes() - passesBefore).toBe(0);
  });

  it("a verdict change kicks exactly one pass: opencode turning ready, and nothing while its probe keeps failing", async () => {
    const { h, calls, supervisor, passes } = await started({}, { opencode: 5_000 });
    for (let i = 0; i < 2_000 && h.reconciler.history.get("opencode")?.state !== "starting"; i++) await advance(h, 50);
    await advance(h, 500);
    calls.reset();
    const passesBefore = passes();
    const kicksBefore = h.kicks;
    // Still starting: probed every 200 ms, failing, changing nothing.
    await advance(h, 3_000);
    expect(h.probes.filter((p) => p.name === "opencode" && !p.ok).length).toBeGreaterThan(10);
    expect(passes() - passesBefore).toBe(0);
    expect(calls.total()).toBe(0);
    // Ready: one kick, one pass (it has nothing to act on: opencode is last in the chain), then quiet.
    await advance(h, 3_000);
    expect(supervisor.settled).toBe(true);
    expect(h.kicks - kicksBefore).toBe(1);
    expect(passes() - passesBefore).toBe(1);
    expect(calls.of("observe")).toBe(1);
    expect(calls.total()).toBe(calls.of("observe") + calls.of("pruneSecrets"));
  });

  it("a failing liveness probe asks for no pass until it crosses its retries, then for one that acts", async () => {
    /** falkordb's consecutive probe failures as each pass ended. */
    const atPass: number[] = [];
    const failures = () => h.reconciler.history.get("falkordb")?.consecutiveFailures ?? 0;
    const { h, supervisor } = await started({ onPassDone: () => void atPass.push(failures()) });
    await untilSettled(h, supervisor);
    await advance(h, 1_000);
    const mark = atPass.length;
    h.failing.add("falkordb");
    for (let i = 0; i < 400 && failures() < 2; i++) await advance(h, 50);
    expect(failures()).toBe(2);
    expect(atPass.length).toBe(mark);
    for (let i = 0; i < 400 && !h.runtime.order("stop").includes("falkordb"); i++) await advance(h, 50);
    expect(atPass[mark]).toBe(3);
    expect(h.runtime.order("stop")).toContain("falkordb");
  });

  it("an idle pod is only relisted, once a minute while the event stream is open (every 10 s while it is not)", async () => {
    const { h, calls, supervisor } = await started();
    await untilSettled(h, supervisor);
    await advance(h, 1_000);
    calls.reset();
    await advance(h, 600_000, 1_000);
    // Ten minutes: ten relists, each one observation, and nothing else (the probes ask for nothing).
    expect(calls.of("observe")).toBe(10);
    expect(calls.total()).toBe(10);
    expect(supervisor.eventsConnected).toBe(true);
  });

  it("without the event stream, the relist comes every 10 s", async () => {
    const { h, calls, supervisor } = await started({ events: { watch: () => Promise.reject(new Error("no stream")) } });
    await untilSettled(h, supervisor);
    await advance(h, 1_000);
    calls.reset();
    await advance(h, 60_000, 1_000);
    expect(calls.of("observe")).toBe(6);
    expect(supervisor.eventsConnected).toBe(false);
  });

  it("a probe that hangs holds back no other container's probe", async () => {
    const { h, supervisor } = await started();
    await untilSettled(h, supervisor);
    const seen: string[] = [];
    let answer: () => void = () => undefined;
    h.reconciler.reconfigure({
      spec: h.opts.spec,
      secrets: new Map(),
      prober: (c) => {
        seen.push(c.name);
        const result = { ok: true, ms: 1, at: h.clock.now(), message: "" };
        return c.name === "falkordb" ? new Promise((resolve) => (answer = () => resolve({ ...result, at: h.clock.now() }))) : Promise.resolve(result);
      },
    });
    await advance(h, 35_000, 500);
    // falkordb's first probe is still out; the others were probed every 10 s meanwhile.
    expect(seen.filter((n) => n === "falkordb")).toHaveLength(1);
    expect(seen.filter((n) => n === "valkey").length).toBeGreaterThanOrEqual(3);
    answer();
    await advance(h, 10_500, 500);
    expect(seen.filter((n) => n === "falkordb")).toHaveLength(2);
  });

  it("an exit is seen at once through the event stream, not at the next relist", async () => {
    const { h, supervisor } = await started();
    await untilSettled(h, supervisor);
    await advance(h, 1_000);
    const before = h.runtime.byName("valkey")!.startedAt;
    h.runtime.crash("valkey", 137);
    await advance(h, 100);
    expect(h.runtime.byName("valkey")!.startedAt).toBeGreaterThan(before!);
    expect(h.reconciler.history.get("valkey")).toMatchObject({ lastExitCode: 137, restarts: 1 });
  });
});

describe("a pass's deadline", () => {
  it("cuts short an observation that never answers; the loop stays alive and retries", async () => {
    const h = new Harness({ spec: chainSpec() });
    let hung = 0;
    const observe = h.runtime.observe.bind(h.runtime);
    h.runtime.observe = (pod: string): Promise<Observed> => {
      if (hung++ === 0) return new Promise(() => undefined); // never answers, ignores any signal
      return observe(pod);
    };
    const results: boolean[] = [];
    const supervisor = h.supervise({ passDeadlineMs: 5_000, onPassDone: (_ms, ok) => void results.push(ok) });
    running.push(supervisor);
    supervisor.start("up");
    await advance(h, 4_900);
    expect(results).toEqual([]);
    expect(supervisor.loopAlive()).toBe(true);
    await advance(h, 200);
    expect(results).toEqual([false]);
    expect(supervisor.snapshot().error).toContain("no progress for 5000 ms");
    expect(supervisor.loopAlive()).toBe(true);
    await untilSettled(h, supervisor);
  });

  it("a pass stuck past its deadline in something that ignores it: the loop counts as stuck (no watchdog ping, /healthz 503)", async () => {
    const h = new Harness({ spec: chainSpec() });
    let answer: () => void = () => undefined;
    h.runtime.startContainer = () => new Promise<void>((resolve) => (answer = resolve)); // a start that does not return
    const supervisor = h.supervise({ passDeadlineMs: 5_000 });
    running.push(supervisor);
    supervisor.start("up");
    await advance(h, 5_000);
    expect(supervisor.loopAlive()).toBe(true);
    await advance(h, 1_100);
    expect(supervisor.loopAlive()).toBe(false);
    answer(); // it answers at last: the pass ends, the loop is alive again
    await flush();
    expect(supervisor.loopAlive()).toBe(true);
  });

  it("progress of long work inside a pass (an image build) moves its deadline", async () => {
    const h = new Harness({ spec: chainSpec() });
    h.runtime.images.delete("localhost/valkey:test");
    let release: () => void = () => undefined;
    h.runtime.pullImage = (ref: string) =>
      new Promise<void>((resolve) => {
        release = () => {
          h.runtime.images.add(ref);
          resolve();
        };
      });
    const results: boolean[] = [];
    const supervisor = h.supervise({ passDeadlineMs: 5_000, onPassDone: (_ms, ok) => void results.push(ok) });
    running.push(supervisor);
    supervisor.start("up");
    await advance(h, 100);
    for (let i = 0; i < 4; i++) {
      await advance(h, 4_000);
      supervisor.noteProgress(); // a line of pull progress every 4 s
    }
    expect(supervisor.loopAlive()).toBe(true);
    release();
    await untilSettled(h, supervisor);
    expect(results.slice(0, 2)).toEqual([true, true]); // the create-pod pass, then the long one: neither cut short
  });
});
