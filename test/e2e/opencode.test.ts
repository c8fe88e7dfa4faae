// Issue 5 on real Podman: the real OpenCode server (opencode-ai, built locally from
// Dockerfile.opencode) in the pod, behind its password; its sessions and provider auth
// surviving a kill -9, down/up and an image rebuild; `podwarden auth import` into the running
// pod; read-only plugin mounts; and the workspace repository cloned once by the init step
// from a real git smart-HTTP server (git http-backend, basic auth) that runs inside the pod's
// own network namespace, with the token kept out of every place a person or process can look.
//
// Two pods: one for the OpenCode server itself, one for the workspace. FalkorDB and the
// Datadog Agent are stand-ins in both (see config/local.yaml); Valkey and OpenCode are real.

import { appendFile, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.js";
import type { ObservedContainer } from "../../src/domain/observed.js";
import { systemClock } from "../../src/lib/clock.js";
import { createProber } from "../../src/probes/prober.js";
import { commitUpstream } from "../support/git-http-server.js";
import { REPO, cleanupRun, cli, createRun, ensureImages, inspect, podExists, podman, waitFor, type E2eRun, type LogEntry } from "../support/podman-harness.js";
import {
  containerLogs,
  freePort,
  openCodeApi,
  sleep,
  startDaemonProcess,
  startGitServerInPod,
  tokenForms,
  watchArgv,
  type DaemonProcess,
  type OpenCodeApi,
  type PodGitServer,
} from "../support/opencode.js";

const IMAGE = "localhost/opencode-server:local";
const BASE = "localhost/podwarden-debian:bookworm";
const DATA = "/home/opencode/.local/share/opencode";
const PLUGIN = "/home/opencode/.opencode/plugin";
const GRAPHITI = "/home/opencode/.opencode/graphiti";

interface UpSummary {
  ok: boolean;
  elapsedMs: number;
  containers: Record<string, { id: string; state: string; startedAt: string; readyAt: string; startToReadyMs: number | null }>;
}

/** `podwarden up --json`; fails the test with the CLI's output when it does not exit 0. */
const up = async (config: string, extra: string[] = []): Promise<{ summary: UpSummary; output: string; stderr: string }> => {
  const r = await cli(["up", "-c", config, "--json", "--timeout", "10m", ...extra], 1_200_000);
  expect(r.code, `up failed:\n${r.stdout}\n${r.stderr.slice(-4000)}`).toBe(0);
  return { summary: JSON.parse(r.stdout) as UpSummary, output: `${r.stdout}\n${r.stderr}`, stderr: r.stderr };
};

const down = async (config: string): Promise<void> => {
  const r = await cli(["down", "-c", config], 300_000);
  expect(r.code, `down failed:\n${r.stderr.slice(-4000)}`).toBe(0);
};

const exists = (path: string): Promise<boolean> => stat(path).then(
  () => true,
  () => false,
);

/** `podman inspect` of a container as raw JSON text (everything a person can see). */
const inspectText = (name: string): Promise<string> => podman("inspect", "--type", "container", name);

const expectNoneOf = (haystack: string, needles: readonly string[], where: string): void => {
  for (const n of needles) expect(haystack.includes(n), `a secret (${n.slice(0, 6)}…) appears in ${where}`).toBe(false);
};

const figures: string[] = [];
afterAll(() => {
  if (figures.length) console.log(`opencode e2e figures:\n  ${figures.join("\n  ")}`);
});

// ---------------------------------------------------------------------------------------------

describe("the OpenCode server in the pod", () => {
  let run: E2eRun;
  let config: string;
  let api: OpenCodeApi;
  let daemon: DaemonProcess | undefined;
  let pluginDir: string;
  let graphitiDir: string;
  /** Images this file built under tags of its own: removed at the end. */
  const builtTags: string[] = [];

  beforeAll(async () => {
    // No HTTP endpoints for this pod's daemon: nothing here reads them, and 9090 may be taken.
    run = await createRun({ extraYaml: ["http:", "  enabled: false"].join("\n") });
    pluginDir = join(run.dir, "opencode-plugins/plugin");
    graphitiDir = join(run.dir, "opencode-plugins/graphiti");
    await mkdir(pluginDir, { recursive: true });
    await mkdir(graphitiDir, { recursive: true });
    // Not a plugin (*.js, *.ts): with one, OpenCode installs @opencode-ai/plugin from npm before it
    // serves any project endpoint, which takes over a minute to fail here, offline.
    await writeFile(join(pluginDir, "README.md"), "plugins are mounted read-only\n");
    await writeFile(join(graphitiDir, "settings.json"), "{}\n");
    // mounts are a list: the override repeats the OpenCode container's whole list, with the
    // optional plugin and graphiti sources pointing at directories that exist.
    config = join(run.dir, "opencode.yaml");
    await writeFile(
      config,
      [
        `extends: ${run.config}`,
        "containers:",
        "  opencode:",
        "    mounts:",
        `      - { source: opencode, target: ${DATA}, create: true }`,
        `      - { source: ${pluginDir}, target: ${PLUGIN}, readOnly: true, optional: true }`,
        `      - { source: ${graphitiDir}, target: ${GRAPHITI}, readOnly: true, optional: true }`,
      ].join("\n"),
    );
    const t0 = performance.now();
    await ensureImages(config);
    figures.push(`podwarden images (build what is missing or changed): ${Math.round(performance.now() - t0)} ms`);
    api = openCodeApi(run);
    const { summary } = await up(config);
    expect(summary.ok).toBe(true);
    figures.push(`OpenCode start -> first passing probe (first up): ${summary.containers.opencode!.startToReadyMs} ms`);
  }, 1_800_000);

  afterAll(async () => {
    await daemon?.stop("SIGKILL", 10_000);
    if (run) await cleanupRun(run);
    for (const tag of builtTags) await podman("rmi", tag).catch(() => undefined);
  }, 300_000);

  describe("password", () => {
    const ENDPOINTS = ["/global/health", "/config", "/session", "/doc", "/path", "/provider"];

    it("answers 401 on every endpoint without credentials or with a wrong password; /global/health is healthy with them", async () => {
      for (const path of ENDPOINTS) {
        expect([path, (await api.call("GET", path, { password: null })).status]).toEqual([path, 401]);
        expect([path, (await api.call("GET", path, { password: "not-the-password" })).status]).toEqual([path, 401]);
      }
      // Writes too: nothing is created or stored without the password.
      expect((await api.call("POST", "/session", { password: null, body: {} })).status).toBe(401);
      expect((await api.call("PUT", "/auth/github-copilot", { password: null, body: { type: "oauth", refresh: "r-x", access: "a-x", expires: 0 } })).status).toBe(401);
      expect(await exists(join(run.persistRoot, "opencode/auth.json"))).toBe(false);

      const health = await api.call("GET", "/global/health");
      expect(health.status).toBe(200);
      expect(health.json()).toEqual({ healthy: true, version: expect.stringMatching(/^1\.\d+\.\d+/) });
      // The same password the daemon reads from the run's env file.
      expect(await readFile(run.envFile, "utf8")).toContain(`OPENCODE_SERVER_PASSWORD=${run.password}\n`);
    });

    type Probe = (secrets: ReadonlyMap<string, string>) => Promise<{ ok: boolean; message: string }>;

    /** The prober the daemon builds, on the same config, aimed at the running pod's published port. */
    const daemonProbe = async (): Promise<{ probe: Probe; secrets: ReadonlyMap<string, string> }> => {
      const { spec, secrets } = await loadConfig(config);
      const oc = spec.containers.find((c) => c.name === "opencode")!;
      expect(oc.probe).toMatchObject({ kind: "http", path: "/global/health", port: 4096 });
      const i = await inspect(`${run.pod}-opencode`);
      const observed: ObservedContainer = {
        id: i.Id,
        name: "opencode",
        podmanName: `${run.pod}-opencode`,
        specHash: i.Config.Labels["io.podwarden.spec-hash"],
        state: "running",
        running: true,
        exitCode: null,
        startedAt: Date.parse(i.State.StartedAt),
        finishedAt: null,
        oomKilled: false,
        health: "none",
        image: IMAGE,
        imageId: "",
      };
      const probe: Probe = (s) =>
        createProber({ spec, secrets: s, clock: systemClock, runtime: { healthcheck: () => Promise.reject(new Error("not an exec probe")) } })(oc, observed);
      return { probe, secrets };
    };

    const RIGHT: [boolean, string] = [true, "HTTP 200"];
    const REFUSED: [boolean, string] = [false, "HTTP 401 (credentials missing or wrong)"];

    it("the daemon's probe passes only with the right password", async () => {
      const { probe, secrets } = await daemonProbe();
      const wrong = new Map([...secrets, ["OPENCODE_SERVER_PASSWORD", `${run.password}-wrong`]]);
      const none = new Map([...secrets].filter(([k]) => k !== "OPENCODE_SERVER_PASSWORD"));
      const results: [string, boolean, string][] = [];
      // Three of each, 100 ms apart (the daemon's probe cadence while a container starts).
      for (const [label, s] of [["right", secrets], ["wrong", wrong], ["none", none], ["right", secrets]] as const) {
        for (let i = 0; i < 3; i++) {
          await sleep(100);
          const r = await probe(s);
          results.push([label, r.ok, r.message]);
        }
      }
      expect(results).toEqual(results.map(([label]) => [label, ...(label === "right" ? RIGHT : REFUSED)]));
    });

    it("probes in quick succession each get OpenCode's answer (no probe rides a connection the server closed)", async () => {
      // The probe asks for `Connection: close`; a probe that starts right after the previous
      // one answered must not be sent down that closed connection.
      const { probe, secrets } = await daemonProbe();
      const wrong = new Map([...secrets, ["OPENCODE_SERVER_PASSWORD", `${run.password}-wrong`]]);
      const results: [string, boolean, string][] = [];
      for (const [label, s] of [["right", secrets], ["wrong", wrong]] as const) {
        for (let i = 0; i < 4; i++) {
          const r = await probe(s);
          results.push([label, r.ok, r.message]);
        }
      }
      expect(results).toEqual(results.map(([label]) => [label, ...(label === "right" ? RIGHT : REFUSED)]));
    });
  });

  describe("read-only plugin mounts", () => {
    it("a write into the plugin or graphiti mount from inside the container fails; the files are readable", async () => {
      for (const target of [PLUGIN, GRAPHITI]) {
        const write = podman("exec", `${run.pod}-opencode`, "touch", `${target}/x`);
        await expect(write, target).rejects.toThrow(/Read-only file system/);
      }
      expect(await podman("exec", `${run.pod}-opencode`, "cat", `${PLUGIN}/README.md`)).toBe("plugins are mounted read-only\n");
      expect(await podman("exec", `${run.pod}-opencode`, "cat", `${GRAPHITI}/settings.json`)).toBe("{}\n");
      expect(await readdir(pluginDir)).toEqual(["README.md"]);
      expect(await readdir(graphitiDir)).toEqual(["settings.json"]);
      const mounts = (JSON.parse(await inspectText(`${run.pod}-opencode`)) as { Mounts: { Destination: string; RW: boolean }[] }[])[0]!.Mounts;
      expect(mounts.filter((m) => m.Destination === PLUGIN || m.Destination === GRAPHITI).map((m) => [m.Destination, m.RW])).toEqual(
        expect.arrayContaining([
          [PLUGIN, false],
          [GRAPHITI, false],
        ]),
      );
    });
  });

  describe("persistence of sessions and provider auth", () => {
    const COPILOT = { type: "oauth", refresh: `r-e2e-${Date.now()}`, access: `a-e2e-${Date.now()}`, expires: 0 };
    let sessionId = "";
    const authFile = (): string => join(run.persistRoot, "opencode/auth.json");

    /** The session is listed, auth.json holds the entry (0600), and OpenCode counts the provider as connected. */
    const expectRemembered = async (after: string): Promise<void> => {
      const sessions = await api.call("GET", "/session");
      expect(sessions.status, after).toBe(200);
      expect(
        sessions.json<{ id: string }[]>().map((s) => s.id),
        `session listed after ${after}`,
      ).toContain(sessionId);
      const file = JSON.parse(await readFile(authFile(), "utf8")) as Record<string, unknown>;
      expect(file["github-copilot"], `auth.json after ${after}`).toEqual(COPILOT);
      expect((await stat(authFile())).mode & 0o777).toBe(0o600);
      const providers = await api.call("GET", "/provider");
      expect(providers.json<{ connected: string[] }>().connected, `connected providers after ${after}`).toContain("github-copilot");
    };

    it("creates a session and stores GitHub Copilot auth through OpenCode's API, in the persisted data directory", async () => {
      expect((await api.call("GET", "/provider")).json<{ connected: string[] }>().connected).not.toContain("github-copilot");
      // POST /session takes an optional JSON object (title, parentID, ...): see GET /doc.
      const doc = (await api.call("GET", "/doc")).json<{ paths: Record<string, Record<string, unknown>> }>();
      expect(Object.keys(doc.paths["/session"]!)).toEqual(expect.arrayContaining(["get", "post"]));
      expect(Object.keys(doc.paths["/auth/{providerID}"]!)).toContain("put");
      const created = await api.call("POST", "/session", { body: {} });
      expect(created.status, created.text).toBe(200);
      sessionId = created.json<{ id: string }>().id;
      expect(sessionId).toMatch(/^ses/);
      const put = await api.call("PUT", "/auth/github-copilot", { body: COPILOT });
      expect([put.status, put.text]).toEqual([200, "true"]);
      expect(await exists(join(run.persistRoot, "opencode/opencode.db"))).toBe(true);
      await expectRemembered("PUT /auth/github-copilot");
    });

    it("after kill -9 of OpenCode's main process the daemon brings it back, with both", async () => {
      daemon = startDaemonProcess(config, { RUNTIME_DIRECTORY: run.runtimeDir });
      await daemon.waitForLog("the daemon to adopt the pod and report it ready", (e) => e.msg === "pod ready", { timeoutMs: 300_000 });
      const before = await inspect(`${run.pod}-opencode`);
      const mark = daemon.mark();
      const killedAt = Date.now();
      process.kill(before.State.Pid, "SIGKILL");
      const failed = await daemon.waitForLog("the daemon to see OpenCode die", (e) => e.msg === "container failed" && e.container === "opencode", { from: mark, timeoutMs: 60_000 });
      const ready = await daemon.waitForLog("the pod ready again", (e) => e.msg === "pod ready", { from: mark, timeoutMs: 300_000 });
      const after = await inspect(`${run.pod}-opencode`);
      expect(after.State.Running).toBe(true);
      expect(after.State.StartedAt).not.toBe(before.State.StartedAt);
      figures.push(`kill -9 OpenCode: seen dead after ${failed.time - killedAt} ms, pod ready again after ${ready.time - killedAt} ms`);
      await expectRemembered("kill -9 of OpenCode");
      // The daemon's own shutdown: reverse order, pod removed, exit 0.
      expect(await daemon.stop("SIGTERM")).toBe(0);
      expect(await podExists(run.pod)).toBe(false);
    }, 600_000);

    it("after down and up (every container recreated), with both", async () => {
      const first = await up(config);
      await expectRemembered("the daemon's shutdown and up");
      await down(config);
      expect(await podExists(run.pod)).toBe(false);
      const second = await up(config);
      expect(second.summary.containers.opencode!.id).not.toBe(first.summary.containers.opencode!.id);
      figures.push(`OpenCode start -> first passing probe (after down/up, data present): ${second.summary.containers.opencode!.startToReadyMs} ms`);
      await expectRemembered("down and up");
    }, 600_000);

    it("after the image is rebuilt from scratch, with both", async () => {
      // A real rebuild, not a re-tag of cached layers: a copy of Dockerfile.opencode with a no-op
      // step right after FROM (so no cached layer below it can be reused), under a tag of this
      // run's own. The shared localhost/opencode-server:local is left alone: other pods use it.
      const tag = `localhost/opencode-server:e2e-${run.pod}`;
      const original = await readFile(join(REPO, "Dockerfile.opencode"), "utf8");
      const containerfile = join(run.dir, "Dockerfile.opencode");
      const nonce = `${run.pod}-${Date.now()}`;
      const changed = original.replace(/^FROM \$\{BASE_IMAGE\}$/m, (from) => `${from}\nRUN echo "podwarden e2e rebuild ${nonce}" > /etc/podwarden-e2e-rebuild`);
      expect(changed).not.toBe(original);
      await writeFile(containerfile, changed);
      const rebuilt = join(run.dir, "opencode-rebuilt.yaml");
      await writeFile(
        rebuilt,
        [
          `extends: ${config}`,
          "images:",
          `  ${tag}:`,
          `    from: ${BASE}`,
          `    build: { containerfile: ${containerfile}, context: ${join(REPO, "config/images/opencode")} }`,
          "containers:",
          "  opencode:",
          `    image: ${tag}`,
        ].join("\n"),
      );
      builtTags.push(tag);
      await down(config);
      const { summary, stderr } = await up(rebuilt, ["--log-format", "json"]);
      const logs = stderr.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as LogEntry);
      const building = logs.find((e) => e.container === "opencode" && e.msg === `building ${tag}`);
      const creating = logs.find((e) => e.container === "opencode" && e.msg === "creating container");
      expect(building, "up built the OpenCode image").toBeDefined();
      expect(creating).toBeDefined();

      // OpenCode now runs from the new image, whose layers share nothing with the old one but the base.
      const layers = async (ref: string): Promise<string[]> => JSON.parse(await podman("image", "inspect", "--format", "{{json .RootFS.Layers}}", ref)) as string[];
      const [baseLayers, oldLayers, newLayers] = await Promise.all([layers(BASE), layers(IMAGE), layers(tag)]);
      expect(newLayers.filter((l) => oldLayers.includes(l))).toEqual(baseLayers);
      const newImage = (await podman("image", "inspect", "--format", "{{.Id}}", tag)).trim();
      expect((await podman("inspect", "--format", "{{.Image}}", `${run.pod}-opencode`)).trim()).toBe(newImage);
      const size = Number((await podman("image", "inspect", "--format", "{{.Size}}", tag)).trim());
      figures.push(
        `OpenCode image built from scratch by up: ${creating!.time - building!.time} ms, ${(size / 1e6).toFixed(0)} MB; start -> first passing probe ${summary.containers.opencode!.startToReadyMs} ms`,
      );
      await expectRemembered("an image rebuild");
    }, 1_500_000);
  });

  describe("podwarden auth import", () => {
    const IMPORTED = { type: "oauth", refresh: `r-imported-${process.pid}`, access: `a-imported-${process.pid}`, expires: 0 };
    const ANTHROPIC = { type: "api", key: `sk-ant-e2e-${process.pid}` };
    const OPENROUTER = { type: "api", key: `k-or-e2e-${process.pid}` };
    let source = "";
    const authFile = (): string => join(run.persistRoot, "opencode/auth.json");
    const importAuth = (...extra: string[]) => cli(["auth", "import", "-c", config, "--from", source, ...extra], 120_000);

    beforeAll(async () => {
      source = join(run.dir, "local-auth.json");
      await writeFile(source, `${JSON.stringify({ "github-copilot": IMPORTED, anthropic: ANTHROPIC }, null, 2)}\n`, { mode: 0o600 });
      // The running pod (left up by the persistence tests) gets another provider first: it must be kept.
      if (!(await podExists(run.pod))) await up(config);
      const put = await api.call("PUT", "/auth/openrouter", { body: OPENROUTER });
      expect(put.status).toBe(200);
    }, 600_000);

    it("writes the entry into the persisted auth.json (0600, other providers kept), tells the running server, never prints a token", async () => {
      const r = await importAuth();
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`imported github-copilot into ${authFile()} (mode 0600); the running OpenCode server has it now`);
      expectNoneOf(r.stdout + r.stderr, [IMPORTED.refresh, IMPORTED.access, ANTHROPIC.key, OPENROUTER.key], "auth import's output");
      const file = JSON.parse(await readFile(authFile(), "utf8")) as Record<string, unknown>;
      expect(file["github-copilot"]).toEqual(IMPORTED);
      expect(file.openrouter).toEqual(OPENROUTER);
      expect(file.anthropic).toBeUndefined(); // only the provider asked for
      expect((await stat(authFile())).mode & 0o777).toBe(0o600);

      const again = await importAuth();
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toContain("nothing changed");
      expect(JSON.parse(await readFile(authFile(), "utf8"))).toEqual(file);
    }, 120_000);

    it("a provider the running server did not have is connected at once, without a restart", async () => {
      const before = await inspect(`${run.pod}-opencode`);
      expect((await api.call("GET", "/provider")).json<{ connected: string[] }>().connected).not.toContain("anthropic");
      const r = await importAuth("--provider", "anthropic");
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain("the running OpenCode server has it now");
      expect((await api.call("GET", "/provider")).json<{ connected: string[] }>().connected).toContain("anthropic");
      const file = JSON.parse(await readFile(authFile(), "utf8")) as Record<string, unknown>;
      expect(file).toMatchObject({ anthropic: ANTHROPIC, "github-copilot": IMPORTED, openrouter: OPENROUTER });
      expect((await stat(authFile())).mode & 0o777).toBe(0o600);
      const after = await inspect(`${run.pod}-opencode`);
      expect([after.Id, after.State.StartedAt]).toEqual([before.Id, before.State.StartedAt]);
    }, 120_000);
  });
});

