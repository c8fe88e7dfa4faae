// PodObserver against a stand-in for Podman's libpod API on a unix socket (the list,
// container inspect and pod inspect endpoints, shaped like Podman 4.3's answers). What it
// shows: observe() costs one call when nothing changed, inspects only what is new or
// changed, and always answers what a fresh observer (no cache: every container inspected)
// answers; an aborted signal aborts the request.

import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LABELS } from "../../../src/domain/spec.js";
import { PodmanApi } from "../../../src/runtime/podman-api.js";
import { PodObserver } from "../../../src/runtime/pod-observer.js";

const POD = "testpod";
const POD_ID = "p".repeat(64);

interface Model {
  id: string;
  name: string;
  infra?: boolean;
  state: "created" | "running" | "exited" | "paused";
  pid: number;
  startedAt: number;
  exitedAt: number;
  exitCode: number;
  oom: boolean;
  health: "" | "healthy" | "unhealthy" | "starting";
}

const iso = (ms: number): string => (ms === 0 ? "0001-01-01T00:00:00Z" : new Date(ms).toISOString());
const labels = (m: Model): Record<string, string> => ({
  [LABELS.managed]: "true",
  [LABELS.pod]: POD,
  ...(m.infra ? {} : { [LABELS.container]: m.name, [LABELS.specHash]: `hash-${m.name}` }),
});

/** GET /libpod/containers/json: seconds, health in Status. */
const listed = (m: Model) => ({
  Id: m.id,
  State: m.state,
  Status: m.health,
  Pid: m.state === "running" ? m.pid : 0,
  ExitCode: m.exitCode,
  Exited: m.state === "exited",
  StartedAt: Math.floor(m.startedAt / 1000),
  ExitedAt: m.exitedAt === 0 ? -62135596800 : Math.floor(m.exitedAt / 1000),
  Names: [`${POD}-${m.name}`],
  Labels: labels(m),
  Pod: POD_ID,
  IsInfra: m.infra === true,
});

/** GET /libpod/containers/{id}/json: ms times, OOM, image id, Podman 4's Healthcheck field. */
const inspected = (m: Model) => ({
  Id: m.id,
  Name: `${POD}-${m.name}`,
  Image: `img-${m.name}`,
  ImageName: `localhost/${m.name}:test`,
  Config: { Labels: labels(m) },
  State: {
    Status: m.state,
    Running: m.state === "running",
    Paused: m.state === "paused",
    ExitCode: m.exitCode,
    OOMKilled: m.oom,
    StartedAt: iso(m.startedAt),
    FinishedAt: iso(m.exitedAt),
    Healthcheck: { Status: m.health },
  },
});

/** Podman's pod state from its containers' (libpod's rule, enough of it for these tests). */
const podState = (ms: readonly Model[]): string => {
  const running = ms.filter((m) => m.state === "running").length;
  if (running === ms.length) return "Running";
  return running > 0 ? "Degraded" : "Exited";
};

let dir: string;
let server: Server;
let api: PodmanApi;
let models: Model[];
let podExists: boolean;
/** Paths asked for, in order (the query left off). */
let requests: string[];
/** When set, list requests get no answer (to test aborting). */
let hang: boolean;
let closed: number;
/** When set, the list is answered only once this many requests came in (or after a second). */
let holdListFor: number | undefined;
/** Requests that had come in when a held list was first answered. */
let beforeListAnswer: string[];
/** Runs after a container inspect was answered, before anything else is. */
let afterInspect: ((m: Model) => void) | undefined;

