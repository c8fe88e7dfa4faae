// The daemon-upgrade path on real Podman, without systemd (the real-systemd e2e covers the
// `systemctl restart` route): `podwarden restart-daemon` marks the running daemon and sends it
// SIGTERM; the daemon leaves every container running and exits 0; the next daemon adopts them
// all (no container created, started or stopped); a marker naming another pid is ignored, so
// a plain SIGTERM still stops the pod. FalkorDB and the Agent are stand-ins (config/local.yaml).

import { access } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keepPodPath, readMarker, writeMarker } from "../../src/daemon/keep-pod.js";
import {
  cleanupRun,
  cli,
  createRun,
  ensureImages,
  identities,
  logIs,
  podExists,
  runEnv,
  startDaemon,
  type ContainerIdentity,
  type Daemon,
  type E2eRun,
  type LogEntry,
} from "../support/podman-harness.js";

const CHAIN = ["valkey", "falkordb", "datadog", "opencode"] as const;
/** Messages that mean a daemon touched a container or the pod. */
const ACTIONS = new Set(["starting", "stopping", "creating container", "removing container", "container failed", "creating pod", "removing pod"]);
const actionsIn = (entries: readonly LogEntry[]): string[] => entries.filter((e) => ACTIONS.has(e.msg)).map((e) => `${e.msg} ${e.container ?? ""}`.trim());

describe("restart-daemon: the pod outlives its daemon", () => {
  let run: E2eRun;
  const daemons: Daemon[] = [];
  let before: Record<string, ContainerIdentity>;
  const launch = (): Daemon => {
    const d = startDaemon(run.config, { env: runEnv(run) });
    daemons.push(d);
    return d;
  };
  const marker = () => keepPodPath(runEnv(run), run.pod);

  beforeAll(async () => {
    run = await createRun();
    await ensureImages(run.config);
    const d = launch();
    await d.waitForLog("the pod ready", logIs("pod ready"), { timeoutMs: 300_000 });
    before = await identities(run.pod, CHAIN);
  }, 900_000);
  afterAll(async () => {
    for (const d of daemons) await d.kill();
    if (run) await cleanupRun(run);
  }, 120_000);

  it("the marked daemon hands over: exits 0, every container still running, untouched", async () => {
    const first = daemons[0]!;
    const from = first.mark();
    const t0 = Date.now();
    const r = await cli(["restart-daemon", "-c", run.config, "--json"], 120_000, { env: runEnv(run) });
    const ms = Date.now() - t0;
    expect(r.code, `${r.stderr}\n${first.tail()}`).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ ok: true, pod: run.pod, how: "signal", oldPid: first.pid, podKept: true });
    expect(r.stderr).toContain(`Start it again: podwarden run --config ${run.config}`);
    expect(await first.exited).toBe(0);
    const said = first.logs(from);
    expect(said.find(logIs("handing over: leaving the pod running for the next daemon"))).toMatchObject({ level: 30, signal: "SIGTERM" });
    expect(said.map((e) => e.msg)).not.toContain("pod stopped and removed");
    expect(actionsIn(said)).toEqual([]);
    const after = await identities(run.pod, CHAIN);
    expect(after).toEqual(before);
    for (const c of CHAIN) expect(after[c]!.running, c).toBe(true);
    expect(await readMarker(marker())).toEqual({ kind: "absent" });
    await expect(access(join(run.runtimeDir, `${run.pod}.pid`))).rejects.toThrow();
    console.log(`restart-daemon (signal route): ${ms} ms until the old daemon had exited`);
  }, 150_000);

  it("the next daemon adopts the pod: ready, and no container created, started or stopped", async () => {
    const second = launch();
    const t0 = Date.now();
    await second.waitForLog("the pod ready", logIs("pod ready"), { timeoutMs: 120_000 });
    console.log(`next daemon: pod ready ${Date.now() - t0} ms after its start`);
    expect(actionsIn(second.logs())).toEqual([]);
    expect(await identities(run.pod, CHAIN)).toEqual(before);
  }, 150_000);

  it("a stale marker (another pid) is ignored and removed: SIGTERM stops and removes the pod as always", async () => {
    const second = daemons[1]!;
    const stale = second.pid === 1 ? 2 : 1;
    await writeMarker(marker(), stale);
    const from = second.mark();
    expect(await second.stop("SIGTERM", 180_000)).toBe(0);
    const said = second.logs(from);
    expect(said.find(logIs("ignoring the keep-pod marker: the pod is stopped as usual"))).toMatchObject({
      level: 40,
      reason: `it names pid ${stale}, not this daemon (${second.pid}): stale`,
    });
    expect(said.map((e) => e.msg)).toContain("pod stopped and removed");
    expect(await podExists(run.pod)).toBe(false);
    expect(await readMarker(marker())).toEqual({ kind: "absent" });
  }, 200_000);

  it("with no daemon left, restart-daemon exits 69 and marks nothing", async () => {
    const r = await cli(["restart-daemon", "-c", run.config], 60_000, { env: runEnv(run) });
    expect(r.code).toBe(69);
    expect(r.stderr).toContain(`no running daemon for pod ${run.pod}`);
    expect(await readMarker(marker())).toEqual({ kind: "absent" });
  });
});
