import { describe, expect, it } from "vitest";
import { PodmanUnavailableError } from "../../src/lib/errors.js";
import type { Reconciler } from "../../src/supervisor/reconciler.js";
import { Harness } from "../support/harness.js";
import { chainSpec, container } from "../support/pod-spec.js";

const CHAIN = ["valkey", "falkordb", "datadog", "opencode"];

describe("start-up on the fake runtime", () => {
  it("creates the pod first, then starts the chain in dependency order", async () => {
    const h = new Harness({ spec: chainSpec(), readyAfterMs: { valkey: 300, falkordb: 700, datadog: 1500, opencode: 400 } });
    await h.runUntil((r) => r.settled);
    expect(h.runtime.journal[0]).toMatchObject({ op: "create-pod", name: "testpod" });
    expect(h.runtime.order("start")).toEqual(CHAIN);
    expect([...h.reconciler.history.values()].every((x) => x.state === "ready")).toBe(true);
  });

  it("starts each container only after its dependency first passed its probe", async () => {
    const h = new Harness({ spec: chainSpec(), readyAfterMs: { valkey: 300, falkordb: 700, datadog: 1500, opencode: 400 } });
    await h.runUntil((r) => r.settled);
    const startAt = (n: string) => h.runtime.journal.find((j) => j.op === "start" && j.name === n)!.at;
    for (const [dep, dependent] of [["valkey", "falkordb"], ["falkordb", "datadog"], ["datadog", "opencode"]] as const) {
      expect(startAt(dependent)).toBeGreaterThanOrEqual(h.firstPassAt(dep)!);
    }
    // A slow dependency delays everything after it: datadog needs 1.5 s, so opencode starts at least that late after datadog.
    expect(startAt("opencode") - startAt("datadog")).toBeGreaterThanOrEqual(1500);
  });

  it("a dependency that never becomes ready blocks its dependents and turns into a visible failure at its deadline", async () => {
    const spec = chainSpec();
    const h = new Harness({ spec, readyAfterMs: { falkordb: Number.POSITIVE_INFINITY } });
    // Run well past falkordb's 60 s start period.
    for (let i = 0; i < 1_500 && h.clock.now() < Date.parse("2026-01-01T00:01:30Z"); i++) await h.step();
    expect(h.runtime.order("create")).toEqual(["valkey", "falkordb"]);
    const falkor = h.reconciler.history.get("falkordb")!;
    expect(falkor.failures).toBeGreaterThanOrEqual(1);
    expect(falkor.lastReason).toBe("start-timeout");
    expect(h.runtime.order("stop")).toContain("falkordb");
    expect(h.reconciler.history.get("datadog")!.state).toBe("pending");
    expect(h.reconciler.history.get("opencode")!.state).toBe("pending");
  });

  it("retries a container whose start is refused, with growing delays", async () => {
    const h = new Harness({ spec: chainSpec() });
    h.runtime.failStarts.set("valkey", 3);
    await h.runUntil((r) => r.settled);
    const attempts = h.runtime.journal.filter((j) => j.name === "valkey" && (j.op === "start-failed" || j.op === "start"));
    const gaps = attempts.slice(1).map((a, i) => a.at - attempts[i]!.at);
    // First failure retried at once, then 1 s, then 2 s (no jitter with random = 0.5).
    expect(attempts.map((a) => a.op)).toEqual(["start-failed", "start-failed", "start-failed", "start"]);
    expect(gaps[0]).toBeLessThan(50);
    expect(gaps[1]).toBeGreaterThanOrEqual(1000);
    expect(gaps[2]).toBeGreaterThanOrEqual(2000);
    expect(h.reconciler.history.get("valkey")!.restarts).toBe(3);
  });
});

