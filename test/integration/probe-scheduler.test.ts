// When probes run, on the fake runtime and clock: never for held containers, init steps,
// containers that are not running, or while the pod is taken down; and a result about an
// instance that is gone by the time it comes back is dropped.

import { describe, expect, it } from "vitest";
import { DEFAULT_BACKOFF } from "../../src/domain/backoff.js";
import { Reconciler } from "../../src/supervisor/reconciler.js";
import { Harness, silentLogger, TEST_NAMING_KEY } from "../support/harness.js";
import { chainSpec, container, probe } from "../support/pod-spec.js";

const probedAfter = (h: Harness, mark: number): string[] => h.probes.slice(mark).map((p) => p.name);

/** The pod up, and the clock at the time every ready container's next probe is due. */
const upAndDue = async (spec = chainSpec()): Promise<Harness> => {
  const h = new Harness({ spec });
  await h.runUntil((r) => r.settled);
  h.clock.advance(10_000);
  return h;
};

describe("the probe scheduler", () => {
  it("probes every running container when due, and only then", async () => {
    const h = await upAndDue();
    const mark = h.probes.length;
    expect(await h.reconciler.probes.runDue()).toBe(false);
    expect(probedAfter(h, mark).sort()).toEqual(["datadog", "falkordb", "opencode", "valkey"]);
    await h.reconciler.probes.runDue(); // nothing due again before the interval
    expect(h.probes.length - mark).toBe(4);
    expect(h.reconciler.probes.nextDueAt()).toBe(h.clock.now() + 10_000);
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
    const r = new Reconciler({
      spec: h.opts.spec,
      secrets: new Map(),
      namingKey: TEST_NAMING_KEY,
      runtime: h.runtime,
      clock: h.clock,
      logger: silentLogger(),
      backoff: DEFAULT_BACKOFF,
      random: () => 0.5,
      kick: () => undefined,
      prober: () => new Promise((resolve) => (answer = (ok) => resolve({ ok, ms: 1, at: h.clock.now(), message: "" }))),
    });
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
});
