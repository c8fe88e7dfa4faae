// `podwarden doctor` and the checks `up` and `run` make first, on real Podman. The host's own
// service for what works; for what does not, a second Podman service of the test's own
// (isolated storage and socket) from which catatonit has been taken away, as on a fresh
// Debian host. Nothing here touches what other tests or helpers run.

import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { receivers, startReceiver } from "../support/notify-receiver.js";
import { startIsolatedPodman, type IsolatedPodman } from "../support/isolated-podman.js";
import { CLI, cleanupRun, cli, createRun, freePort, parseLog, podExists, podman, spawnCli, waitFor, type CliResult, type E2eRun } from "../support/podman-harness.js";

const exec = promisify(execFile);
const FIX = "fix: apt-get install catatonit";

const runs: E2eRun[] = [];
const newRun = async (): Promise<E2eRun> => {
  const run = await createRun({ prefix: "pw-e2e-doctor" });
  runs.push(run);
  return run;
};

afterAll(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.stop()));
  for (const r of runs) await cleanupRun(r);
});

/** doctor's lines as [status, name, rest]. */
const lines = (stdout: string): [string, string, string][] =>
  stdout
    .split("\n")
    .filter((l) => /^(ok|warn|error) /.test(l))
    .map((l) => {
      const m = /^(\S+)\s+(port \d+|\S+)\s+(.*)$/.exec(l)!;
      return [m[1]!, m[2]!, m[3]!];
    });

const timed = async (f: () => Promise<CliResult>): Promise<CliResult & { ms: number }> => {
  const started = performance.now();
  const r = await f();
  return { ...r, ms: Math.round(performance.now() - started) };
};

describe("doctor on this host", () => {
  it("every check passes or warns, exit 0; its throwaway pod is gone", async () => {
    const run = await newRun();
    const r = await timed(() => cli(["doctor", "-c", run.config]));
    console.log(`doctor on this host (exit ${r.code}, ${r.ms} ms wall):\n${r.stdout}`);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const found = lines(r.stdout);
    expect(found.map(([, name]) => name)).toEqual(expect.arrayContaining(["socket", "runtime", "config", "env-file", "persist-root", "image", `port ${run.hostPort[4096]}`]));
    expect(found.filter(([status]) => status === "error")).toEqual([]);
    const runtime = found.find(([, name]) => name === "runtime")!;
    expect(runtime[0]).toBe("ok");
    const probe = /throwaway pod (podwarden-doctor-[0-9a-f]+)/.exec(runtime[2])![1]!;
    expect(await podExists(probe)).toBe(false);
    // The run's persistRoot is under /tmp: a warning with the fix, not an error, outside a unit.
    expect(found.find(([, name]) => name === "persist-root")).toEqual(["warn", "persist-root", expect.stringContaining("fix: set pod.persistRoot outside /tmp and /var/tmp")]);

    const json = await cli(["doctor", "-c", run.config, "--json"]);
    expect(json.code).toBe(0);
    const doc = JSON.parse(json.stdout) as { ok: boolean; exitCode: number; checks: { name: string; status: string }[] };
    expect(doc).toMatchObject({ ok: true, exitCode: 0 });
    expect(doc.checks.find((c) => c.name === "socket")?.status).toBe("ok");
  });

  it("a host port held by another process: names the pid and command, exit 72; up touches nothing", async () => {
    const run = await newRun();
    const port = run.hostPort[6380]!;
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(port, "127.0.0.1", resolve));
    try {
      const r = await cli(["doctor", "-c", run.config]);
      expect(r.code, r.stdout).toBe(72);
      expect(r.stdout).toMatch(new RegExp(`^error port ${port} +held by pid ${process.pid} \\(\\S*node`, "m"));
      expect(r.stdout).toContain(`fix: stop that process, or publish another host port (pod.ports: "HOST:6380")`);
      const up = await cli(["up", "-c", run.config, "--timeout", "60s"]);
      expect(up.code, up.stderr).toBe(72);
      expect(up.stderr).toContain(`port ${port}: held by pid ${process.pid}`);
      expect(await podExists(run.pod)).toBe(false);
    } finally {
      await new Promise((r) => squatter.close(r));
    }
  });

  it("no Podman socket: exit 69, and the config is still checked", async () => {
    const run = await newRun();
    const r = await cli(["doctor", "-c", run.config, "--socket", "/nonexistent/podman.sock"]);
    expect(r.code).toBe(69);
    expect(lines(r.stdout)[0]).toEqual(["error", "socket", expect.stringContaining("fix: start the Podman API service")]);
    expect(lines(r.stdout).find(([, n]) => n === "config")?.[0]).toBe("ok");
  });

  it("persistRoot under /tmp in a unit with a private /tmp: doctor and run exit 78 naming pod.persistRoot", async () => {
    const run = await newRun();
    // What systemd does for the unit: INVOCATION_ID, and (PrivateTmp=yes) a mount namespace of its own.
    const inUnit = (args: string[]): Promise<CliResult> =>
      exec("unshare", ["--mount", "--propagation", "private", process.execPath, CLI, ...args], { env: { ...process.env, INVOCATION_ID: "0123456789abcdef" } }).then(
        ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
      );
    const doctor = await inUnit(["doctor", "-c", run.config]);
    expect(doctor.code, doctor.stdout).toBe(78);
    expect(doctor.stdout).toMatch(/^error persist-root +\/tmp\/.* under \/tmp or \/var\/tmp and this runs in a systemd unit with a private \/tmp/m);
    const started = performance.now();
    const daemon = await inUnit(["run", "-c", run.config]);
    console.log(`run under a unit with persistRoot in /tmp: exit ${daemon.code} after ${Math.round(performance.now() - started)} ms`);
    expect(daemon.code, daemon.stderr + daemon.stdout).toBe(78);
    const said = daemon.stdout + daemon.stderr;
    expect(said).toContain("pod.persistRoot");
    expect(said).toContain("fix: set pod.persistRoot outside /tmp and /var/tmp");
    expect(await podExists(run.pod)).toBe(false);
  });
});

