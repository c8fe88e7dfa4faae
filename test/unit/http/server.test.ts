import { describe, expect, it, vi } from "vitest";
import { buildServer, type HttpDeps } from "../../../src/http/server.js";
import { Metrics, REFRESH_MS } from "../../../src/observability/metrics.js";
import { FakeClock } from "../../support/fake-clock.js";
import { buildSnapshot, podReady, type Snapshot } from "../../../src/domain/snapshot.js";
import { Timeline } from "../../../src/supervisor/timeline.js";
import { Harness } from "../../support/harness.js";
import type { ContainerSpec } from "../../../src/domain/spec.js";
import { chainSpec } from "../../support/pod-spec.js";
import { Value } from "@sinclair/typebox/value";
import { ProbeResultSchema, StatusSchema } from "../../../src/http/schemas.js";

const SECRET = "s3cret-http-value-42";

/** A snapshot of a real (fake-runtime) supervision, after `drive` has run. */
const snapshotAfter = async (drive: (h: Harness) => Promise<void>, over: { reachable?: boolean; softAgent?: boolean } = {}) => {
  const timeline = new Timeline();
  const metrics = new Metrics({ version: "1.2.3", containers: ["valkey", "falkordb", "datadog", "opencode"] });
  const opencode = (c: ContainerSpec): ContainerSpec => ({
    ...c,
    secretEnv: ["OPENCODE_SERVER_PASSWORD"],
    ...(over.softAgent ? { dependsOn: [{ name: "datadog", restart: false, soft: true }] } : {}),
  });
  const spec = chainSpec({ containers: chainSpec().containers.map((c) => (c.name === "opencode" ? opencode(c) : c)) });
  const h = new Harness({ spec, secrets: new Map([["OPENCODE_SERVER_PASSWORD", SECRET]]), onEvent: (e) => (timeline.record(e), metrics.onEvent(e)) });
  await drive(h);
  const snap: Snapshot = buildSnapshot({
    spec,
    mode: "up",
    observed: h.reconciler.lastObserved,
    plan: h.reconciler.lastPlan,
    history: h.reconciler.history,
    lastError: undefined,
    podmanReachable: over.reachable ?? true,
    eventsConnected: true,
    lastPassAt: h.clock.now(),
    now: h.clock.now(),
  });
  return { snap, timeline, metrics, h };
};

const server = (snap: Snapshot, extra: Partial<HttpDeps> = {}, metrics = new Metrics({ version: "1.2.3", containers: Object.keys(snap.containers) }), timeline = new Timeline()) =>
  buildServer({ version: "1.2.3", snapshot: () => snap, timeline: () => timeline.entries(), warnings: () => [], metrics, alive: () => true, ...extra });

const allReady = (h: Harness) => h.runUntil((r) => r.settled).then(() => undefined);

