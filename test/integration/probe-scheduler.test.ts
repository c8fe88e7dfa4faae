// When probes run, on the fake runtime and clock: never for held containers, init steps,
// containers that are not running, or while the pod is taken down; and a result about an
// instance that is gone by the time it comes back is dropped.

import { describe, expect, it } from "vitest";
import { DEFAULT_BACKOFF } from "../../src/domain/backoff.js";
import { MAX_START_PROBES_OUT, PROBE_GRID_MS, onProbeGrid } from "../../src/domain/history.js";
import type { PodSpec, ProbeSpec } from "../../src/domain/spec.js";
import type { Prober } from "../../src/probes/prober.js";
import { Reconciler } from "../../src/supervisor/reconciler.js";
import { Harness, silentLogger, TEST_NAMING_KEY } from "../support/harness.js";
import { chainSpec, container, probe } from "../support/pod-spec.js";

const probedAfter = (h: Harness, mark: number): string[] => h.probes.slice(mark).map((p) => p.name);

/** The pod up, and the clock at the time every ready container's next probe is due. */
const upAndDue = async (spec = chainSpec()): Promise<Harness> => {
  const h = new Harness({ spec });
  await h.runUntil((r) => r.settled);
  h.clock.advance(10_000 + PROBE_GRID_MS);
  return h;
};

/** Another reconciler over the harness's runtime and clock, whose probes are `prober`'s. */
const reconcilerOver = (h: Harness, spec: PodSpec, prober: Prober): Reconciler =>
  new Reconciler({
    spec,
    secrets: new Map(),
    namingKey: TEST_NAMING_KEY,
    runtime: h.runtime,
    clock: h.clock,
    logger: silentLogger(),
    backoff: DEFAULT_BACKOFF,
    random: () => 0.5,
    kick: () => undefined,
    prober,
  });

/** A reconciler over one container whose every probe waits to be answered by the test. */
const heldProbes = async (over: Partial<ProbeSpec> = {}) => {
  const spec = chainSpec({ containers: [container("solo", [], { probe: probe(1000, over) })] });
  const h = new Harness({ spec });
  const calls: ((ok: boolean) => void)[] = [];
  const r = reconcilerOver(h, spec, () => new Promise((resolve) => calls.push((ok) => resolve({ ok, ms: 1, at: h.clock.now(), message: ok ? "ok" : "no" }))));
  await r.reconcileOnce(); // creates the pod
  await r.reconcileOnce(); // creates and starts solo
  await r.reconcileOnce(); // sees it run: its first probe is due now
  return { h, r, calls };
};

