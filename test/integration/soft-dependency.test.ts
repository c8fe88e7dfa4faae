// A soft edge (opencode -> datadog, as the shipped configs have it) on the fake runtime and a
// fake clock: the Agent still starts first and is waited for, but once it has failed OpenCode
// starts without it, and its crash loop never touches OpenCode.

import { describe, expect, it } from "vitest";
import type { PodSpec } from "../../src/domain/spec.js";
import type { Prober } from "../../src/probes/prober.js";
import { Harness } from "../support/harness.js";
import { chainSpec } from "../support/pod-spec.js";

/** The seed's chain with OpenCode's edge to the Agent soft (the Agent's start period: 60 s). */
const softChain = (): PodSpec => {
  const base = chainSpec();
  return { ...base, containers: base.containers.map((c) => (c.name === "opencode" ? { ...c, dependsOn: [{ name: "datadog", restart: false, soft: true }] } : c)) };
};

const START_PERIOD_MS = 60_000;
const at = (h: Harness, op: string, name: string, nth = 0) => h.runtime.journal.filter((j) => j.op === op && j.name === name)[nth]?.at;
const indexOf = (h: Harness, op: string, name: string) => h.runtime.journal.findIndex((j) => j.op === op && j.name === name);
/** A prober for a reloaded spec: ready as soon as it runs. */
const runningIsReady = (h: Harness): Prober => async (_c, o) => ({ ok: o.running, ms: 1, at: h.clock.now(), message: "" });
const opencodeReady = (h: Harness) => h.reconciler.history.get("opencode")?.ready === true;