describe("GET /status", () => {
  it("every answer of /status, /healthz and /readyz is a document of its schema (replies are serialized without one)", async () => {
    const states = [allReady, (h: Harness) => h.step().then(() => undefined), async (h: Harness) => (await h.runUntil((r) => r.settled), h.runtime.crash("valkey", 1), await h.step(), undefined)];
    for (const drive of states) {
      for (const over of [{}, { reachable: false }]) {
        const { snap } = await snapshotAfter(drive, over);
        const app = server(snap);
        const status = await app.inject("/status");
        expect([...Value.Errors(StatusSchema, status.json())].map((e) => `${e.path}: ${e.message}`)).toEqual([]);
        for (const url of ["/healthz", "/readyz"]) expect(Value.Check(ProbeResultSchema, (await app.inject(url)).json())).toBe(true);
      }
    }
  });

  it("all ready: 200 pass with every container's fields", async () => {
    const { snap } = await snapshotAfter(allReady);
    const res = await server(snap).inject("/status");
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^application\/health\+json/);
    const doc = res.json();
    expect(doc).toMatchObject({ status: "pass", version: "1.2.3", pod: { name: "testpod", containersReady: 4, containersTotal: 4 } });
    expect(Object.keys(doc.containers)).toEqual(["valkey", "falkordb", "datadog", "opencode"]);
    expect(doc.containers.falkordb).toMatchObject({ state: "ready", health: "healthy", ready: true, restarts: 0, dependsOn: ["valkey"], backoffSeconds: 0, nextAttemptAt: null });
    expect(doc.containers.falkordb.lastProbe).toMatchObject({ ok: true });
    expect(res.body).not.toContain(SECRET);
  });

  it("a container on its way up: 200 warn", async () => {
    const { snap } = await snapshotAfter(async (h) => {
      h.readyAfterMs.opencode = 60_000;
      await h.runUntil(() => h.reconciler.history.get("opencode")?.state === "starting");
    });
    const res = await server(snap).inject("/status");
    expect(res.statusCode).toBe(200);
    expect(res.json().status).toBe("warn");
  });

  it("a container backing off: 503 fail, with the reason, retry time and the event timeline", async () => {
    const { snap, timeline } = await snapshotAfter(async (h) => {
      await h.runUntil((r) => r.settled);
      h.runtime.crash("valkey", 9);
      await h.step();
      h.runtime.crash("valkey", 9);
      await h.reconciler.reconcileOnce();
    });
    const res = await server(snap, {}, undefined, timeline).inject("/status");
    expect(res.statusCode).toBe(503);
    const doc = res.json();
    expect(doc.status).toBe("fail");
    expect(doc.containers.valkey).toMatchObject({ state: "backing-off", lastExitCode: 9, lastReason: "exited (code 9)", restarts: 1 });
    expect(doc.containers.valkey.backoffSeconds).toBeGreaterThan(0);
    expect(doc.containers.valkey.nextAttemptAt).not.toBeNull();
    expect(doc.events.map((e: { message: string }) => e.message)).toContain("failed: exited (code 9); retry in 0.0 s");
  });

  /** The Agent exits 1 at every start (no API key); the rest comes up. */
  const agentCrashLoops = async (h: Harness) => {
    h.runtime.exitOnStart.set("datadog", 1);
    await h.runUntil(() => h.reconciler.history.get("opencode")?.ready === true || (h.reconciler.history.get("datadog")?.restarts ?? 0) >= 3);
  };

  it("a soft dependency crash-looping while the rest is ready: 200 warn, a note naming it, /readyz 200", async () => {
    const { snap } = await snapshotAfter(agentCrashLoops, { softAgent: true });
    const res = await server(snap).inject("/status");
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.status).toBe("warn");
    expect(doc.pod).toMatchObject({ containersReady: 3, containersTotal: 4, serving: true });
    expect(doc.containers.datadog).toMatchObject({ state: "backing-off", ready: false, lastExitCode: 1, softDependencyOf: ["opencode"] });
    expect(doc.containers.opencode).toMatchObject({ state: "ready", softDependencyOf: [] });
    expect(doc.notes).toEqual(["datadog is down (soft dependency of opencode): backing-off, last failure: exited (code 1)"]);
    const ready = await server(snap).inject("/readyz");
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: "ready without soft dependencies: datadog" });
    // Jobs (backups need no telemetry) count it as ready too.
    expect(podReady(snap)).toBe(true);
  });

  it("the same crash loop behind a hard edge: 503 fail, /readyz 503 (OpenCode never started)", async () => {
    const { snap } = await snapshotAfter(agentCrashLoops);
    const res = await server(snap).inject("/status");
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ status: "fail", notes: [], pod: { containersReady: 2, serving: false } });
    expect(res.json().containers.opencode.state).toBe("pending");
    expect((await server(snap).inject("/readyz")).statusCode).toBe(503);
    expect(podReady(snap)).toBe(false);
  });

  it("Podman unreachable: 503 fail", async () => {
    const { snap } = await snapshotAfter(allReady, { reachable: false });
    const res = await server(snap).inject("/status");
    expect(res.statusCode).toBe(503);
    expect(res.json().podman.reachable).toBe(false);
  });
});

describe("GET /metrics", () => {
  it("exposes every known series from the start, at zero", async () => {
    const metrics = new Metrics({ version: "1.2.3", containers: ["valkey", "opencode"] });
    await metrics.refresh();
    const text = metrics.text();
    for (const line of [
      'podwarden_build_info{version="1.2.3",node="' + process.versions.node + '"} 1',
      "podwarden_podman_up 0",
      'podwarden_podman_api_requests_total{operation="container.start"} 0',
      "podwarden_reconcile_runs_total 0",
      'podwarden_container_ready{container="opencode"} 0',
      'podwarden_container_state{container="valkey",state="pending"} 1',
      'podwarden_container_state{container="valkey",state="ready"} 0',
      'podwarden_container_restarts_total{container="valkey",reason="unhealthy"} 0',
      'podwarden_container_probe_runs_total{container="opencode"} 0',
      'podwarden_pod_state{state="absent"} 1',
    ]) {
      expect(text).toContain(line);
    }
    expect(text).toMatch(/^podwarden_process_cpu_user_seconds_total /m);
  });

  it("reflects the pod after a crash and a restart", async () => {
    const { snap, metrics } = await snapshotAfter(async (h) => {
      await h.runUntil((r) => r.settled);
      h.runtime.crash("datadog", 137);
      await h.runUntil((r) => r.settled);
    });
    const res = await server(snap, {}, metrics).inject("/metrics");
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.body).toContain('podwarden_container_ready{container="datadog"} 1');
    expect(res.body).toContain('podwarden_container_restarts_total{container="datadog",reason="exited"} 1');
    expect(res.body).toContain('podwarden_container_last_exit_code{container="datadog"} 137');
    expect(res.body).toContain('podwarden_container_health{container="datadog",health="healthy"} 1');
    expect(res.body).toMatch(/podwarden_container_probe_runs_total\{container="datadog"\} [1-9]/);
    expect(res.body).toContain('podwarden_pod_containers_ready 4');
    expect(res.body).not.toContain(SECRET);
  });

  it("answers the text as it stands: the snapshot reaches it through refreshes between scrapes, never through a request", async () => {
    const { snap: before } = await snapshotAfter(allReady);
    const { snap: after } = await snapshotAfter(async (h) => {
      await h.runUntil((r) => r.settled);
      h.runtime.crash("datadog", 137);
      await h.runUntil((r) => r.settled);
    });
    let snap = before;
    const clock = new FakeClock();
    const metrics = new Metrics({ version: "1.2.3", containers: Object.keys(before.containers), clock });
    const app = server(snap, { snapshot: () => snap }, metrics);
    const exitCode = async (): Promise<string | undefined> => /^podwarden_container_last_exit_code\{container="datadog"\} (\S+)$/m.exec((await app.inject("/metrics")).body)?.[1];
    expect(await exitCode()).toBe("0");
    snap = after;
    const refresh = vi.spyOn(metrics, "refresh");
    // A second scrape at once: the text is fresh, so it is answered as it stands; a scraper this fast is refreshed every REFRESH_MS / 2.
    expect(await exitCode()).toBe("0");
    expect(refresh).not.toHaveBeenCalled();
    clock.advance(REFRESH_MS / 2 - 1);
    await new Promise((r) => setImmediate(r));
    expect(refresh).not.toHaveBeenCalled();
    clock.advance(1);
    await new Promise((r) => setImmediate(r));
    expect(refresh).toHaveBeenCalledTimes(1);
    await refresh.mock.results[0]!.value;
    expect(await exitCode()).toBe("137");
    await app.close();
    clock.advance(10 * REFRESH_MS);
    await new Promise((r) => setImmediate(r));
    expect(refresh).toHaveBeenCalledTimes(1);
  });
});

