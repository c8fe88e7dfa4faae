// Issue 3 on real Podman with the local images: the daemon keeps the pod alive through
// crashes (kill -9 of each container's main process), hangs (SIGSTOP), drift (containers
// and the pod removed by hand), a crash loop, a Podman API outage, its own kill -9 and a
// graceful restart (data kept), and config reloads. Every describe has its own pod, its
// own daemon (`podwarden run` as a child process) and cleans up after itself.
//
// FalkorDB and the Datadog Agent are stand-ins here (see config/local.yaml); Valkey and
// OpenCode are real.

import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  cleanupRun,
  cli,
  cpuSeconds,
  createRun,
  ensureImages,
  identities,
  inspect,
  logIs,
  managedContainers,
  podExists,
  podman,
  resp,
  runEnv,
  signalMain,
  socketAnswers,
  startDaemon,
  startPodmanService,
  stopPodmanService,
  type ContainerIdentity,
  type Daemon,
  type E2eRun,
  type LogEntry,
  crashLoopYaml,
} from "../support/podman-harness.js";

const CHAIN = ["valkey", "falkordb", "datadog", "opencode"] as const;
type Name = (typeof CHAIN)[number];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const ms = (iso: string): number => Date.parse(iso);

/** Every daemon this file started, so that the last test can read all their logs. */
const allDaemons: Daemon[] = [];

interface PodUnderTest {
  run: E2eRun;
  daemon: Daemon;
  /** Starts (another) daemon for this run, with the run's RUNTIME_DIRECTORY. */
  launch(config?: string): Daemon;
  tag(c: string): string;
}

/**
 * One pod per describe: a run config (`extraYaml` over config/local.yaml), a daemon started
 * in beforeAll and waited on until `readyWhen` (default: "pod ready"); afterAll kills every
 * daemon of the describe (before the cleanup, so nothing recreates what is being removed)
 * and removes the run.
 */
const usePod = (opts: { extraYaml?: string; config?: (run: E2eRun) => Promise<string>; readyWhen?: (d: Daemon) => Promise<unknown> } = {}): PodUnderTest => {
  const daemons: Daemon[] = [];
  const s = {
    launch(config?: string): Daemon {
      const d = startDaemon(config ?? s.run.config, { env: runEnv(s.run) });
      daemons.push(d);
      allDaemons.push(d);
      s.daemon = d;
      return d;
    },
    tag: (c: string) => `${s.run.pod}-${c}`,
  } as PodUnderTest;
  beforeAll(async () => {
    s.run = await createRun(opts.extraYaml === undefined ? {} : { extraYaml: opts.extraYaml });
    await ensureImages(s.run.config);
    const d = s.launch(opts.config ? await opts.config(s.run) : undefined);
    await (opts.readyWhen ? opts.readyWhen(d) : d.waitForLog("the pod ready", logIs("pod ready"), { timeoutMs: 300_000 }));
  }, 900_000);
  afterAll(async () => {
    for (const d of daemons) await d.kill();
    if (s.run) await cleanupRun(s.run);
  }, 120_000);
  return s;
};

const pick = (ids: Record<string, ContainerIdentity>, names: readonly string[]) =>
  Object.fromEntries(names.map((n) => [n, { id: ids[n]!.id, startedAt: ids[n]!.startedAt }]));

/** Messages that mean the daemon touched a container. */
const ACTIONS = new Set(["starting", "stopping", "creating container", "removing container", "container failed", "creating pod", "removing pod"]);
const actionsIn = (entries: readonly LogEntry[]): string[] => entries.filter((e) => ACTIONS.has(e.msg)).map((e) => `${e.msg} ${e.container ?? ""}`.trim());

