import { describe, expect, it } from "vitest";
import { Harness } from "../support/harness.js";
import { chainSpec } from "../support/pod-spec.js";

describe("containers without a probe", () => {
  it("are ready once running, and then the loop has nothing to wake up for (no busy loop)", async () => {
    const spec = chainSpec({ containers: chainSpec().containers.map((c) => ({ ...c, probe: undefined })) });
    const h = new Harness({ spec });
    await h.runUntil((r) => r.settled);
    const next = await h.reconciler.reconcileOnce();
    expect(next.settled).toBe(true);
    expect(next.requeueAfterMs).toBeNull();
  });

  it("a probe-less container beside probed ones leaves the wake-up to the next probe", async () => {
    const spec = chainSpec({ containers: chainSpec().containers.map((c) => (c.name === "datadog" ? { ...c, probe: undefined } : c)) });
    const h = new Harness({ spec });
    await h.runUntil((r) => r.settled);
    const next = await h.reconciler.reconcileOnce();
    // The others are probed every 10 s once ready, on the probe scheduler's own timer: the
    // next wake-up is theirs, not "at once", and no pass is due for it.
    expect(next.requeueAfterMs).toBeNull();
    expect(h.reconciler.probes.nextDueAt()! - h.clock.now()).toBeGreaterThan(1_000);
  });
});
