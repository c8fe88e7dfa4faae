// The whole pod on real Podman with the local images (real Valkey and OpenCode; stand-ins
// for FalkorDB and the Datadog Agent). One run: up (with a slow FalkorDB stand-in), the
// shared network namespace, secrets kept out of inspect, persistence across down/up,
// adoption by `run`, and SIGTERM's reverse-order shutdown.

import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  cleanupRun,
  cli,
  createRun,
  ensureImages,
  inspect,
  managedContainers,
  podExists,
  podman,
  resp,
  spawnCli,
  waitFor,
  SOCKET,
  type E2eRun,
} from "../support/podman-harness.js";
import { stopWatcher } from "../support/podman-events.js";

const CHAIN = ["valkey", "falkordb", "datadog", "opencode"] as const;
const SLOW_MS = 3_000;

interface UpSummary {
  ok: boolean;
  elapsedMs: number;
  containers: Record<string, { id: string; startedAt: string; readyAt: string; startToReadyMs: number }>;
}

let run: E2eRun;

beforeAll(async () => {
  run = await createRun({
    // The FalkorDB stand-in waits before it listens: everything after it must wait too.
    extraYaml: ["containers:", "  falkordb:", "    env:", `      STANDIN_READY_DELAY: "${SLOW_MS / 1000}"`].join("\n"),
  });
  await ensureImages(run.config);
});

afterAll(async () => {
  if (run) await cleanupRun(run);
});