describe("crashes: kill -9 of each container's main process", () => {
  // One `restart: true` edge: OpenCode is restarted once the Agent is back and ready.
  const p = usePod({ extraYaml: ["containers:", "  opencode:", "    dependsOn: [{ name: datadog, restart: true }]"].join("\n") });

  it.each(CHAIN)(
    "kill -9 %s: it is restarted and ready again, the others keep running (except restart: true dependents)",
    async (c: Name) => {
      const d = p.daemon;
      const before = await identities(p.run.pod, CHAIN);
      expect(Object.values(before).every((b) => b.running)).toBe(true);
      const from = d.mark();
      const { at } = await signalMain(p.tag(c), "SIGKILL");

      const failed = await d.waitForLog(`${c}'s exit`, logIs("container failed", { container: c }), { from, timeoutMs: 30_000 });
      expect(failed.exitCode).toBe(137);
      expect(failed.time).toBeGreaterThanOrEqual(at);
      const ready = await d.waitForLog(`${c} ready again`, logIs("-> ready", { container: c }), { from, timeoutMs: 120_000 });
      let dependentReady: LogEntry | undefined;
      if (c === "datadog") {
        dependentReady = await d.waitForLog(
          "opencode ready again after datadog",
          (e) => logIs("-> ready", { container: "opencode" })(e) && e.time >= ready.time,
          { from, timeoutMs: 120_000 },
        );
      }
      await d.waitForLog("the pod ready again", (e) => logIs("pod ready")(e) && e.time >= ready.time, { from, timeoutMs: 120_000 });

      const after = await identities(p.run.pod, CHAIN);
      expect(after[c]!.running).toBe(true);
      expect(after[c]!.startedAt).not.toBe(before[c]!.startedAt);
      expect(ms(after[c]!.startedAt)).toBeGreaterThanOrEqual(at);

      const restartedDependents: Name[] = c === "datadog" ? ["opencode"] : [];
      for (const o of restartedDependents) {
        // Restarted only after its dependency was ready again, and stopped by podwarden, not crashed.
        expect(after[o]!.running).toBe(true);
        expect(ms(after[o]!.startedAt), `${o} started before ${c} was ready again`).toBeGreaterThanOrEqual(ready.time);
        const stop = d.logs(from).find(logIs("stopping", { container: o }));
        expect(stop?.reason).toBe("dependency-restarted");
        expect(stop!.time).toBeGreaterThanOrEqual(ready.time);
        expect(dependentReady).toBeDefined();
      }
      const untouched = CHAIN.filter((o) => o !== c && !restartedDependents.includes(o));
      // e.g. killing valkey does not restart falkordb (its edge has no restart: true).
      expect(pick(after, untouched), `containers other than ${c} were restarted`).toEqual(pick(before, untouched));
      expect(d.logs(from).filter(logIs("container failed")).map((e) => e.container)).toEqual([c]);
      console.log(`kill -9 ${c}: detected after ${failed.time - at} ms, ready again after ${ready.time - at} ms`);
    },
    180_000,
  );
});