describe("a soft dependency on the fake runtime", () => {
  it("never ready: the dependent starts once the dependency's start period has passed, not before", async () => {
    const h = new Harness({ spec: softChain(), readyAfterMs: { datadog: Number.POSITIVE_INFINITY } });
    // A pass per probe of the Agent for its whole start period (every 10 ms at first).
    await h.runUntil(() => opencodeReady(h), 1_500);
    const agentStart = at(h, "start", "datadog")!;
    const opencodeStart = at(h, "start", "opencode")!;
    expect(opencodeStart - agentStart).toBeGreaterThanOrEqual(START_PERIOD_MS);
    // Started in the pass that gave up on the Agent (the fake clock moves 1 ms per pass).
    expect(opencodeStart - agentStart).toBeLessThan(START_PERIOD_MS + 100);
    expect(indexOf(h, "stop", "datadog")).toBeLessThan(indexOf(h, "create", "opencode"));
    expect(h.reconciler.history.get("datadog")).toMatchObject({ lastReason: "start-timeout", ready: false });
    expect(h.reconciler.lastPlan).toMatchObject({ serving: true, settled: false });
  });

  it("crashes at once: the dependent starts promptly, well before the Agent's next attempts", async () => {
    const h = new Harness({ spec: softChain() });
    h.runtime.exitOnStart.set("datadog", 1);
    await h.runUntil(() => opencodeReady(h));
    const agentStart = at(h, "start", "datadog")!;
    // Dependency first, then the dependent, within the first (zero) retry delay plus a pass or two.
    expect(indexOf(h, "start", "datadog")).toBeLessThan(indexOf(h, "create", "opencode"));
    expect(at(h, "start", "opencode")! - agentStart).toBeLessThan(1_000);
    expect(h.reconciler.history.get("datadog")).toMatchObject({ lastExitCode: 1, lastReason: "exited (code 1)" });
  });

  it("crash-loops with backoff: the dependent keeps running, untouched, and the pod keeps serving", async () => {
    const h = new Harness({ spec: softChain() });
    h.runtime.exitOnStart.set("datadog", 1);
    await h.runUntil(() => opencodeReady(h));
    const opencodeId = h.runtime.byName("opencode")!.id;
    const serving: boolean[] = [];
    const end = h.clock.now() + 10 * 60_000;
    while (h.clock.now() < end) serving.push((await h.step()).serving);
    const agentStarts = h.runtime.journal.filter((j) => j.op === "start" && j.name === "datadog").map((j) => j.at);
    const gaps = agentStarts.slice(1).map((t, i) => t - agentStarts[i]!);
    expect(agentStarts.length).toBeGreaterThanOrEqual(8);
    // Backoff grows (1 s, 2 s, 4 s ...) up to the 2 min cap; no jitter with random = 0.5.
    expect(gaps.slice(1, 5).map((g) => Math.round(g / 1000))).toEqual([1, 2, 4, 8]);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(120_000 + 10);
    expect(h.runtime.order("start").filter((n) => n === "opencode")).toHaveLength(1);
    expect(h.runtime.order("stop")).not.toContain("opencode");
    expect(h.runtime.byName("opencode")).toMatchObject({ id: opencodeId, running: true });
    expect(serving.every(Boolean)).toBe(true);
    expect(h.reconciler.history.get("datadog")!.restarts).toBe(agentStarts.length - 1);
  });

  it("healthy: the dependency is still started first and waited for until ready (order unchanged)", async () => {
    const h = new Harness({ spec: softChain(), readyAfterMs: { datadog: 1_500 } });
    await h.runUntil((p) => p.settled);
    expect(h.runtime.order("start")).toEqual(["valkey", "falkordb", "datadog", "opencode"]);
    expect(at(h, "start", "opencode")!).toBeGreaterThanOrEqual(h.firstPassAt("datadog")!);
    expect(at(h, "start", "opencode")! - at(h, "start", "datadog")!).toBeGreaterThanOrEqual(1_500);
    expect(h.reconciler.lastPlan).toMatchObject({ settled: true, serving: true });
  });

  it("once the Agent works again (its key added), it becomes ready and the pod settles; OpenCode is not restarted", async () => {
    const h = new Harness({ spec: softChain() });
    h.runtime.exitOnStart.set("datadog", 1);
    await h.runUntil(() => opencodeReady(h));
    for (let i = 0; i < 20; i++) await h.step();
    h.runtime.exitOnStart.delete("datadog");
    await h.runUntil((r) => r.settled);
    expect(h.reconciler.history.get("datadog")!.ready).toBe(true);
    expect(h.runtime.order("start").filter((n) => n === "opencode")).toHaveLength(1);
  });

  it("the pod removed by hand while all is well: restored in order, OpenCode started only once the Agent is ready again", async () => {
    const h = new Harness({ spec: softChain(), readyAfterMs: { datadog: 1_500 } });
    await h.runUntil((r) => r.settled);
    // One crash of the ready Agent first: the removal is its second failure, so it backs off (1 s).
    h.runtime.crash("datadog", 137);
    await h.runUntil((r) => r.settled);
    const from = h.runtime.journal.length;
    h.runtime.removePodByHand();
    await h.runUntil((r) => r.settled);
    const after = h.runtime.journal.slice(from);
    const startOf = (n: string) => after.find((j) => j.op === "start" && j.name === n)!.at;
    expect(after.filter((j) => j.op === "start").map((j) => j.name)).toEqual(["valkey", "falkordb", "datadog", "opencode"]);
    // Every container "failed" (removed), but the Agent had been ready: it is waited for again,
    // through its backoff too.
    expect(h.reconciler.history.get("datadog")!.failures).toBe(2);
    expect(startOf("opencode") - startOf("datadog")).toBeGreaterThanOrEqual(1_500);
  });

  it("a changed Agent (a reload) is waited for: not serving until it is recreated and ready, OpenCode untouched", async () => {
    const h = new Harness({ spec: softChain(), readyAfterMs: { datadog: 1_500 } });
    await h.runUntil((r) => r.settled);
    const before = h.runtime.byName("datadog")!.id;
    const changed = softChain();
    const spec = { ...changed, containers: changed.containers.map((c) => (c.name === "datadog" ? { ...c, env: { DD_ENV: "changed" } } : c)) };
    h.reconciler.reconfigure({ spec, secrets: new Map(), prober: runningIsReady(h) });
    const passes: { serving: boolean; agent: string | undefined }[] = [];
    await h.runUntil((r) => {
      passes.push({ serving: r.serving, agent: h.reconciler.history.get("datadog")?.state });
      return r.serving;
    });
    expect(passes[0]).toEqual({ serving: false, agent: "stopping" });
    expect(h.runtime.byName("datadog")!.id).not.toBe(before);
    expect(h.reconciler.history.get("datadog")!.ready).toBe(true);
    expect(h.runtime.order("start").filter((n) => n === "opencode")).toHaveLength(1);
  });

  it("the key added after a long crash loop: the changed Agent is started at once, not after the loop's backoff", async () => {
    const withSecrets = (): PodSpec => {
      const base = softChain();
      return { ...base, containers: base.containers.map((c) => (c.name === "datadog" ? { ...c, secretEnv: "all" as const } : c)) };
    };
    const h = new Harness({ spec: withSecrets(), secrets: new Map([["OTHER", "x"]]) });
    h.runtime.exitOnStart.set("datadog", 1);
    await h.runUntil(() => (h.reconciler.history.get("datadog")?.nextAttemptAt ?? 0) - h.clock.now() >= 60_000);
    const fixedAt = h.clock.now();
    h.runtime.exitOnStart.delete("datadog");
    const diff = h.reconciler.reconfigure({ spec: withSecrets(), secrets: new Map([["OTHER", "x"], ["DD_API_KEY", "k"]]), prober: runningIsReady(h) });
    expect(diff.changed).toEqual(["datadog"]);
    await h.runUntil((r) => r.settled);
    expect(at(h, "start", "datadog", h.runtime.order("start").filter((n) => n === "datadog").length - 1)! - fixedAt).toBeLessThan(100);
    expect(h.reconciler.history.get("datadog")).toMatchObject({ ready: true, failures: 0 });
  });

  it("making an edge soft changes no container's spec hash: a reload recreates nothing", async () => {
    const h = new Harness({ spec: chainSpec() });
    await h.runUntil((r) => r.settled);
    const journalLength = h.runtime.journal.length;
    const soft = softChain();
    const result = h.reconciler.reconfigure({ spec: soft, secrets: new Map(), prober: runningIsReady(h) });
    expect(result).toEqual({ changed: [], podChanged: false });
    await h.step();
    expect(h.runtime.journal.slice(journalLength).map((j) => j.op)).toEqual([]);
  });
});