describe("health endpoints and the page", () => {
  it("/healthz follows the loop, /readyz the pod", async () => {
    const { snap } = await snapshotAfter(allReady);
    expect((await server(snap).inject("/healthz")).statusCode).toBe(200);
    expect((await server(snap, { alive: () => false }).inject("/healthz")).json()).toEqual({ status: "reconcile loop stalled" });
    expect((await server(snap).inject("/readyz")).statusCode).toBe(200);
    const { snap: starting } = await snapshotAfter((h) => h.step().then(() => undefined));
    const notReady = await server(starting).inject("/readyz");
    expect(notReady.statusCode).toBe(503);
    expect(notReady.json().status).toBe("0/4 ready");
  });

  it("/ is a self-contained page that reads /status", async () => {
    const { snap } = await snapshotAfter(allReady);
    const res = await server(snap).inject("/");
    expect(res.headers["content-type"]).toMatch(/^text\/html/);
    expect(res.body).toContain('fetch("status"');
    expect(res.body).not.toMatch(/(src|href)="https?:/);
  });

  it("unknown routes are 404", async () => {
    const { snap } = await snapshotAfter(allReady);
    expect((await server(snap).inject("/nope")).statusCode).toBe(404);
  });
});

describe("control endpoints", () => {
  it("do not exist without a token", async () => {
    const { snap } = await snapshotAfter(allReady);
    expect((await server(snap).inject({ method: "POST", url: "/reload" })).statusCode).toBe(404);
  });

  it("require the bearer token, then act", async () => {
    const { snap } = await snapshotAfter(allReady);
    let reloads = 0;
    const app = server(snap, { control: { token: "t0k3n-0123456789abcdef", reload: async () => (reloads++, { changed: ["datadog"], podChanged: false }) } });
    expect((await app.inject({ method: "POST", url: "/reload" })).statusCode).toBe(401);
    expect((await app.inject({ method: "POST", url: "/reload", headers: { authorization: "Bearer wrong" } })).statusCode).toBe(401);
    const ok = await app.inject({ method: "POST", url: "/reload", headers: { authorization: "Bearer t0k3n-0123456789abcdef" } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ changed: ["datadog"], podChanged: false });
    expect(reloads).toBe(1);
  });

  it("report a rejected reload as 422 with the reason", async () => {
    const { snap } = await snapshotAfter(allReady);
    const app = server(snap, { control: { token: "t0k3n-0123456789abcdef", reload: async () => Promise.reject(new Error("pod.ports[0]: out of range")) } });
    const res = await app.inject({ method: "POST", url: "/reload", headers: { authorization: "Bearer t0k3n-0123456789abcdef" } });
    expect(res.statusCode).toBe(422);
    expect(res.json().error).toContain("pod.ports[0]");
  });
});

describe("timeline", () => {
  it("keeps the last events only", () => {
    const t = new Timeline(3);
    for (let i = 0; i < 5; i++) t.record({ kind: "restart", at: i * 1000, container: `c${i}`, reason: "exited (code 1)" });
    expect(t.entries().map((e) => e.container)).toEqual(["c2", "c3", "c4"]);
  });

  it("ignores probe results", () => {
    const t = new Timeline();
    t.record({ kind: "probe", at: 0, container: "x", ok: true, ms: 1 });
    expect(t.entries()).toEqual([]);
  });
});