describe("the pod on real Podman", () => {
  let first: UpSummary;

  it("comes up in order, each container started only after its dependency passed its probe", async () => {
    const r = await cli(["up", "-c", run.config, "--json", "--timeout", "5m"]);
    expect(r.code, r.stderr).toBe(0);
    first = JSON.parse(r.stdout) as UpSummary;
    expect(first.ok).toBe(true);
    expect(Object.keys(first.containers)).toEqual([...CHAIN]);
    const podmanStarted = Object.fromEntries(
      await Promise.all(CHAIN.map(async (c) => [c, Date.parse((await inspect(`${run.pod}-${c}`)).State.StartedAt)] as const)),
    );
    for (let i = 1; i < CHAIN.length; i++) {
      const dep = first.containers[CHAIN[i - 1]!]!;
      expect(podmanStarted[CHAIN[i]!]!, `${CHAIN[i]} started before ${CHAIN[i - 1]} was ready`).toBeGreaterThan(Date.parse(dep.readyAt));
    }
    // The slow stand-in delays everything after it.
    expect(podmanStarted.datadog! - podmanStarted.falkordb!).toBeGreaterThanOrEqual(SLOW_MS);
    expect(first.containers.falkordb!.startToReadyMs).toBeGreaterThanOrEqual(SLOW_MS);
  });

  it("creates the containers podwarden's way: labels, restart policy no, in one pod", async () => {
    for (const c of CHAIN) {
      const info = JSON.parse(await podman("inspect", `${run.pod}-${c}`))[0];
      expect(info.Config.Labels["io.podwarden.managed"]).toBe("true");
      expect(info.Config.Labels["io.podwarden.pod"]).toBe(run.pod);
      expect(info.Config.Labels["io.podwarden.spec-hash"]).toMatch(/^[0-9a-f]{16}$/);
      expect(info.HostConfig.RestartPolicy.Name).toMatch(/^(no|)$/);
      expect(info.Pod).toBeTruthy();
    }
  });

  it("shares one network namespace: OpenCode reaches Valkey, FalkorDB and the Agent on localhost", async () => {
    const inside = (cmd: string) => podman("exec", `${run.pod}-opencode`, "sh", "-c", cmd);
    expect(await inside(`printf 'PING\\r\\nQUIT\\r\\n' | curl -s --max-time 2 telnet://localhost:6380`)).toContain("+PONG");
    expect(await inside(`printf 'PING\\r\\nQUIT\\r\\n' | curl -s --max-time 2 telnet://localhost:6379`)).toContain("+PONG");
    expect(await inside("curl -s --max-time 2 -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/msgpack' --data-binary @/dev/null localhost:8126/v0.4/traces")).toBe("200");
  });

  it("keeps secrets out of podman inspect while the containers still receive them", async () => {
    const all = await podman("inspect", ...CHAIN.map((c) => `${run.pod}-${c}`));
    expect(all).not.toContain(run.password);
    const unauth = await fetch(`http://127.0.0.1:${run.hostPort[4096]}/global/health`);
    expect(unauth.status).toBe(401);
    const auth = await fetch(`http://127.0.0.1:${run.hostPort[4096]}/global/health`, {
      headers: { authorization: `Basic ${Buffer.from(`opencode:${run.password}`).toString("base64")}` },
    });
    expect(auth.status).toBe(200);
  });

  it("keeps a key written to Valkey across down and up", async () => {
    expect(await resp(run.hostPort[6380]!, "SET", "podwarden:e2e", "survives")).toBe("+OK");
    const down = await cli(["down", "-c", run.config]);
    expect(down.code, down.stderr).toBe(0);
    expect(await podExists(run.pod)).toBe(false);
    const up = await cli(["up", "-c", run.config, "--timeout", "5m"]);
    expect(up.code, up.stderr).toBe(0);
    expect(await resp(run.hostPort[6380]!, "GET", "podwarden:e2e")).toBe("$8\r\nsurvives");
  });

  let current = "";

  it("recreates exactly the container whose spec changed, and nothing else", async () => {
    current = join(run.dir, "changed.yaml");
    await writeFile(current, [`extends: ${run.config}`, "containers:", "  datadog:", "    env:", '      DD_ENV: "e2e-changed"'].join("\n"));
    const before = Object.fromEntries(await Promise.all(CHAIN.map(async (c) => [c, await inspect(`${run.pod}-${c}`)] as const)));
    const r = await cli(["up", "-c", current, "--timeout", "5m"]);
    expect(r.code, r.stderr).toBe(0);
    const after = Object.fromEntries(await Promise.all(CHAIN.map(async (c) => [c, await inspect(`${run.pod}-${c}`)] as const)));
    expect(after.datadog!.Id).not.toBe(before.datadog!.Id);
    for (const c of ["valkey", "falkordb", "opencode"]) expect([c, after[c]!.Id, after[c]!.State.StartedAt]).toEqual([c, before[c]!.Id, before[c]!.State.StartedAt]);
    expect(await podman("exec", `${run.pod}-datadog`, "printenv", "DD_ENV")).toBe("e2e-changed\n");
  });

  it("`run` after `up` adopts the pod: same container ids, same start times", async () => {
    const before = await Promise.all(CHAIN.map((c) => inspect(`${run.pod}-${c}`)));
    const daemon = spawnCli(["run", "-c", current]);
    try {
      await waitFor("the daemon to report the pod ready", () => daemon.lines.some((l) => l.includes('"msg":"pod ready"')), 60_000);
      const after = await Promise.all(CHAIN.map((c) => inspect(`${run.pod}-${c}`)));
      expect(after.map((a) => [a.Id, a.State.StartedAt])).toEqual(before.map((b) => [b.Id, b.State.StartedAt]));

      // SIGTERM: containers stop in reverse order (as Podman reports their state), then the pod goes.
      const names = CHAIN.map((c) => `${run.pod}-${c}`);
      const watcher = stopWatcher(SOCKET, names);
      daemon.child.kill("SIGTERM");
      expect(await daemon.exited).toBe(0);
      await watcher.stop();
      expect(watcher.stoppedAt.size).toBe(CHAIN.length);
      const byStop = [...watcher.stoppedAt].sort((a, b) => a[1] - b[1]).map(([n]) => n);
      expect(byStop).toEqual([...names].reverse());
      expect(await podExists(run.pod)).toBe(false);
      expect(await managedContainers(run.pod)).toEqual([]);
    } finally {
      if (daemon.child.exitCode === null) daemon.child.kill("SIGKILL");
    }
  });
});

describe("an invalid config", () => {
  it("exits 78, names the field, and creates nothing in Podman", async () => {
    const bad = await createRun({ extraYaml: ["containers:", "  valkey:", "    restartPolicy: always"].join("\n") });
    try {
      const r = await cli(["up", "-c", bad.config]);
      expect(r.code).toBe(78);
      expect(r.stderr).toContain("containers.valkey.restartPolicy");
      expect(r.stderr).toContain(bad.config);
      expect(await podExists(bad.pod)).toBe(false);
      expect(await managedContainers(bad.pod)).toEqual([]);
    } finally {
      await cleanupRun(bad);
    }
  });
});
