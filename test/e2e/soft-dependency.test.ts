// A soft dependency on real Podman: the env file lacks DD_API_KEY, so the Datadog Agent
// stand-in exits 1 at every start, as the real Agent does (its init script checks the key).
// OpenCode depends on it softly (config/local.yaml): it must come up anyway, the Agent backs
// off, `up` exits 0 with a warning, /status says warn with a note, systemd gets READY=1.
// Adding the key and reloading brings the Agent up and /status to pass.
//
// FalkorDB and the Datadog Agent are stand-ins (see config/local.yaml); Valkey and OpenCode are real.

import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  cleanupRun,
  cli,
  createRun,
  ensureImages,
  freePort,
  inspect,
  logIs,
  parseLog,
  podExists,
  runEnv,
  startDaemon,
  waitFor,
  type Daemon,
  type E2eRun,
} from "../support/podman-harness.js";
import { receivers, startReceiver } from "../support/notify-receiver.js";

const CHAIN = ["valkey", "falkordb", "datadog", "opencode"] as const;
const NOTE = /^datadog is down \(soft dependency of opencode\): (backing-off|starting|failed|creating|stopping), last failure: exited \(code 1\)$/;

interface ContainerStatus {
  state: string;
  ready: boolean;
  restarts: number;
  lastExitCode: number | null;
  lastReason: string | null;
  backoffSeconds: number;
  softDependencyOf: string[];
}
interface StatusDoc {
  status: string;
  notes: string[];
  pod: { containersReady: number; containersTotal: number; serving: boolean };
  containers: Record<string, ContainerStatus>;
}

let run: E2eRun;
let httpPort: number;
let daemon: Daemon | undefined;
const figures: string[] = [];

const writeEnv = (withKey: boolean) =>
  writeFile(run.envFile, `OPENCODE_SERVER_PASSWORD=${run.password}\n${withKey ? "DD_API_KEY=e2e-dd-soft\n" : ""}`, { mode: 0o600 });
const status = async (): Promise<{ code: number; doc: StatusDoc }> => {
  const res = await fetch(`http://127.0.0.1:${httpPort}/status`);
  return { code: res.status, doc: (await res.json()) as StatusDoc };
};

beforeAll(async () => {
  httpPort = await freePort();
  run = await createRun({ extraYaml: ["http:", `  port: ${httpPort}`].join("\n") });
  await writeEnv(false);
  await ensureImages(run.config);
}, 1_500_000);

afterAll(async () => {
  await daemon?.kill();
  await Promise.all(receivers.splice(0).map((r) => r.stop()));
  console.log(["soft dependency figures:", ...figures].join("\n  "));
  if (run) await cleanupRun(run);
});