describe("adoption", () => {
  const second = (h: Harness, spec = h.opts.spec) => h.another({ spec });

  it("a new supervisor over a running pod with matching hashes changes nothing", async () => {
    const h = new Harness({ spec: chainSpec() });
    await h.runUntil((r) => r.settled);
    const before = [...h.runtime.containers.values()].map((c) => [c.id, c.startedAt]);
    const journalLength = h.runtime.journal.length;
    const r2 = second(h);
    let settled = false;
    for (let i = 0; i < 10 && !settled; i++) settled = (await h.pass(r2)).settled;
    expect(settled).toBe(true);
    expect(h.runtime.journal.length).toBe(journalLength);
    expect([...h.runtime.containers.values()].map((c) => [c.id, c.startedAt])).toEqual(before);
  });

  it("a new supervisor over a pod that has run for hours (past every start period) probes before it judges: nothing restarted", async () => {
    const h = new Harness({ spec: chainSpec() });
    await h.runUntil((r) => r.settled);
    h.clock.advance(3 * 3600_000);
    const before = [...h.runtime.containers.values()].map((c) => [c.id, c.startedAt]);
    const journalLength = h.runtime.journal.length;
    const r2 = second(h);
    // The first pass comes before any probe (the scheduler runs them beside the loop, as in the daemon).
    await r2.reconcileOnce();
    let settled = false;
    for (let i = 0; i < 10 && !settled; i++) settled = (await h.pass(r2)).settled;
    expect(settled).toBe(true);
    expect(h.runtime.journal.slice(journalLength)).toEqual([]);
    expect([...h.runtime.containers.values()].map((c) => [c.id, c.startedAt])).toEqual(before);
    expect([...r2.history.values()].map((x) => x.state)).toEqual(["ready", "ready", "ready", "ready"]);
  });

  it("an adopted container whose probe keeps failing gets a start period from adoption, then is restarted (start-timeout)", async () => {
    const h = new Harness({ spec: chainSpec() });
    await h.runUntil((r) => r.settled);
    h.clock.advance(3 * 3600_000);
    const r2 = h.another({}, (c) => c.name !== "valkey");
    const adoptedAt = h.clock.now();
    const mark = h.runtime.journal.length;
    const period = chainSpec().containers.find((c) => c.name === "valkey")!.probe!.startPeriodMs;
    for (let i = 0; i < 200 && !h.runtime.journal.slice(mark).some((j) => j.op === "stop"); i++) {
      const r = await h.pass(r2);
      h.clock.advance(Math.max(1, Math.min(r.requeueAfterMs ?? 1000, 1000)));
    }
    const stop = h.runtime.journal.slice(mark).find((j) => j.op === "stop");
    expect(stop).toMatchObject({ name: "valkey" });
    expect(stop!.at - adoptedAt).toBeGreaterThanOrEqual(period);
    expect(stop!.at - adoptedAt).toBeLessThan(period + 2_000);
    expect(r2.history.get("valkey")!.stopReason).toBe("start-timeout");
  });

  it("recreates only the container whose spec changed", async () => {
    const h = new Harness({ spec: chainSpec() });
    await h.runUntil((r) => r.settled);
    const base = chainSpec();
    const changed = { ...base, containers: base.containers.map((c) => (c.name === "datadog" ? { ...c, env: { DD_SITE: "datadoghq.eu" } } : c)) };
    const ids = new Map([...h.runtime.containers.values()].map((c) => [h.runtime.logical(c), c.id]));
    const mark = h.runtime.journal.length;
    const r2 = second(h, changed);
    let settled = false;
    for (let i = 0; i < 20 && !settled; i++) {
      settled = (await h.pass(r2)).settled;
      h.clock.advance(10);
    }
    expect(settled).toBe(true);
    const ops = h.runtime.journal.slice(mark).map((j) => `${j.op} ${j.name}`);
    expect(ops).toEqual(["stop datadog", "remove datadog", "create datadog", "start datadog"]);
    for (const n of ["valkey", "falkordb", "opencode"]) expect(h.runtime.byName(n)!.id).toBe(ids.get(n));
  });
});

describe("shutdown", () => {
  it("stops in reverse dependency order, then removes the pod", async () => {
    const h = new Harness({ spec: chainSpec() });
    await h.runUntil((r) => r.settled);
    h.reconciler.mode = "down";
    await h.runUntil((r) => r.settled);
    expect(h.runtime.order("stop")).toEqual([...CHAIN].reverse());
    expect(h.runtime.journal.at(-1)).toMatchObject({ op: "remove-pod" });
    expect(h.runtime.pod).toBeNull();
    // A clean shutdown is not a failure.
    expect([...h.reconciler.history.values()].every((x) => x.failures === 0)).toBe(true);
  });

  it("stops independent containers without waiting on unrelated ones", async () => {
    const spec = chainSpec({ containers: [container("a"), container("b"), container("c", ["a", "b"])] });
    const h = new Harness({ spec });
    await h.runUntil((r) => r.settled);
    h.reconciler.mode = "down";
    await h.runUntil((r) => r.settled);
    expect(h.runtime.order("stop")[0]).toBe("c");
    expect(new Set(h.runtime.order("stop").slice(1))).toEqual(new Set(["a", "b"]));
  });
});

describe("failures", () => {
  it("restarts a crashed container at once the first time", async () => {
    const h = new Harness({ spec: chainSpec() });
    await h.runUntil((r) => r.settled);
    h.runtime.crash("valkey", 137);
    const crashAt = h.clock.now();
    await h.runUntil((r) => r.settled);
    const restart = h.runtime.journal.filter((j) => j.op === "start" && j.name === "valkey")[1]!;
    expect(restart.at - crashAt).toBeLessThan(50);
    expect(h.reconciler.history.get("valkey")).toMatchObject({ restarts: 1, lastExitCode: 137, lastReason: "exited (code 137)" });
  });

  it("refuses to touch a pod of the same name that podwarden did not create", async () => {
    const h = new Harness({ spec: chainSpec() });
    h.runtime.pod = { id: "p0", name: "testpod", labels: {}, managed: false };
    await expect(h.reconciler.reconcileOnce()).rejects.toMatchObject({ code: "E_CONFLICT", message: expect.stringContaining("not created by podwarden") });
    h.reconciler.mode = "down";
    await expect(h.reconciler.reconcileOnce()).rejects.toMatchObject({ code: "E_CONFLICT" });
    expect(h.runtime.journal).toEqual([]);
  });

  it("reports Podman being unreachable as PodmanUnavailableError", async () => {
    const h = new Harness({ spec: chainSpec() });
    h.runtime.unavailable = true;
    await expect(h.reconciler.reconcileOnce()).rejects.toBeInstanceOf(PodmanUnavailableError);
  });

  it("never hands secret values to the runtime except through ensureSecret", async () => {
    const spec = chainSpec({ containers: [container("valkey", [], { secretEnv: ["TOKEN"] })] });
    const h = new Harness({ spec, secrets: new Map([["TOKEN", "s3cr3t-value-123"]]) });
    await h.runUntil((r) => r.settled);
    const req = h.runtime.byName("valkey")!.req;
    expect(JSON.stringify(req)).not.toContain("s3cr3t-value-123");
    expect(req.secretFile?.keys).toEqual(["TOKEN"]);
    expect(h.runtime.secrets.get(req.secretFile!.secret)).toBe("export TOKEN='s3cr3t-value-123'\n");
  });
});