describe("hangs: SIGSTOP of a container", () => {
  const PROBE = { intervalMs: 1_000, timeoutMs: 500, retries: 2 };
  const STOP_TIMEOUT_S = 2;
  const MARGIN_MS = 3_000;
  const p = usePod({
    extraYaml: [
      "containers:",
      "  valkey:",
      `    probe: { interval: ${PROBE.intervalMs}ms, timeout: ${PROBE.timeoutMs}ms, retries: ${PROBE.retries} }`,
      `    stopTimeout: ${STOP_TIMEOUT_S}s`,
    ].join("\n"),
  });

  it("a stopped (hung) Valkey is restarted as unhealthy within interval × retries plus a margin", async () => {
    const d = p.daemon;
    const before = await identities(p.run.pod, CHAIN);
    const from = d.mark();
    const { pid, at } = await signalMain(p.tag("valkey"), "SIGSTOP");
    try {
      const stopping = await d.waitForLog("valkey stopped as unhealthy", logIs("stopping", { container: "valkey" }), { from, timeoutMs: 30_000 });
      expect(stopping.reason).toBe("unhealthy");
      expect(stopping.timeoutS).toBe(STOP_TIMEOUT_S);
      expect(stopping.time - at, "time from SIGSTOP to the unhealthy verdict").toBeLessThanOrEqual(PROBE.intervalMs * PROBE.retries + MARGIN_MS);
      expect(d.logs(from).filter(logIs("probe failed", { container: "valkey" })).length).toBeGreaterThanOrEqual(PROBE.retries);

      const failed = await d.waitForLog("valkey's exit", logIs("container failed", { container: "valkey" }), { from, timeoutMs: 30_000 });
      expect(failed.reason).toBe("unhealthy");
      // A stopped process cannot act on SIGTERM: Podman kills it once the stop timeout has run
      // out, and only then is the exit seen (and the container started again).
      expect(failed.exitCode, "exit code of the hung valkey").toBe(137);
      expect(failed.time - stopping.time, "time from the stop request to the exit").toBeGreaterThanOrEqual(STOP_TIMEOUT_S * 1000 - 500);
      expect(failed.failures).toBe(1);
      const ready = await d.waitForLog("valkey ready again", logIs("-> ready", { container: "valkey" }), { from, timeoutMs: 60_000 });
      await d.waitForLog("the pod ready again", (e) => logIs("pod ready")(e) && e.time >= ready.time, { from, timeoutMs: 60_000 });

      const after = await identities(p.run.pod, CHAIN);
      expect(after.valkey!.running).toBe(true);
      expect(after.valkey!.startedAt).not.toBe(before.valkey!.startedAt);
      expect(after.valkey!.pid).not.toBe(pid);
      expect(await resp(p.run.hostPort[6380]!, "PING")).toBe("+PONG");
      // Dependents keep running while their dependency restarts (no restart: true edge).
      expect(pick(after, ["falkordb", "datadog", "opencode"])).toEqual(pick(before, ["falkordb", "datadog", "opencode"]));
      expect(d.logs(from).filter((e) => e.msg === "start failed" || e.msg === "container failed").map((e) => `${e.msg}: ${String(e.err ?? e.reason)}`)).toEqual([
        "container failed: unhealthy",
      ]);
      console.log(`SIGSTOP valkey: unhealthy after ${stopping.time - at} ms, ready again after ${ready.time - at} ms`);
    } finally {
      // If the daemon never acted, do not leave a frozen process behind.
      try {
        process.kill(pid, "SIGCONT");
      } catch {
        // gone: restarted as expected
      }
    }
  }, 120_000);
});