describe("the probe scheduler", () => {
  it("probes every running container when due, and only then", async () => {
    const h = await upAndDue();
    const mark = h.probes.length;
    expect(await h.reconciler.probes.runDue()).toBe(false);
    expect(probedAfter(h, mark).sort()).toEqual(["datadog", "falkordb", "opencode", "valkey"]);
    await h.reconciler.probes.runDue(); // nothing due again before the interval
    expect(h.probes.length - mark).toBe(4);
    expect(h.reconciler.probes.nextDueAt()).toBe(onProbeGrid(h.clock.now() + 10_000));
  });

  it("never probes a held container", async () => {
    const h = await upAndDue();
    h.reconciler.hold("falkordb");
    const mark = h.probes.length;
    await h.reconciler.probes.runDue();
    expect(probedAfter(h, mark)).not.toContain("falkordb");
    h.reconciler.release("falkordb");
    await h.reconciler.probes.runDue();
    expect(probedAfter(h, mark)).toContain("falkordb");
  });

  it("never probes while the pod is taken down", async () => {
    const h = await upAndDue();
    h.reconciler.mode = "down";
    const mark = h.probes.length;
    await h.reconciler.probes.runDue();
    expect(h.probes.length).toBe(mark);
    expect(h.reconciler.probes.nextDueAt()).toBeUndefined();
  });

  it("never probes a container the last pass saw exited", async () => {
    const h = await upAndDue();
    h.runtime.exitOnStart.set("opencode", 1);
    h.runtime.crash("opencode", 1);
    await h.reconciler.reconcileOnce(); // sees the exit, restarts it: it exits again at once
    await h.reconciler.reconcileOnce();
    expect(h.reconciler.history.get("opencode")!.running).toBe(false);
    const mark = h.probes.length;
    await h.reconciler.probes.runDue();
    expect(probedAfter(h, mark)).not.toContain("opencode");
  });

  it("never probes an init step (its exit code is its result)", async () => {
    const spec = chainSpec({ containers: [container("clone", [], { init: true, probe: probe(1) }), container("app", ["clone"])] });
    const h = new Harness({ spec });
    h.readyAfterMs.clone = 0;
    await h.pass(); // creates the pod
    await h.pass(); // creates and starts clone, which keeps running (no exit configured)
    await h.pass(); // sees it run
    expect(h.reconciler.history.get("clone")!.running).toBe(true);
    await h.reconciler.probes.runDue();
    expect(h.probes.map((p) => p.name)).not.toContain("clone");
    expect(h.reconciler.probes.nextDueAt()).toBeUndefined();
  });

  it("drops a result about an instance that was replaced while the probe ran", async () => {
    const h = new Harness({ spec: chainSpec({ containers: [container("solo")] }) });
    await h.runUntil((r) => r.settled);
    h.clock.advance(10_000);
    let answer: (ok: boolean) => void = () => undefined;
    // A second reconciler over the same pod whose probe waits to be answered.
    const r = reconcilerOver(h, h.opts.spec, () => new Promise((resolve) => (answer = (ok) => resolve({ ok, ms: 1, at: h.clock.now(), message: "" }))));
    await r.reconcileOnce(); // adopts the running instance
    const inFlight = r.probes.runDue();
    h.runtime.crash("solo", 1);
    await r.reconcileOnce(); // sees the exit and starts it again
    await r.reconcileOnce(); // sees the new instance
    const instance = r.history.get("solo")!.instance;
    answer(true); // the old instance's probe passes, late
    await inFlight;
    expect(r.history.get("solo")).toMatchObject({ instance, ready: false, lastProbe: undefined });
  });

  it("keeps probing a starting container on its start cadence while an earlier probe is held (a server that accepts and never answers)", async () => {
    const { h, r, calls } = await heldProbes();
    void r.probes.runDue(); // the first probe: held by the server
    expect(calls).toHaveLength(1);
    const next = r.probes.nextDueAt();
    expect(next).toBeGreaterThan(h.clock.now()); // due again on the start cadence, not after the 1 s timeout
    h.clock.advance(next! - h.clock.now());
    const second = r.probes.runDue();
    expect(calls).toHaveLength(2);
    calls[1]!(true);
    expect(await second).toBe(true); // the verdict changed: ready
    expect(r.history.get("solo")).toMatchObject({ ready: true, consecutiveFailures: 0 });
    calls[0]!(false); // the held probe comes back failed, after the container was seen ready
    await Promise.resolve();
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.history.get("solo")).toMatchObject({ ready: true, consecutiveFailures: 0 });
    expect(r.history.get("solo")!.lastProbe?.ok).toBe(true);
  });

  it("folds results in the order the probes went out: an older failure after a newer one's result is dropped", async () => {
    const { h, r, calls } = await heldProbes();
    void r.probes.runDue();
    h.clock.advance(r.probes.nextDueAt()! - h.clock.now());
    const second = r.probes.runDue();
    calls[1]!(false); // refused: not yet
    await second;
    const after = r.history.get("solo")!;
    calls[0]!(false); // the older one times out later
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.history.get("solo")).toBe(after);
  });

  it("has at most MAX_START_PROBES_OUT out for a starting container, and one for a ready one", async () => {
    const { h, r, calls } = await heldProbes();
    for (let i = 0; i < MAX_START_PROBES_OUT + 5; i++) {
      void r.probes.runDue();
      const next = r.probes.nextDueAt();
      if (next === undefined) break;
      h.clock.advance(Math.max(1, next - h.clock.now()));
    }
    expect(calls).toHaveLength(MAX_START_PROBES_OUT);
    expect(r.probes.nextDueAt()).toBeUndefined();
    calls[MAX_START_PROBES_OUT - 1]!(true); // the newest passes: ready
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.history.get("solo")!.ready).toBe(true);
    for (const answer of calls.slice(0, -1)) answer(false);
    await new Promise((resolve) => setImmediate(resolve));
    h.clock.advance(10_000);
    void r.probes.runDue(); // the liveness probe: held
    h.clock.advance(10_000);
    void r.probes.runDue();
    expect(calls).toHaveLength(MAX_START_PROBES_OUT + 1); // not a second one while it is out
    expect(r.probes.nextDueAt()).toBeUndefined();
  });

  it("never overlaps exec probes, starting or not (each is a run inside the container)", async () => {
    const { h, r, calls } = await heldProbes({ kind: "exec", command: ["true"] } as Partial<ProbeSpec>);
    void r.probes.runDue();
    h.clock.advance(5_000);
    void r.probes.runDue();
    expect(calls).toHaveLength(1);
    expect(r.probes.nextDueAt()).toBeUndefined();
  });
});
