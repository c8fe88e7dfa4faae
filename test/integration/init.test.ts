// Init containers on the fake runtime: run to completion before dependents start.

import { describe, expect, it } from "vitest";
import { Harness } from "../support/harness.js";
import { chainSpec, container } from "../support/pod-spec.js";

const spec = chainSpec({
  containers: [container("db"), container("clone", ["db"], { init: true, probe: undefined }), container("app", ["clone"])],
});

describe("init containers", () => {
  it("the dependent starts only after the init step exited 0; the pod then counts as ready", async () => {
    const h = new Harness({ spec });
    h.runtime.exitOnStart.set("clone", 0);
    await h.runUntil((r) => r.settled);
    const starts = h.runtime.journal.filter((j) => j.op === "start").map((j) => j.name);
    expect(starts).toEqual(["db", "clone", "app"]);
    expect(h.reconciler.history.get("clone")).toMatchObject({ state: "ready", failures: 0 });
    // Not run again while the pod lives.
    for (let i = 0; i < 10; i++) await h.step(1_000);
    expect(h.runtime.order("start").filter((n) => n === "clone")).toHaveLength(1);
  });

  it("a failing init step is retried with backoff and its dependents wait", async () => {
    const h = new Harness({ spec });
    h.runtime.exitOnStart.set("clone", 128);
    for (let i = 0; i < 30; i++) await h.step(100);
    expect(h.runtime.order("start").filter((n) => n === "clone").length).toBeGreaterThanOrEqual(3);
    expect(h.runtime.order("create")).not.toContain("app");
    expect(h.reconciler.history.get("clone")).toMatchObject({ lastExitCode: 128, lastReason: "exited (code 128)" });
    h.runtime.exitOnStart.set("clone", 0);
    await h.runUntil((r) => r.settled);
    expect(h.runtime.order("start").at(-1)).toBe("app");
  });

  it("a new daemon adopts a completed init step without running it again", async () => {
    const h = new Harness({ spec });
    h.runtime.exitOnStart.set("clone", 0);
    await h.runUntil((r) => r.settled);
    const mark = h.runtime.journal.length;
    const r2 = h.another();
    let settled = false;
    for (let i = 0; i < 5 && !settled; i++) settled = (await h.pass(r2)).settled;
    expect(settled).toBe(true);
    expect(h.runtime.journal.slice(mark)).toEqual([]);
  });
});