const at = Date.parse("2026-11-30T12:00:00.250Z");
const model = (name: string, over: Partial<Model> = {}): Model => ({
  id: name.padEnd(64, "0"),
  name,
  state: "running",
  pid: 100 + name.length,
  startedAt: at,
  exitedAt: 0,
  exitCode: 0,
  oom: false,
  health: "",
  ...over,
});

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "podwarden-observer-"));
  models = [model("infra", { infra: true }), model("valkey"), model("falkordb"), model("opencode", { health: "healthy" })];
  podExists = true;
  requests = [];
  hang = false;
  closed = 0;
  holdListFor = undefined;
  beforeListAnswer = [];
  afterInspect = undefined;
  server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0]!;
    requests.push(path);
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { "Content-Type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (path === "/v4.0.0/libpod/containers/json") {
      if (hang) return void req.on("close", () => (closed += 1));
      const answer = (): void => {
        if (holdListFor !== undefined && beforeListAnswer.length === 0) beforeListAnswer = kinds();
        json(200, podExists ? models.map(listed) : []);
      };
      if (holdListFor === undefined) return answer();
      const until = Date.now() + 1_000;
      const wait = (): unknown => (requests.length >= holdListFor! || Date.now() > until ? answer() : setTimeout(wait, 5));
      return void wait();
    }
    const c = /^\/v4\.0\.0\/libpod\/containers\/([^/]+)\/json$/.exec(path);
    if (c) {
      const m = models.find((x) => x.id === c[1]);
      if (!m || !podExists) return json(404, { message: "no such container" });
      json(200, inspected(m));
      return afterInspect?.(m);
    }
    if (path === `/v4.0.0/libpod/pods/${POD}/json`) {
      return podExists ? json(200, { Id: POD_ID, Name: POD, State: podState(models), Labels: labels(models[0]!) }) : json(404, { message: "no such pod" });
    }
    json(404, { message: `unexpected ${path}` });
  });
  const socket = join(dir, "podman.sock");
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  api = new PodmanApi(socket);
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

const kinds = (): string[] =>
  requests.map((p) => (p.endsWith("/containers/json") ? "list" : p.includes("/pods/") ? "pod" : `inspect ${models.find((m) => p.includes(m.id))?.name ?? "?"}`));

/** observe() through `observer`, checked against a fresh observer's answer; returns the calls it made. */
const observeChecked = async (observer: PodObserver): Promise<{ calls: string[]; observed: Awaited<ReturnType<PodObserver["observe"]>> }> => {
  requests = [];
  const observed = await observer.observe(POD);
  const calls = kinds();
  const fresh = await new PodObserver(api).observe(POD);
  expect(observed.pod).toEqual(fresh.pod);
  expect([...observed.containers]).toEqual([...fresh.containers]);
  return { calls, observed };
};