describe("drift: containers and the pod removed or stopped by hand", () => {
  const p = usePod();

  it("podman rm -f falkordb: recreated and ready again; the others untouched", async () => {
    const d = p.daemon;
    const before = await identities(p.run.pod, CHAIN);
    const from = d.mark();
    await podman("rm", "-f", "-t", "0", p.tag("falkordb"));
    const failed = await d.waitForLog("falkordb's removal", logIs("container failed", { container: "falkordb" }), { from, timeoutMs: 30_000 });
    // `podman rm -f` kills (137), then removes: conmon's exit file can show the kill first.
    expect(["removed", "exited (code 137)"]).toContain(failed.reason);
    const ready = await d.waitForLog("falkordb ready again", logIs("-> ready", { container: "falkordb" }), { from, timeoutMs: 120_000 });
    await d.waitForLog("the pod ready again", (e) => logIs("pod ready")(e) && e.time >= ready.time, { from, timeoutMs: 120_000 });
    const after = await identities(p.run.pod, CHAIN);
    expect(after.falkordb!.running).toBe(true);
    expect(after.falkordb!.id).not.toBe(before.falkordb!.id);
    expect(pick(after, ["valkey", "datadog", "opencode"])).toEqual(pick(before, ["valkey", "datadog", "opencode"]));
  }, 180_000);

  it("podman stop datadog: started again; the others untouched", async () => {
    const d = p.daemon;
    const before = await identities(p.run.pod, CHAIN);
    const from = d.mark();
    // `podman stop` cleans up after the exit; the daemon may have started the container again
    // by then, which makes the CLI fail with "is running or paused, refusing to clean up".
    await podman("stop", "-t", "5", p.tag("datadog")).catch((err: unknown) => {
      if (!/refusing to clean up/.test(String(err))) throw err;
    });
    const ready = await d.waitForLog("datadog ready again", logIs("-> ready", { container: "datadog" }), { from, timeoutMs: 120_000 });
    await d.waitForLog("the pod ready again", (e) => logIs("pod ready")(e) && e.time >= ready.time, { from, timeoutMs: 120_000 });
    const after = await identities(p.run.pod, CHAIN);
    expect(after.datadog!.running).toBe(true);
    expect(after.datadog!.startedAt).not.toBe(before.datadog!.startedAt);
    expect(pick(after, ["valkey", "falkordb", "opencode"])).toEqual(pick(before, ["valkey", "falkordb", "opencode"]));
  }, 180_000);

  it("podman pod rm -f: the pod and its four containers are restored in dependency order", async () => {
    const d = p.daemon;
    const before = await identities(p.run.pod, CHAIN);
    const from = d.mark();
    await podman("pod", "rm", "-f", "-t", "0", p.run.pod);
    // (The daemon may have made the pod anew before a `podman pod exists` here could run.)
    await d.waitForLog("the pod to be recreated", logIs("creating pod"), { from, timeoutMs: 30_000 });
    const readyAgain = await d.waitForLog("the pod ready again", logIs("pod ready"), { from, timeoutMs: 240_000 });
    expect(await podExists(p.run.pod)).toBe(true);
    const after = await identities(p.run.pod, CHAIN);
    const readyAt = Object.fromEntries(
      CHAIN.map((c) => [c, d.logs(from).find((e) => logIs("-> ready", { container: c })(e) && e.time <= readyAgain.time)?.time]),
    );
    for (const [i, c] of CHAIN.entries()) {
      expect(after[c]!.running, `${c} running`).toBe(true);
      expect(after[c]!.id, `${c} is a new container`).not.toBe(before[c]!.id);
      expect(readyAt[c], `${c} ready`).toBeDefined();
      if (i > 0) {
        const dep = CHAIN[i - 1]!;
        expect(ms(after[c]!.startedAt), `${c} started before ${dep} was ready`).toBeGreaterThanOrEqual(readyAt[dep]!);
      }
    }
    expect((await managedContainers(p.run.pod)).sort()).toEqual(CHAIN.map((c) => p.tag(c)).sort());
  }, 300_000);
});

