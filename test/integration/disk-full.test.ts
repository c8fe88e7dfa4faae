// A full persisted filesystem on the fake runtime and a fake clock, through the reconciler, the
// snapshot, /status and /metrics: reported (fail, a note naming the filesystem, the gauges), and
// not made worse (a failing probe does not get the container restarted while it is out of space;
// an exit still does). Once it can write again it is ready and /status passes.

import { describe, expect, it } from "vitest";
import type { FsSample } from "../../src/domain/disk.js";
import type { MountSpec, PodSpec } from "../../src/domain/spec.js";
import { buildServer } from "../../src/http/server.js";
import { Metrics } from "../../src/observability/metrics.js";
import type { DiskSampler } from "../../src/probes/disk.js";
import { buildSnapshot } from "../../src/domain/snapshot.js";
import { Timeline } from "../../src/supervisor/timeline.js";
import { Harness } from "../support/harness.js";
import { chainSpec } from "../support/pod-spec.js";

const MiB = 1024 * 1024;
const persisted = (source: string): MountSpec => ({ source, target: "/data", readOnly: false, optional: false, create: true });
/** The chain with Valkey and OpenCode persisting data on /srv/persist. */
const spec = (): PodSpec => {
  const base = chainSpec();
  const dirs: Record<string, string> = { valkey: "/srv/persist/valkey", opencode: "/srv/persist/opencode" };
  return { ...base, containers: base.containers.map((c) => (dirs[c.name] ? { ...c, mounts: [persisted(dirs[c.name]!)] } : c)) };
};
const MISCONF = "server replied MISCONF Valkey is configured to save RDB snapshots, but it's currently unable to persist to disk.";

/** A filesystem whose free space the test sets; every path is on it. */
const fakeDisk = () => {
  const fs = { free: 12 * MiB, calls: 0 };
  const sampler: DiskSampler = async (paths, at) => {
    fs.calls += 1;
    return new Map(paths.map((path): [string, FsSample] => [path, { path, filesystem: "/srv/persist", freeBytes: fs.free, sizeBytes: 16 * MiB, at }]));
  };
  return { fs, sampler };
};

const setup = async () => {
  const disk = fakeDisk();
  const h = new Harness({ spec: spec(), disk: disk.sampler });
  await h.runUntil((r) => r.settled);
  const metrics = new Metrics({ version: "1", containers: h.opts.spec.containers.map((c) => c.name), persisted: ["valkey", "opencode"] });
  const snapshot = () =>
    buildSnapshot({
      spec: h.opts.spec,
      mode: "up",
      observed: h.reconciler.lastObserved,
      plan: h.reconciler.lastPlan,
      history: h.reconciler.history,
      lastError: undefined,
      podmanReachable: true,
      eventsConnected: true,
      lastPassAt: h.clock.now(),
      now: h.clock.now(),
      disk: h.reconciler.disk,
    });
  const app = buildServer({ version: "1", snapshot, timeline: () => new Timeline().entries(), warnings: () => [], metrics, alive: () => true });
  const status = async () => {
    const res = await app.inject("/status");
    return { code: res.statusCode, doc: res.json() as { status: string; notes: string[]; containers: Record<string, { state: string; disk: { full: boolean; freeBytes: number; filesystem: string; reason: string | null } | null }> } };
  };
  const gauge = async (name: string, container: string) => {
    await metrics.refresh(); // what the daemon's timer does at most REFRESH_MS later
    const line = (await app.inject("/metrics")).body.split("\n").find((l) => l.startsWith(`podwarden_${name}{container="${container}"}`));
    return line === undefined ? undefined : Number(line.split(" ")[1]);
  };
  const stops = (name: string) => h.runtime.journal.filter((j) => j.op === "stop" && j.name === name).length;
  return { h, disk, status, gauge, stops };
};