describe("the Agent without DD_API_KEY, a soft dependency of OpenCode, on real Podman", () => {
  it("validate: valid (exit 0), with a warning naming the key and what its absence does", async () => {
    const r = await cli(["validate", "-c", run.config]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(
      `containers.datadog.requiredSecrets[0]: DD_API_KEY is not in the env file ${run.envFile}: the Agent exits at start without it (soft dependency of opencode, which starts anyway)`,
    );
  });

  it("up: exits 0 once OpenCode is ready, with a loud warning for the Agent, which backs off (exit code 1)", async () => {
    const started = Date.now();
    const r = await cli(["up", "-c", run.config, "--json", "--log-format", "json", "--timeout", "5m"]);
    const wallMs = Date.now() - started;
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    expect(r.stderr).toMatch(/^WARNING: datadog is down \(soft dependency of opencode\): .*exited \(code 1\); nothing restarts it after `up` exits/m);
    const summary = JSON.parse(r.stdout) as {
      ok: boolean;
      elapsedMs: number;
      warnings: string[];
      containers: Record<string, { state: string; readyAt: string | null; startedAt: string | null; restarts: number; lastExitCode: number | null; softDependencyOf: string[] }>;
    };
    expect(summary.ok).toBe(true);
    expect(summary.warnings).toHaveLength(1);
    expect(summary.warnings[0]).toMatch(/^datadog is down \(soft dependency of opencode\)/);
    const { datadog, opencode } = summary.containers;
    expect(opencode!.state).toBe("ready");
    expect(datadog).toMatchObject({ lastExitCode: 1, softDependencyOf: ["opencode"] });
    expect(["backing-off", "starting", "failed", "creating", "stopping"]).toContain(datadog!.state);
    // Nothing restarts it once `up` has exited: it ends exited with code 1 (it may still be starting now).
    const exited = await waitFor("the Agent to exit", async () => {
      const i = await inspect(`${run.pod}-datadog`);
      return i.State.Running ? undefined : i;
    }, 30_000);
    expect(exited.State.ExitCode).toBe(1);
    // Order kept: OpenCode was started after the Agent's first (failed) start.
    const log = parseLog(r.stderr.split("\n"));
    const firstStart = (c: string) => log.findIndex(logIs("starting", { container: c }));
    expect(firstStart("datadog")).toBeGreaterThanOrEqual(0);
    expect(firstStart("datadog")).toBeLessThan(firstStart("opencode"));
    expect(log.find(logIs("container failed", { container: "datadog" }))).toMatchObject({ exitCode: 1 });
    figures.push(
      `up (cold, no DD_API_KEY): exit 0 after ${wallMs} ms wall (elapsedMs ${summary.elapsedMs}); OpenCode ready ${Date.parse(opencode!.readyAt!) - started} ms after up started; ` +
        `the Agent then: ${datadog!.state}, restarts ${datadog!.restarts}, last exit code ${datadog!.lastExitCode}`,
    );
    const down = await cli(["down", "-c", run.config]);
    expect(down.code, down.stderr).toBe(0);
    expect(await podExists(run.pod)).toBe(false);
  }, 420_000);

  it("run: READY=1 once OpenCode is ready while the Agent backs off; /status warn with the note, /readyz 200", async () => {
    const rx = await startReceiver(join(run.dir, "notify.sock"));
    const started = Date.now();
    daemon = startDaemon(run.config, { env: { ...runEnv(run), NOTIFY_SOCKET: rx.address } });
    const d = daemon;
    const ready = await d.waitForLog("OpenCode ready", logIs("-> ready", { container: "opencode" }), { timeoutMs: 300_000 });
    const { doc: atReady } = await status();
    const failures = d.logs().filter((e) => logIs("container failed", { container: "datadog" })(e) && e.time <= ready.time);
    const serving = await d.waitForLog("the pod serving", logIs("pod serving without its soft dependencies"), { timeoutMs: 60_000 });
    expect(serving.softDown).toEqual(["datadog"]);
    // The config warning is in the daemon's log.
    expect(d.logs().some((e) => e.msg.includes("DD_API_KEY is not in the env file"))).toBe(true);

    await waitFor("READY=1", () => rx.got.some((g) => g.data.startsWith("READY=1")), 30_000, 25);
    const readySeenAt = Date.now();
    const readyMsg = rx.got.find((g) => g.data.startsWith("READY=1"))!.data;
    expect(readyMsg).toBe("READY=1\nSTATUS=ready 3/4 (datadog down: soft dependency)");

    // Give the Agent time for a few more attempts, then look.
    await waitFor("the Agent to have restarted twice", async () => ((await status()).doc.containers.datadog!.restarts >= 2 ? true : undefined), 60_000, 250);
    const { code, doc } = await status();
    expect(code).toBe(200);
    expect(doc.status).toBe("warn");
    expect(doc.pod).toMatchObject({ containersReady: 3, containersTotal: 4, serving: true });
    expect(doc.notes.filter((n) => n.startsWith("datadog is down"))).toHaveLength(1);
    expect(doc.notes.find((n) => n.startsWith("datadog is down"))).toMatch(NOTE);
    expect(doc.notes.some((n) => n.includes("DD_API_KEY is not in the env file"))).toBe(true);
    expect(doc.containers.datadog).toMatchObject({ ready: false, lastExitCode: 1, lastReason: "exited (code 1)", softDependencyOf: ["opencode"] });
    expect(doc.containers.datadog!.restarts).toBeGreaterThan(0);
    expect(["backing-off", "starting", "failed", "creating", "stopping"]).toContain(doc.containers.datadog!.state);
    for (const c of ["valkey", "falkordb", "opencode"]) expect([c, doc.containers[c]!.state]).toEqual([c, "ready"]);
    // OpenCode was started once and never stopped by the Agent's crash loop.
    expect(d.logs().filter(logIs("starting", { container: "opencode" }))).toHaveLength(1);
    expect(d.logs().filter(logIs("stopping", { container: "opencode" }))).toEqual([]);
    expect((await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status).toBe(200);
    const st = await cli(["status", "-c", run.config]);
    expect(st.code, st.stderr).toBe(0);
    expect(st.stdout).toMatch(/note: datadog is down \(soft dependency of opencode\)/);

    figures.push(
      `run (cold, no DD_API_KEY): OpenCode ready ${ready.time - started} ms after the daemon was spawned; the Agent at that moment: ` +
        `${atReady.containers.datadog!.state}, restarts ${atReady.containers.datadog!.restarts}, backoff ${atReady.containers.datadog!.backoffSeconds} s, ` +
        `${failures.length} failed start(s) logged (retry delays ${failures.map((f) => `${String(f.retryInMs)} ms`).join(", ")})`,
      `READY=1 seen ${readySeenAt - started} ms after the spawn, with STATUS=ready 3/4 (datadog down: soft dependency); ` +
        `${doc.containers.datadog!.restarts} Agent restarts (backoff ${doc.containers.datadog!.backoffSeconds} s) when /status was checked`,
    );
  }, 420_000);

  it("DD_API_KEY added and the config reloaded: the Agent becomes ready and /status goes pass", async () => {
    const d = daemon!;
    const agentBefore = (await status()).doc.containers.datadog!;
    await writeEnv(true);
    const from = d.mark();
    const started = Date.now();
    const r = await cli(["reload", "-c", run.config], 60_000, { env: runEnv(run) });
    expect(r.code, r.stderr).toBe(0);
    const reloaded = await d.waitForLog("the reload", (e) => e.msg.startsWith("config reloaded"), { from, timeoutMs: 30_000 });
    // Only the Agent receives DD_* keys: OpenCode's secret (OPENCODE_*, provider keys) is unchanged, so it is kept.
    expect([...(reloaded.changed as string[])].sort()).toEqual(["datadog"]);
    const agentReady = await d.waitForLog("the Agent ready", logIs("-> ready", { container: "datadog" }), { from, timeoutMs: 300_000 });
    await d.waitForLog("the pod ready", logIs("pod ready"), { from, timeoutMs: 300_000 });
    const { code, doc } = await waitFor("/status pass", async () => {
      const s = await status();
      return s.doc.status === "pass" ? s : undefined;
    }, 60_000, 250);
    const passAt = Date.now();
    expect(code).toBe(200);
    expect(doc.notes).toEqual([]);
    expect(doc.pod).toMatchObject({ containersReady: 4, serving: true });
    for (const c of CHAIN) expect([c, doc.containers[c]!.ready]).toEqual([c, true]);
    const startOf = (c: string) => d.logs(from).find(logIs("starting", { container: c }))?.time;
    figures.push(
      `DD_API_KEY added + podwarden reload (the Agent was ${agentBefore.state}, restarts ${agentBefore.restarts}, backoff ${agentBefore.backoffSeconds} s left): ` +
        `the Agent ready after ${agentReady.time - started} ms, /status pass after ${passAt - started} ms ` +
        `(OpenCode kept running; the Agent started ${startOf("datadog")! - started} ms after the reload)`,
    );
    expect(startOf("opencode")).toBeUndefined();
    expect(await d.stop("SIGTERM")).toBe(0);
    daemon = undefined;
    expect(await podExists(run.pod)).toBe(false);
  }, 420_000);
});