describe("a crash loop: a container whose command exits at once", () => {
  const INITIAL_MS = 200;
  const MAX_MS = 1_600;
  const JITTER = 0.1;
  const WINDOW_MS = 15_000;
  const p = usePod({
    extraYaml: crashLoopYaml(INITIAL_MS, MAX_MS),
    // The pod is never "ready" (crashy never is): wait for OpenCode instead.
    readyWhen: (d) => d.waitForLog("opencode ready", logIs("-> ready", { container: "opencode" }), { timeoutMs: 300_000 }),
  });

  it("backs off with growing, capped delays, reports exit code 3, leaves the rest ready and costs little CPU", async () => {
    const d = p.daemon;
    const cpu0 = await cpuSeconds(d.pid);
    const t0 = Date.now();
    const before = await identities(p.run.pod, CHAIN);
    await sleep(WINDOW_MS);
    const cpu = (await cpuSeconds(d.pid)) - cpu0;
    const wall = Date.now() - t0;
    const after = await identities(p.run.pod, CHAIN);

    const log = d.logs();
    const starts = log.filter(logIs("starting", { container: "crashy" })).map((e) => e.time);
    const failures = log.filter(logIs("container failed", { container: "crashy" }));
    const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
    const retry = failures.map((f) => f.retryInMs as number);
    const startAfterFailure = failures.flatMap((f) => {
      const next = starts.find((t) => t >= f.time);
      return next === undefined ? [] : [next - f.time];
    });
    console.log(
      [
        `crash loop over ${wall} ms: ${starts.length} start attempts, ${failures.length} failures`,
        `  retryInMs chosen by the daemon: ${retry.join(", ")}`,
        `  gaps between start attempts (ms): ${gaps.join(", ")}`,
        `  failure -> next start (ms): ${startAfterFailure.join(", ")}`,
        `  daemon CPU: ${cpu.toFixed(2)} s over ${(wall / 1000).toFixed(1)} s`,
      ].join("\n"),
    );

    // Exit code 3 is what is reported, every time.
    expect(failures.length).toBeGreaterThanOrEqual(8);
    for (const f of failures) expect([f.exitCode, f.reason]).toEqual([3, "exited (code 3)"]);
    // Podman shows the last exit code only between a crash and the next start (a new start
    // resets it to 0): look while the container is down.
    let down = (await inspect(p.tag("crashy"))).State;
    for (let i = 0; i < 200 && (down.Running || down.Status !== "exited"); i++) {
      await sleep(25);
      down = (await inspect(p.tag("crashy"))).State;
    }
    expect([down.Status, down.ExitCode]).toEqual(["exited", 3]);
    expect(log.some(logIs("-> backing-off", { container: "crashy" }))).toBe(true);

    // The daemon's delays: the first retry at once, then initialDelay doubling (±jitter), capped.
    for (const [i, r] of retry.entries()) {
      const nominal = i === 0 ? 0 : Math.min(MAX_MS, INITIAL_MS * 2 ** (i - 1));
      expect(r, `delay after failure ${i + 1}`).toBeGreaterThanOrEqual(Math.floor(nominal * (1 - JITTER)));
      expect(r, `delay after failure ${i + 1}`).toBeLessThanOrEqual(Math.min(MAX_MS, Math.ceil(nominal * (1 + JITTER))));
    }
    // ...and each attempt is made when due, not earlier and not much later.
    for (const [i, lag] of startAfterFailure.entries()) {
      expect(lag, `start after failure ${i + 1}`).toBeGreaterThanOrEqual(retry[i]! - 5);
      expect(lag, `start after failure ${i + 1}`).toBeLessThanOrEqual(retry[i]! + 500);
    }
    // What Podman sees: gaps that grow (never shrinking by more than the jitter allows) and stay capped.
    for (const [i, g] of gaps.entries()) {
      expect(g, `gap ${i + 1}`).toBeLessThanOrEqual(MAX_MS * (1 + JITTER) + 1_000);
      if (i > 0) expect(g, `gap ${i + 1} after ${gaps[i - 1]}`).toBeGreaterThanOrEqual(gaps[i - 1]! * ((1 - JITTER) / (1 + JITTER)) - 150);
    }
    expect(gaps[0]!).toBeLessThan(MAX_MS / 2);
    for (const g of gaps.slice(-3)) expect(g).toBeGreaterThanOrEqual(MAX_MS * (1 - JITTER));

    // The rest of the pod is untouched, and the daemon is not spinning.
    expect(pick(after, CHAIN)).toEqual(pick(before, CHAIN));
    expect(Object.values(after).every((a) => a.running)).toBe(true);
    expect(log.filter((e) => logIs("container failed")(e) && e.container !== "crashy")).toEqual([]);
    expect(cpu, "daemon CPU seconds during the crash loop").toBeLessThan(2);
  }, 120_000);
});