describe("observe", () => {
  it("first lists, inspects the pod and each managed container (never the infra container)", async () => {
    const { calls, observed } = await observeChecked(new PodObserver(api));
    expect(calls.sort()).toEqual(["inspect falkordb", "inspect opencode", "inspect valkey", "list", "pod"]);
    expect([...observed.containers.keys()]).toEqual(["valkey", "falkordb", "opencode"]);
    expect(observed.containers.get("opencode")).toMatchObject({ running: true, health: "healthy", startedAt: at, imageId: "sha256:img-opencode" });
    expect(observed.pod).toEqual({ id: POD_ID, name: POD, state: "Running", managed: true, specHash: undefined });
  });

  it("costs one list call when nothing changed, and answers the same", async () => {
    const observer = new PodObserver(api);
    const first = await observeChecked(observer);
    for (let i = 0; i < 3; i++) {
      const again = await observeChecked(observer);
      expect(again.calls).toEqual(["list"]);
      expect(again.observed).toEqual(first.observed);
    }
  });

  it("inspects the container that exited and the pod, nothing else", async () => {
    const observer = new PodObserver(api);
    await observeChecked(observer);
    Object.assign(models[2]!, { state: "exited", exitCode: 137, exitedAt: at + 5_123, oom: true });
    const { calls, observed } = await observeChecked(observer);
    expect(calls.sort()).toEqual(["inspect falkordb", "list", "pod"]);
    expect(observed.containers.get("falkordb")).toMatchObject({ running: false, exitCode: 137, finishedAt: at + 5_123, oomKilled: true });
    expect(observed.pod?.state).toBe("Degraded");
  });

  it("sees a restart within the same second (a new pid) and a change of health", async () => {
    const observer = new PodObserver(api);
    await observeChecked(observer);
    Object.assign(models[1]!, { pid: 999, startedAt: at + 400 });
    expect((await observeChecked(observer)).calls.sort()).toEqual(["inspect valkey", "list", "pod"]);
    models[3]!.health = "unhealthy";
    const { calls, observed } = await observeChecked(observer);
    expect(calls.sort()).toEqual(["inspect opencode", "list", "pod"]);
    expect(observed.containers.get("opencode")?.health).toBe("unhealthy");
  });

  it("drops a removed container and inspects a new one", async () => {
    const observer = new PodObserver(api);
    await observeChecked(observer);
    models = models.filter((m) => m.name !== "valkey");
    const removed = await observeChecked(observer);
    expect(removed.calls.sort()).toEqual(["list", "pod"]);
    expect(removed.observed.containers.has("valkey")).toBe(false);
    models.push(model("valkey", { id: "v2".padEnd(64, "0"), state: "created", startedAt: 0 }));
    const created = await observeChecked(observer);
    expect(created.calls.sort()).toEqual(["inspect valkey", "list", "pod"]);
    expect(created.observed.containers.get("valkey")).toMatchObject({ state: "created", running: false, startedAt: null });
  });

  it("asks for the pod every time the list is empty: gone, or not there yet", async () => {
    const observer = new PodObserver(api);
    await observeChecked(observer);
    podExists = false;
    for (let i = 0; i < 2; i++) {
      const { calls, observed } = await observeChecked(observer);
      expect(calls).toEqual(["list", "pod"]);
      expect(observed).toEqual({ pod: null, containers: new Map() });
    }
  });

  it("knows the logical names of the ids it last saw (for exit notices)", async () => {
    const observer = new PodObserver(api);
    expect(observer.nameOf(POD, models[1]!.id)).toBeUndefined();
    await observer.observe(POD);
    expect(observer.nameOf(POD, models[1]!.id)).toBe("valkey");
    expect(observer.nameOf(POD, models[0]!.id)).toBeUndefined();
  });

  it("aborts the request in flight when the signal aborts", async () => {
    hang = true;
    const abort = new AbortController();
    const pending = new PodObserver(api).observe(POD, abort.signal);
    await expect.poll(() => requests.length).toBe(1);
    abort.abort();
    await expect(pending).rejects.toThrow();
    await expect.poll(() => closed).toBe(1);
  });

  /** An observer that saw the pod, then valkey exits and a notice names it; the next list waits for three requests. */
  const valkeyExitNoticed = async (): Promise<PodObserver> => {
    const observer = new PodObserver(api);
    await observeChecked(observer);
    Object.assign(models[1]!, { state: "exited", exitCode: 137, exitedAt: at + 900 });
    observer.noticed(POD, models[1]!.id);
    holdListFor = 3;
    return observer;
  };

  it("inspects a container an exit notice named, and the pod, beside the list instead of after it", async () => {
    const observer = await valkeyExitNoticed();
    const { calls, observed } = await observeChecked(observer);
    expect(beforeListAnswer.sort()).toEqual(["inspect valkey", "list", "pod"]);
    expect(calls.sort()).toEqual(["inspect valkey", "list", "pod"]);
    expect(observed.containers.get("valkey")).toMatchObject({ running: false, exitCode: 137 });
    // The notice is used once.
    holdListFor = undefined;
    expect((await observeChecked(observer)).calls).toEqual(["list"]);
  });

  it("inspects again when the early inspect no longer agrees with the list (restarted in between)", async () => {
    const observer = await valkeyExitNoticed();
    afterInspect = (m) => {
      afterInspect = undefined;
      Object.assign(m, { state: "running", pid: 4242, startedAt: at + 2_000 });
    };
    const { calls, observed } = await observeChecked(observer);
    expect(calls.sort()).toEqual(["inspect valkey", "inspect valkey", "list", "pod"]);
    expect(observed.containers.get("valkey")).toMatchObject({ running: true, startedAt: at + 2_000 });
  });
});