describe("secrets", () => {
  it("a changed secret value recreates the container and prunes the old secret once settled", async () => {
    const spec = chainSpec({ containers: [container("valkey", [], { secretEnv: ["TOKEN"] }), container("app", ["valkey"])] });
    const h = new Harness({ spec, secrets: new Map([["TOKEN", "first-value-1"]]) });
    await h.runUntil((r) => r.settled);
    const oldSecret = h.runtime.byName("valkey")!.req.secretFile!.secret;
    const r2 = h.another({ secrets: new Map([["TOKEN", "second-value-2"]]) });
    const appId = h.runtime.byName("app")!.id;
    let passes = 0;
    while (!(await h.pass(r2)).settled && passes++ < 20) h.clock.advance(10);
    await h.pass(r2);
    const newSecret = h.runtime.byName("valkey")!.req.secretFile!.secret;
    expect(newSecret).not.toBe(oldSecret);
    expect([...h.runtime.secrets.keys()]).toEqual([newSecret]);
    expect(h.runtime.secrets.get(newSecret)).toBe("export TOKEN='second-value-2'\n");
    expect(h.runtime.byName("app")!.id).toBe(appId);
  });

  it("prunes unused secrets once every container exists as desired, while the last one still starts", async () => {
    const spec = chainSpec({ containers: [container("valkey", [], { secretEnv: ["TOKEN"] }), container("app", ["valkey"])] });
    const h = new Harness({ spec, secrets: new Map([["TOKEN", "first-value-1"]]), readyAfterMs: { app: 60_000 } });
    h.runtime.secrets.set(`${spec.name}--left-over`, "export OLD='x'\n");
    let r = await h.pass();
    for (let i = 0; i < 20 && !h.runtime.byName("app"); i++) {
      h.clock.advance(10);
      r = await h.pass();
    }
    await h.pass();
    expect(r.settled).toBe(false);
    expect(h.reconciler.history.get("app")).toMatchObject({ ready: false });
    expect([...h.runtime.secrets.keys()]).toEqual([h.runtime.byName("valkey")!.req.secretFile!.secret]);
  });

  const settle = async (r: Reconciler, h: Harness): Promise<void> => {
    for (let i = 0; i < 50; i++) {
      if ((await h.pass(r)).settled) return;
      h.clock.advance(10);
    }
    throw new Error("not settled");
  };
  const withSecrets = () =>
    new Harness({
      spec: chainSpec({ containers: [container("valkey", [], { secretEnv: ["TOKEN"] }), container("app", ["valkey"], { secretEnv: ["OTHER_*"] })] }),
      secrets: new Map([["TOKEN", "stable-value-1"]]),
    });

  it("a restarted daemon with the same naming key adopts every container: same names, no operation", async () => {
    const h = withSecrets();
    await h.runUntil((r) => r.settled);
    const ids = [...h.runtime.containers.values()].map((c) => c.id);
    const names = [...h.runtime.secrets.keys()];
    const mark = h.runtime.journal.length;
    await settle(h.another(), h);
    expect(h.runtime.journal.slice(mark)).toEqual([]);
    expect([...h.runtime.containers.values()].map((c) => c.id)).toEqual(ids);
    expect([...h.runtime.secrets.keys()]).toEqual(names);
  });

  it("another naming key renames the secret: only the container that has one is recreated (as after an upgrade)", async () => {
    const h = withSecrets();
    await h.runUntil((r) => r.settled);
    const appId = h.runtime.byName("app")!.id;
    const old = h.runtime.byName("valkey")!.req.secretFile!.secret;
    const r2 = h.another({ namingKey: new Uint8Array(32).fill(9) });
    await settle(r2, h);
    await h.pass(r2);
    const renamed = h.runtime.byName("valkey")!.req.secretFile!.secret;
    expect(renamed).not.toBe(old);
    expect([...h.runtime.secrets.keys()]).toEqual([renamed]);
    // app's OTHER_* matches no key: it has no secret, so the key does not touch it.
    expect(h.runtime.byName("app")!.req.secretFile).toBeUndefined();
    expect(h.runtime.byName("app")!.id).toBe(appId);
  });
});