describe("outages and daemon restarts", () => {
  // A short probe interval, so that passes run (and fail) while Podman is away.
  const p = usePod({ extraYaml: ["defaults:", "  probe: { interval: 2s, timeout: 1s }"].join("\n") });

  it("the Podman API service stops for a while: the daemon survives, then adopts the pod without restarts", async () => {
    const d = p.daemon;
    const before = await identities(p.run.pod, CHAIN);
    const from = d.mark();
    let backAt = 0;
    try {
      const stopped = await stopPodmanService();
      expect(stopped.length, "a podman system service process to stop").toBeGreaterThan(0);
      const downAt = Date.now();
      expect(await socketAnswers()).toBe(false);
      await d.waitForLog("the daemon to notice the event stream is gone", (e) => /^event stream (lost|ended)/.test(e.msg), { from, timeoutMs: 15_000 });
      await d.waitForLog("a failed pass", logIs("reconcile pass failed"), { from, timeoutMs: 15_000 });
      await sleep(Math.max(0, 5_000 - (Date.now() - downAt)));
      expect(d.alive, "the daemon exited during the outage").toBe(true);
    } finally {
      await startPodmanService();
      backAt = Date.now();
    }
    expect(d.alive).toBe(true);
    await d.waitForLog("the event stream to be back", logIs("event stream reconnected"), { from, timeoutMs: 60_000 });
    await d.waitForLog("the pod ready after the outage", (e) => logIs("pod ready")(e) && e.time >= backAt, { from, timeoutMs: 60_000 });
    const after = await identities(p.run.pod, CHAIN);
    expect(pick(after, CHAIN)).toEqual(pick(before, CHAIN));
    expect(Object.values(after).every((a) => a.running)).toBe(true);
    expect(actionsIn(d.logs(from))).toEqual([]);
  }, 180_000);

  it("kill -9 of the daemon leaves the pod running; the next daemon adopts it with zero restarts", async () => {
    const before = await identities(p.run.pod, CHAIN);
    const old = p.daemon;
    old.child.kill("SIGKILL");
    await old.exited;
    expect(old.child.signalCode).toBe("SIGKILL");
    await sleep(1_000);
    const orphaned = await identities(p.run.pod, CHAIN);
    expect(pick(orphaned, CHAIN)).toEqual(pick(before, CHAIN));
    expect(Object.values(orphaned).every((o) => o.running)).toBe(true);

    const d = p.launch();
    await d.waitForLog("the new daemon to report the pod ready", logIs("pod ready"), { timeoutMs: 60_000 });
    const after = await identities(p.run.pod, CHAIN);
    expect(pick(after, CHAIN)).toEqual(pick(before, CHAIN));
    expect(actionsIn(d.logs())).toEqual([]);
  }, 120_000);

  it("keys written to Valkey and FalkorDB survive a graceful stop (SIGTERM) and the next start", async () => {
    const keys = Array.from({ length: 25 }, (_, i) => [`pw:e2e:key:${i}`, `value-${i}-${Date.now()}`] as const);
    for (const [k, v] of keys) {
      expect(await resp(p.run.hostPort[6380]!, "SET", k, v)).toBe("+OK");
      expect(await resp(p.run.hostPort[6379]!, "SET", k, v)).toBe("+OK");
    }
    const d = p.daemon;
    d.child.kill("SIGTERM");
    expect(await d.exited).toBe(0);
    expect(d.logs().some(logIs("pod stopped and removed"))).toBe(true);
    expect(await podExists(p.run.pod)).toBe(false);
    expect(await managedContainers(p.run.pod)).toEqual([]);

    const next = p.launch();
    await next.waitForLog("the pod ready after the restart", logIs("pod ready"), { timeoutMs: 240_000 });
    for (const [k, v] of keys) {
      expect(await resp(p.run.hostPort[6380]!, "GET", k), `valkey ${k}`).toBe(`$${v.length}\r\n${v}`);
      expect(await resp(p.run.hostPort[6379]!, "GET", k), `falkordb ${k}`).toBe(`$${v.length}\r\n${v}`);
    }
  }, 300_000);
});