describe("a host without catatonit (an isolated Podman service)", () => {
  let iso: IsolatedPodman;
  beforeAll(async () => {
    iso = await startIsolatedPodman();
  }, 60_000);
  afterAll(async () => {
    await iso?.stop();
  });
  afterEach(async () => {
    // Whatever a test did, it leaves nothing in that storage.
    expect(await iso.leftovers()).toEqual({ pods: [], containers: [] });
  });

  it("doctor names the cause and the fix, exit 72; up exits 72 at once and creates nothing", async () => {
    const run = await newRun();
    const r = await timed(() => cli(["doctor", "--socket", iso.socket, "-c", run.config]));
    console.log(`doctor without catatonit (exit ${r.code}, ${r.ms} ms wall):\n${r.stdout}`);
    expect(r.code, r.stdout + r.stderr).toBe(72);
    const runtime = lines(r.stdout).find(([, name]) => name === "runtime")!;
    expect(runtime[0]).toBe("error");
    expect(runtime[2]).toMatch(/^catatonit missing: .*finding pause binary.*; fix: apt-get install catatonit$/);
    // The images are not in this storage: they would be built (debootstrap is installed), not pulled.
    expect(lines(r.stdout).filter(([, name]) => name === "image").every(([status]) => status === "ok")).toBe(true);

    const up = await timed(() => cli(["up", "--socket", iso.socket, "-c", run.config, "--timeout", "120s"]));
    console.log(`up without catatonit: exit ${up.code} after ${up.ms} ms:\n${up.stderr}`);
    expect(up.code).toBe(72);
    expect(up.stderr).toContain("host not ready");
    expect(up.stderr).toContain("catatonit missing");
    expect(up.stderr).toContain(FIX);
    const json = await cli(["up", "--socket", iso.socket, "-c", run.config, "--json"]);
    expect(json.code).toBe(72);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, code: "E_HOST" });
  });

  it("run waits: /status fails with the fix, STATUS= says blocked, logged once; with catatonit back it brings the pod up", async () => {
    // The pause image is what the pod's only container runs: once catatonit is back, the gate's
    // throwaway pod builds it in this storage, so the pod needs no other image there.
    const pause = await pauseImageRef();
    const dir = (await newRun()).dir;
    const httpPort = await freePort();
    const pod = `pw-e2e-doctor-run-${process.pid}`;
    await writeFile(join(dir, "run.env"), "UNUSED=1\n", { mode: 0o600 });
    await mkdir(join(dir, "persist"), { recursive: true });
    const config = join(dir, "run.yaml");
    await writeFile(
      config,
      [
        "pod:",
        `  name: ${pod}`,
        `  envFile: ${join(dir, "run.env")}`,
        `  persistRoot: ${join(dir, "persist")}`,
        "http:",
        `  port: ${httpPort}`,
        "containers:",
        "  sleeper:",
        `    image: ${pause}`,
        "    stopTimeout: 2s",
      ].join("\n"),
    );
    const rx = await startReceiver(join(dir, "notify.sock"));
    const daemon = spawnCli(["run", "--socket", iso.socket, "-c", config], { env: { NOTIFY_SOCKET: rx.address, RUNTIME_DIRECTORY: join(dir, "runtime") } });
    try {
      const blocked = "STATUS=blocked: catatonit missing: apt-get install catatonit";
      await waitFor("STATUS=blocked", () => rx.got.some((d) => d.data === blocked), 30_000);
      const status = await waitFor("/status", () => fetch(`http://127.0.0.1:${httpPort}/status`).catch(() => undefined), 30_000);
      expect(status.status).toBe(503);
      const doc = (await status.json()) as { status: string; notes: string[]; blocked: unknown; pod: { state: string } };
      expect(doc.status).toBe("fail");
      expect(doc.blocked).toEqual({ check: "runtime", cause: "catatonit missing", fix: "apt-get install catatonit" });
      expect(doc.notes[0]).toBe("host not ready (runtime): catatonit missing; fix: apt-get install catatonit");
      expect(doc.pod.state).toBe("absent");
      expect(await iso.leftovers()).toEqual({ pods: [], containers: [] });
      const errors = parseLog(daemon.lines).filter((e) => e.level >= 50);
      expect(errors.map((e) => e.msg)).toEqual([expect.stringMatching(/^host not ready: catatonit missing: .*; fix: apt-get install catatonit \(checking again every 15 s and on SIGHUP\)$/)]);

      // The fix, then SIGHUP: the gate checks again at once and the pod comes up.
      await iso.giveCatatonit();
      const fixedAt = performance.now();
      daemon.child.kill("SIGHUP");
      await waitFor("READY=1", () => rx.got.some((d) => d.data.startsWith("READY=1")), 60_000);
      console.log(`run: READY=1 ${Math.round(performance.now() - fixedAt)} ms after catatonit came back and SIGHUP`);
      expect(parseLog(daemon.lines).some((e) => e.msg === "host checks passed: starting the pod")).toBe(true);
      expect(await iso.leftovers()).toMatchObject({ pods: [pod] });
      const ready = (await (await fetch(`http://127.0.0.1:${httpPort}/status`)).json()) as { status: string; blocked: unknown };
      expect(ready).toMatchObject({ status: "pass", blocked: null });
      daemon.child.kill("SIGTERM");
      expect(await daemon.exited).toBe(0);
    } finally {
      if (daemon.child.exitCode === null) daemon.child.kill("SIGKILL");
      await daemon.exited;
      await rx.stop();
    }
  }, 180_000);
});

/**
 * The name Podman gives its pause image (localhost/podman-pause:<version>-<build time>),
 * from the host's own storage; made there first (with a pod created and removed) if missing.
 */
const pauseImageRef = async (): Promise<string> => {
  const find = async (): Promise<string | undefined> =>
    (await podman("images", "-a", "--filter", "reference=localhost/podman-pause", "--format", "{{.Repository}}:{{.Tag}}")).split("\n").find((l) => l.trim() !== "");
  const found = await find();
  if (found) return found;
  const name = `pw-e2e-doctor-pause-${process.pid}`;
  await podman("pod", "create", "--label", "io.podwarden.doctor=true", "--name", name);
  await podman("pod", "rm", "-f", name);
  return (await find())!;
};