describe("a full persisted filesystem on the fake runtime", () => {
  it("with space: pass, the gauges show the free bytes, containers without persisted data have no disk series", async () => {
    const { status, gauge } = await setup();
    const s = await status();
    expect(s.doc.status).toBe("pass");
    expect(s.doc.containers.valkey!.disk).toMatchObject({ full: false, freeBytes: 12 * MiB, filesystem: "/srv/persist", reason: null });
    expect(s.doc.containers.datadog!.disk).toBeNull();
    expect(await gauge("persist_free_bytes", "valkey")).toBe(12 * MiB);
    expect(await gauge("persist_size_bytes", "valkey")).toBe(16 * MiB);
    expect(await gauge("persist_full", "valkey")).toBe(0);
    expect(await gauge("persist_free_bytes", "datadog")).toBeUndefined();
  });

  it("full while the probe still passes: 503 fail with a note naming the filesystem and the free bytes; nothing is restarted", async () => {
    const { h, disk, status, gauge, stops } = await setup();
    disk.fs.free = 4096;
    for (let i = 0; i < 5; i++) await h.step(2_000);
    const s = await status();
    expect(s.code).toBe(503);
    expect(s.doc.status).toBe("fail");
    expect(s.doc.notes).toContain(
      "valkey: out of disk space: filesystem /srv/persist (holding /srv/persist/valkey) has 4.0 KiB free of 16.0 MiB: filesystem full; " +
        "liveness restarts are held off (a restart frees no space and loses what it holds in memory) until it can write again",
    );
    expect(s.doc.notes.some((n) => n.startsWith("opencode: out of disk space: filesystem /srv/persist (holding /srv/persist/opencode)"))).toBe(true);
    expect(s.doc.containers.valkey).toMatchObject({ state: "ready", disk: { full: true, freeBytes: 4096 } });
    expect([await gauge("persist_free_bytes", "valkey"), await gauge("persist_full", "valkey")]).toEqual([4096, 1]);
    expect(stops("valkey")).toBe(0);
  });

  it("Valkey refusing PING with MISCONF (space back, snapshot failed): unhealthy, never stopped over many retries; recovers by itself", async () => {
    const { h, status, gauge, stops } = await setup();
    const id = h.runtime.byName("valkey")!.id;
    h.failWith.set("valkey", MISCONF);
    const end = h.clock.now() + 5 * 60_000; // 30 probe intervals, 10 × retries
    while (h.clock.now() < end) await h.step();
    expect(stops("valkey")).toBe(0);
    expect(h.runtime.byName("valkey")!.id).toBe(id);
    const s = await status();
    expect(s.doc.status).toBe("fail");
    expect(s.doc.containers.valkey).toMatchObject({ state: "unhealthy", disk: { full: true, freeBytes: 12 * MiB, reason: `it cannot write its data (probe: ${MISCONF})` } });
    expect(await gauge("persist_full", "valkey")).toBe(1);

    h.failWith.delete("valkey");
    await h.runUntil((r) => r.settled);
    const after = await status();
    expect([after.code, after.doc.status, after.doc.notes]).toEqual([200, "pass", []]);
    expect(after.doc.containers.valkey).toMatchObject({ state: "ready", disk: { full: false } });
    expect(await gauge("persist_full", "valkey")).toBe(0);
    expect(h.runtime.byName("valkey")!.id).toBe(id);
    expect(h.reconciler.history.get("valkey")!.restarts).toBe(0);
  });

  it("the same failing probe without a disk problem: stopped after `retries` (the control)", async () => {
    const { h, stops } = await setup();
    h.failWith.set("valkey", "connect ECONNREFUSED 127.0.0.1:6380");
    for (let i = 0; i < 10 && stops("valkey") === 0; i++) await h.step();
    expect(stops("valkey")).toBe(1);
  });

  it("full and exited: restarted with backoff (it is down already)", async () => {
    const { h, disk } = await setup();
    disk.fs.free = 0;
    await h.step();
    h.runtime.crash("valkey", 1);
    await h.runUntil(() => h.reconciler.history.get("valkey")?.restarts === 1 && h.runtime.byName("valkey")!.running);
    expect(h.reconciler.history.get("valkey")).toMatchObject({ lastReason: "exited (code 1)", restarts: 1 });
  });

  it("samples the filesystems at most once a second however often passes run", async () => {
    const { h, disk } = await setup();
    const before = disk.fs.calls;
    for (let i = 0; i < 20; i++) await h.reconciler.reconcileOnce(); // the fake clock stands still
    expect(disk.fs.calls - before).toBe(0);
    h.clock.advance(1_000);
    await h.reconciler.reconcileOnce();
    await h.reconciler.reconcileOnce();
    expect(disk.fs.calls - before).toBe(1);
  });
});