// ---------------------------------------------------------------------------------------------

describe("the workspace repository (init step, real git smart-HTTP server inside the pod's network namespace)", () => {
  let run: E2eRun;
  let token: string;
  let gitPort: number;
  let repoUrl: string;
  let wsConfig: string;
  let git: PodGitServer | undefined;
  let daemon: DaemonProcess | undefined;
  const workspaces = (): string => join(run.persistRoot, "workspaces");
  // The upstream repository, kept across git servers (each pod gets a server of its own).
  const gitRoot = (): string => join(run.dir, "upstream");

  const workspaceYaml = (extra: string[] = []): string =>
    [`extends: ${run.config}`, "workspace:", `  repo: ${repoUrl}`, "  tokenKey: GITHUB_PAT", ...extra.map((l) => `  ${l}`)].join("\n");

  beforeAll(async () => {
    run = await createRun({ extraYaml: ["http:", "  enabled: false"].join("\n") });
    token = `ghp_e2eWorkspace${Date.now().toString(36)}${process.pid}`;
    await appendFile(run.envFile, `GITHUB_PAT=${token}\n`);
    // A port free on the host's loopback: the server will not be there, only in the pod.
    gitPort = await freePort();
    repoUrl = `http://127.0.0.1:${gitPort}/repo.git`;
    wsConfig = join(run.dir, "workspace.yaml");
    await writeFile(wsConfig, workspaceYaml());
    await ensureImages(run.config);
    // The pod first, without the workspace: its network namespace must exist before the git server can live in it.
    const { summary } = await up(run.config);
    expect(summary.ok).toBe(true);
    expect(Object.keys(summary.containers)).not.toContain("workspace");
  }, 1_800_000);

  afterAll(async () => {
    await daemon?.stop("SIGKILL", 10_000);
    await git?.stop();
    if (run) await cleanupRun(run);
  }, 300_000);

  it("first boot: the init step clones the repository over basic auth before OpenCode starts, and OpenCode works in it", async () => {
    // Each authorised request is held 400 ms so the scan of process arguments sees the clone run.
    git = await startGitServerInPod(run.pod, token, gitPort, 400, gitRoot());
    const fromHost = await fetch(`http://127.0.0.1:${gitPort}/repo.git/info/refs`).then(
      (r) => `HTTP ${r.status}`,
      (e: Error & { cause?: { code?: string } }) => e.cause?.code ?? e.message,
    );
    expect(fromHost, "the git server listens in the pod's namespace, not on the host's loopback").toBe("ECONNREFUSED");

    const argv = watchArgv();
    let result: Awaited<ReturnType<typeof up>>;
    try {
      result = await up(wsConfig);
    } finally {
      await argv.stop();
    }
    const { summary, output } = result;
    expect(summary.ok).toBe(true);
    expect(summary.containers.workspace).toMatchObject({ state: "ready" });
    expect(summary.containers.opencode).toMatchObject({ state: "ready" });
    figures.push(`OpenCode start -> first passing probe (workspace boot): ${summary.containers.opencode!.startToReadyMs} ms`);

    // The clone reached the server, authorised every time.
    expect(git.requests.length).toBeGreaterThan(0);
    expect(git.requests.filter((r) => !r.authorised)).toEqual([]);
    expect(git.requests.map((r) => r.line)).toEqual(expect.arrayContaining([expect.stringMatching(/^POST \/repo\.git\/git-upload-pack/)]));

    // The init container ran to completion before OpenCode started.
    const ws = await inspect(`${run.pod}-workspace`);
    const oc = await inspect(`${run.pod}-opencode`);
    expect([ws.State.Status, ws.State.ExitCode]).toEqual(["exited", 0]);
    expect(Date.parse(oc.State.StartedAt)).toBeGreaterThanOrEqual(Date.parse(ws.State.FinishedAt));
    figures.push(`init step, first boot (clone through a server holding each request 400 ms): ${Date.parse(ws.State.FinishedAt) - Date.parse(ws.State.StartedAt)} ms`);
    expect(await containerLogs(`${run.pod}-workspace`)).toContain("cloned into /workspaces/repo");

    // The repository is in the persisted workspace, complete, and nothing else is left there.
    expect(await readFile(join(workspaces(), "repo/README.md"), "utf8")).toContain("podwarden test repository");
    expect(await readdir(workspaces())).toEqual(["repo"]);
    const gitConfig = await readFile(join(workspaces(), "repo/.git/config"), "utf8");
    expect(gitConfig).toContain(`url = ${repoUrl}`);

    // OpenCode works in the repository.
    const ocInspect = JSON.parse(await inspectText(`${run.pod}-opencode`)) as { Config: { WorkingDir: string } }[];
    expect(ocInspect[0]!.Config.WorkingDir).toBe("/workspaces/repo");
    const path = (await openCodeApi(run).call("GET", "/path")).json<{ directory: string; worktree: string }>();
    expect(path.directory).toBe("/workspaces/repo");
    expect(path.worktree).toBe("/workspaces/repo");

    // The token: not in .git/config, podman inspect, the CLI's output, the init step's
    // output, or any process's arguments while the clone ran (which the scan did see).
    const secrets = [...tokenForms(token), run.password];
    expectNoneOf(gitConfig, secrets, ".git/config");
    expectNoneOf(await inspectText(`${run.pod}-workspace`), secrets, "podman inspect of the workspace container");
    expectNoneOf(await inspectText(`${run.pod}-opencode`), secrets, "podman inspect of the opencode container");
    expectNoneOf(output, secrets, "up's output");
    expectNoneOf(await containerLogs(`${run.pod}-workspace`), secrets, "the init step's output");
    const cmdlines = [...argv.seen.keys()];
    expect(
      cmdlines.filter((c) => c.includes(repoUrl)),
      "the scan saw the git processes of the clone",
    ).toEqual(expect.arrayContaining([expect.stringMatching(/git.* clone .*--/), expect.stringMatching(/remote-https? origin/)]));
    expectNoneOf(cmdlines.join("\n"), secrets, "the arguments of a process during the clone");
  }, 900_000);

  it("second boot: the init step sees the repository and exits 0 at once, with no git server anywhere", async () => {
    await git!.stop();
    const requestsBefore = git!.requests.length;
    git = undefined;
    await down(wsConfig);
    expect(await podExists(run.pod)).toBe(false);
    const { summary, output } = await up(wsConfig);
    expect(summary.ok).toBe(true);
    const ws = await inspect(`${run.pod}-workspace`);
    expect([ws.State.Status, ws.State.ExitCode]).toEqual(["exited", 0]);
    const ms = Date.parse(ws.State.FinishedAt) - Date.parse(ws.State.StartedAt);
    figures.push(`init step, non-empty workspace: ${ms} ms (StartedAt -> FinishedAt)`);
    expect(ms).toBeLessThan(2_000);
    expect(await containerLogs(`${run.pod}-workspace`)).toContain("/workspaces/repo already holds a repository; nothing to do");
    expect(requestsBefore).toBeGreaterThan(0);
    expect(await readdir(workspaces())).toEqual(["repo"]);
    expect((JSON.parse(await inspectText(`${run.pod}-opencode`)) as { Config: { WorkingDir: string } }[])[0]!.Config.WorkingDir).toBe("/workspaces/repo");
    expectNoneOf(output, tokenForms(token), "up's output");
  }, 600_000);

  /**
   * A boot with the git server in the new pod's network namespace: down, up without the
   * workspace (the pod and its namespace), the server in it, then up with `config` (the init
   * step runs). Returns the init step's run time and output.
   */
  const bootWithServer = async (config: string): Promise<{ ms: number; log: string; summary: UpSummary }> => {
    await down(wsConfig);
    await up(run.config);
    const server = await startGitServerInPod(run.pod, token, gitPort, 0, gitRoot());
    try {
      const { summary } = await up(config);
      expect(summary.ok).toBe(true);
      expect(summary.containers.opencode).toMatchObject({ state: "ready" });
      const ws = await inspect(`${run.pod}-workspace`);
      expect([ws.State.Status, ws.State.ExitCode]).toEqual(["exited", 0]);
      const log = await containerLogs(`${run.pod}-workspace`);
      return { ms: Date.parse(ws.State.FinishedAt) - Date.parse(ws.State.StartedAt), log, summary };
    } finally {
      await server.stop();
    }
  };
  /** git in OpenCode's container as OpenCode runs it (user opencode), as from its terminal. */
  const ocGit = (...args: string[]): Promise<string> => podman("exec", "--user", "opencode", "-w", "/workspaces/repo", `${run.pod}-opencode`, "git", ...args);
  const pullConfig = (): string => join(run.dir, "workspace-pull.yaml");
  /** Takes on the git-related environment of the running `opencode serve` (builtins only: nothing in argv). */
  const OPENCODE_SHELL = [
    "for p in /proc/[0-9]*; do case \"$(tr '\\0' ' ' < $p/cmdline 2>/dev/null)\" in 'opencode serve'*) pid=${p#/proc/}; break;; esac; done;",
    "set -a; eval \"$(tr '\\0' '\\n' < /proc/$pid/environ | sed -n \"s/^\\(GITHUB_PAT\\|GIT_CONFIG_[A-Z0-9_]*\\|REPO_[A-Z_]*\\)=\\(.*\\)$/\\1='\\2'/p\")\"; set +a; ",
  ].join(" ");

  it("AUTO-01: a commit pushed between boots appears after the next boot with pull: true, and not after one without it", async () => {
    await writeFile(pullConfig(), workspaceYaml(["pull: true"]));
    const before = (await ocGit("rev-parse", "HEAD")).trim();
    const pushed = commitUpstream(gitRoot(), "NEWS.md", "pushed between boots\n");
    expect(pushed).not.toBe(before);

    const without = await bootWithServer(wsConfig);
    expect(without.log).toContain("/workspaces/repo already holds a repository; nothing to do");
    expect(without.log).not.toContain("pulling");
    expect((await ocGit("rev-parse", "HEAD")).trim()).toBe(before);
    expect(await exists(join(workspaces(), "repo/NEWS.md"))).toBe(false);
    figures.push(`init step, boot without pull (repository there, commit upstream): ${without.ms} ms`);

    const argv = watchArgv();
    let withPull: Awaited<ReturnType<typeof bootWithServer>>;
    try {
      withPull = await bootWithServer(pullConfig());
    } finally {
      await argv.stop();
    }
    expect(withPull.log).toContain(`fast-forwarded main from ${before.slice(0, 12)} to ${pushed.slice(0, 12)}`);
    expect((await ocGit("rev-parse", "HEAD")).trim()).toBe(pushed);
    expect(await readFile(join(workspaces(), "repo/NEWS.md"), "utf8")).toBe("pushed between boots\n");
    // OpenCode started after the pull, in the repository, as the user opencode, owning it.
    const ws = await inspect(`${run.pod}-workspace`);
    expect(Date.parse((await inspect(`${run.pod}-opencode`)).State.StartedAt)).toBeGreaterThanOrEqual(Date.parse(ws.State.FinishedAt));
    expect((await stat(join(workspaces(), "repo/NEWS.md"))).uid).toBe(1000);
    figures.push(`init step, boot with pull (fetch + fast-forward of one commit): ${withPull.ms} ms; OpenCode start -> first passing probe: ${withPull.summary.containers.opencode!.startToReadyMs} ms`);
    const secrets = [...tokenForms(token), run.password];
    expectNoneOf(withPull.log, secrets, "the init step's output");
    expectNoneOf([...argv.seen.keys()].join("\n"), secrets, "the arguments of a process during the pull");
    expectNoneOf(await readFile(join(workspaces(), "repo/.git/config"), "utf8"), secrets, ".git/config");
  }, 900_000);

  it("AUTO-01: a diverged local branch is left alone: the reason logged, branch and working tree untouched, OpenCode starts", async () => {
    // From OpenCode's terminal: a local commit and an uncommitted change.
    await podman("exec", "--user", "opencode", `${run.pod}-opencode`, "sh", "-c", "cd /workspaces/repo && echo mine > LOCAL.md && git add LOCAL.md && git -c user.name=t -c user.email=t@t commit -qm local && echo wip > WIP.txt");
    const local = (await ocGit("rev-parse", "HEAD")).trim();
    commitUpstream(gitRoot(), "UPSTREAM.md", "theirs\n");
    const boot = await bootWithServer(pullConfig());
    expect(boot.log).toContain("not pulled: the local main and");
    expect(boot.log).toContain("have diverged");
    expect((await ocGit("rev-parse", "HEAD")).trim()).toBe(local);
    expect(await exists(join(workspaces(), "repo/UPSTREAM.md"))).toBe(false);
    expect(await readFile(join(workspaces(), "repo/WIP.txt"), "utf8")).toBe("wip\n");
    expect((await ocGit("status", "--porcelain")).trim()).toBe("?? WIP.txt");
    expect(boot.summary.containers.opencode).toMatchObject({ state: "ready" });
    figures.push(`init step, boot with pull, diverged branch (fetch, refused): ${boot.ms} ms`);
  }, 900_000);

  it("a manual `git pull` from OpenCode's terminal reaches the private repository through the credential helper; the token in no URL, .git/config, argv or output", async () => {
    // Back to the upstream line (drop the local commit and the change), then a new upstream commit.
    await ocGit("reset", "-q", "--hard", "HEAD~1");
    await podman("exec", "--user", "opencode", `${run.pod}-opencode`, "rm", "-f", "/workspaces/repo/WIP.txt");
    const server = await startGitServerInPod(run.pod, token, gitPort, 0, gitRoot());
    try {
      await manualPull(server);
    } finally {
      await server.stop();
    }
  }, 900_000);

  const manualPull = async (server: PodGitServer): Promise<void> => {
    const pushed = commitUpstream(gitRoot(), "MANUAL.md", "by hand\n");
    // Without the helper (git's environment emptied of it) the private repository refuses.
    const refused = await podman("exec", "--user", "opencode", "--env", "GIT_CONFIG_COUNT=0", "--env", "GIT_TERMINAL_PROMPT=0", "-w", "/workspaces/repo", `${run.pod}-opencode`, "git", "pull", "--ff-only").then(
      () => "pulled",
      (e: Error) => e.message,
    );
    expect(refused).toMatch(/Authentication failed|could not read Username|401/);
    const argv = watchArgv();
    const started = Date.now();
    let out: string;
    try {
      // As OpenCode's terminal runs it: a shell with the OpenCode process's environment (podman
      // exec alone would not have the token, which podwarden gives the process, not the container).
      out = await podman("exec", "--user", "opencode", "-w", "/workspaces/repo", `${run.pod}-opencode`, "sh", "-c", OPENCODE_SHELL + "git pull --ff-only 2>&1; echo rc=$?");
    } finally {
      await argv.stop();
    }
    figures.push(`manual git pull in OpenCode's container (helper, one commit): ${Date.now() - started} ms`);
    expect(out.trim().split("\n").at(-1), out).toBe("rc=0");
    expect((await ocGit("rev-parse", "HEAD")).trim()).toBe(pushed);
    expect(await readFile(join(workspaces(), "repo/MANUAL.md"), "utf8")).toBe("by hand\n");
    expect(server.requests.filter((r) => r.authorised).length).toBeGreaterThan(0);
    const secrets = [...tokenForms(token), run.password];
    expectNoneOf(out, secrets, "git pull's output");
    expectNoneOf([...argv.seen.keys()].join("\n"), secrets, "the arguments of a process during the pull");
    expectNoneOf(await readFile(join(workspaces(), "repo/.git/config"), "utf8"), secrets, ".git/config");
    expect((await ocGit("remote", "get-url", "origin")).trim()).toBe(repoUrl);
    expectNoneOf(await inspectText(`${run.pod}-opencode`), secrets, "podman inspect of the opencode container");
  };

  it("a wrong token fails clearly: the init step exits non-zero, OpenCode is not started, nothing is left, the token is nowhere", async () => {
    // The server (right token) in the pod's current namespace, reachable: it refuses the wrong one.
    git = await startGitServerInPod(run.pod, token, gitPort);
    const wrong = `ghp_e2eWrong${Date.now().toString(36)}${process.pid}`;
    const wrongEnv = join(run.dir, "wrong.env");
    await writeFile(wrongEnv, (await readFile(run.envFile, "utf8")).replace(`GITHUB_PAT=${token}`, `GITHUB_PAT=${wrong}`), { mode: 0o600 });
    const httpPort = await freePort();
    const wrongConfig = join(run.dir, "workspace-wrong.yaml");
    // A fresh, empty workspace directory (dir:), so the init step has to clone.
    await writeFile(wrongConfig, [workspaceYaml(["dir: workspaces-wrong"]), "pod:", `  envFile: ${wrongEnv}`, "http:", "  enabled: true", `  port: ${httpPort}`].join("\n"));

    const previousOpenCode = (await inspect(`${run.pod}-opencode`)).Id;
    daemon = startDaemonProcess(wrongConfig, { RUNTIME_DIRECTORY: run.runtimeDir });
    const d = daemon;
    const failed = (e: LogEntry): boolean => e.msg === "container failed" && e.container === "workspace";
    const first = await d.waitForLog("the init step to fail", failed, { timeoutMs: 300_000 });
    expect(first.exitCode).not.toBe(0);
    // Retried (with backoff), failing again: it stays failed while the token is wrong.
    await waitFor(
      "the init step to fail a second time",
      () => {
        if (!d.alive) throw new Error(`the daemon exited; its output ends:\n${d.tail()}`);
        return d.logs().filter(failed).length >= 2 || undefined;
      },
      120_000,
    );
    expect(d.logs().filter(failed).map((e) => e.exitCode)).not.toContain(0);

    // The server was reached, and refused every request (the wrong token never got in).
    expect(git.requests.length).toBeGreaterThan(0);
    expect(git.requests.filter((r) => r.authorised)).toEqual([]);

    // The init container's exit code and message.
    const ws = await inspect(`${run.pod}-workspace`);
    expect(ws.State.Running ? "running" : ws.State.ExitCode).not.toBe(0);
    const wsLogs = await containerLogs(`${run.pod}-workspace`);
    expect(wsLogs).toMatch(/clone of \S+ failed: check that the token in GITHUB_PAT is valid/);
    figures.push(`wrong token: the init step's output ends: ${wsLogs.trim().split("\n").slice(-3).join(" | ")}`);

    // OpenCode: the container of the previous config was stopped; none was started since.
    expect(d.logs().filter((e) => e.container === "opencode" && e.msg === "starting")).toEqual([]);
    const ocExists = await podman("container", "exists", `${run.pod}-opencode`).then(
      () => true,
      () => false,
    );
    if (ocExists) {
      const oc = await inspect(`${run.pod}-opencode`);
      expect(oc.State.Running).toBe(false);
      if (oc.Id !== previousOpenCode) expect(oc.State.StartedAt).toMatch(/^0001-01-01/);
    }
    const port = await fetch(`http://127.0.0.1:${run.hostPort[4096]}/global/health`, { signal: AbortSignal.timeout(5_000) }).then(
      (r) => `HTTP ${r.status}`,
      () => "no answer",
    );
    expect(port).toBe("no answer");

    // No directory, partial or temporary, under the workspace.
    expect(await readdir(join(run.persistRoot, "workspaces-wrong"))).toEqual([]);

    // /status says so; and neither token is in /status, the daemon's output or podman inspect.
    const status = await fetch(`http://127.0.0.1:${httpPort}/status`);
    const statusText = await status.text();
    expect(status.status).toBe(503);
    const doc = JSON.parse(statusText) as { status: string; containers: Record<string, { ready: boolean; state: string; lastExitCode: number | null }> };
    expect(doc.status).toBe("fail");
    expect(doc.containers.workspace!.ready).toBe(false);
    expect(doc.containers.workspace!.lastExitCode).not.toBe(0);
    expect(doc.containers.opencode!.ready).toBe(false);
    const secrets = [...tokenForms(wrong), ...tokenForms(token), run.password];
    expectNoneOf(statusText, secrets, "/status");
    expectNoneOf(await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text(), secrets, "/metrics");
    expectNoneOf(d.text(), secrets, "the daemon's output");
    expectNoneOf(wsLogs, secrets, "the init step's output");
    expectNoneOf(await inspectText(`${run.pod}-workspace`), secrets, "podman inspect of the workspace container");
    if (ocExists) expectNoneOf(await inspectText(`${run.pod}-opencode`), secrets, "podman inspect of the opencode container");

    // A failing init step does not stand in the way of a clean shutdown.
    expect(await d.stop("SIGTERM")).toBe(0);
    expect(await podExists(run.pod)).toBe(false);
    expectNoneOf(d.text(), secrets, "the daemon's output");
  }, 900_000);
});