describe("reload: a changed config applied to the running pod, an invalid one rejected", () => {
  // The daemon runs from current.yaml, which the tests rewrite as a person would edit it.
  const current = (run: E2eRun): string => join(run.dir, "current.yaml");
  const write = (run: E2eRun, lines: readonly string[]): Promise<void> => writeFile(current(run), [`extends: ${run.config}`, ...lines, ""].join("\n"));
  const CHANGED = ["containers:", "  datadog:", "    env:", '      DD_ENV: "e2e-reloaded"'];
  const INVALID = [...CHANGED, "  valkey:", "    restartPolicy: always"];
  const p = usePod({
    config: async (run) => {
      await write(run, []);
      return current(run);
    },
  });

  it("podwarden reload recreates exactly the container whose spec changed (datadog), nothing else", async () => {
    const d = p.daemon;
    const before = await identities(p.run.pod, CHAIN);
    await write(p.run, CHANGED);
    const from = d.mark();
    const r = await cli(["reload", "-c", current(p.run)], 60_000, { env: runEnv(p.run) });
    expect(r.code, r.stderr).toBe(0);
    // Through the daemon's control socket, which answers with what it applied.
    expect(r.stdout).toContain(`the daemon of pod ${p.run.pod} reloaded`);
    expect(r.stdout).toContain("recreating datadog");
    const reloaded = await d.waitForLog("the reload", (e) => e.msg.startsWith("config reloaded"), { from, timeoutMs: 30_000 });
    expect([reloaded.msg, reloaded.changed, reloaded.podChanged]).toEqual(["config reloaded", ["datadog"], false]);
    const ready = await d.waitForLog("datadog ready again", (e) => logIs("-> ready", { container: "datadog" })(e) && e.time >= reloaded.time, { from, timeoutMs: 120_000 });
    await d.waitForLog("the pod ready again", (e) => logIs("pod ready")(e) && e.time >= ready.time, { from, timeoutMs: 120_000 });
    const after = await identities(p.run.pod, CHAIN);
    expect(after.datadog!.id).not.toBe(before.datadog!.id);
    expect(after.datadog!.running).toBe(true);
    expect(pick(after, ["valkey", "falkordb", "opencode"])).toEqual(pick(before, ["valkey", "falkordb", "opencode"]));
    expect(await podman("exec", p.tag("datadog"), "printenv", "DD_ENV")).toBe("e2e-reloaded\n");
    expect(actionsIn(d.logs(from)).filter((a) => !a.endsWith(" datadog"))).toEqual([]);
  }, 180_000);

  it("podwarden reload with an invalid config exits 78 naming the field, and the daemon is not asked", async () => {
    const d = p.daemon;
    const before = await identities(p.run.pod, CHAIN);
    await write(p.run, INVALID);
    const from = d.mark();
    const r = await cli(["reload", "-c", current(p.run)], 60_000, { env: runEnv(p.run) });
    expect(r.code).toBe(78);
    expect(r.stderr).toContain("containers.valkey.restartPolicy");
    expect(r.stderr).toContain(current(p.run));
    await sleep(1_500);
    expect(d.logs(from).filter((e) => /reload/.test(e.msg))).toEqual([]);
    expect(pick(await identities(p.run.pod, CHAIN), CHAIN)).toEqual(pick(before, CHAIN));
  }, 60_000);

  it("SIGHUP with an invalid file in place: the rejection is logged and nothing changes", async () => {
    const d = p.daemon;
    const before = await identities(p.run.pod, CHAIN);
    await write(p.run, INVALID);
    const from = d.mark();
    d.child.kill("SIGHUP");
    const rejected = await d.waitForLog("the rejection", logIs("config reload rejected; the pod is left as it is"), { from, timeoutMs: 30_000 });
    expect(JSON.stringify(rejected.issues)).toContain("containers.valkey.restartPolicy");
    await sleep(3_000);
    expect(d.alive).toBe(true);
    expect(actionsIn(d.logs(from))).toEqual([]);
    expect(pick(await identities(p.run.pod, CHAIN), CHAIN)).toEqual(pick(before, CHAIN));

    // The valid file back in place: the daemon still reloads, and finds nothing to do.
    await write(p.run, CHANGED);
    const again = d.mark();
    d.child.kill("SIGHUP");
    const ok = await d.waitForLog("a clean reload", (e) => e.msg.startsWith("config reloaded"), { from: again, timeoutMs: 30_000 });
    expect(ok.msg).toBe("config reloaded: nothing changed");
    await sleep(1_000);
    expect(actionsIn(d.logs(from))).toEqual([]);
    expect(pick(await identities(p.run.pod, CHAIN), CHAIN)).toEqual(pick(before, CHAIN));
  }, 60_000);
});

describe("the daemons' own account of all of the above", () => {
  it("no container ever made a transition the lifecycle table calls impossible", () => {
    const odd = allDaemons.flatMap((d) => d.logs().filter((e) => typeof e.msg === "string" && e.msg.includes("is not in the lifecycle table")).map((e) => `${e.container}: ${String(e.from)} -> ${String(e.to)}`));
    expect([...new Set(odd)]).toEqual([]);
  });
});
