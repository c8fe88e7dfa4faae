// One daemon per pod, and stopping means stopping, on real Podman with a pod of small containers
// from the local Valkey image (test/support/valkey-chain.ts).
//
// - A second `run`, an `up` and a `down` for the pod of a running daemon are refused with exit
//   73 naming the daemon, and touch nothing: no Podman event, the same container ids, the same
//   pid file and control socket (inode). `reload` goes through the control socket. After a
//   kill -9 of the daemon, a new `run` takes the pod at once (no stale lock) and adopts it,
//   restarting nothing although every container's start period ran out before it came.
// - SIGTERM during start-up (a chain of 10 slow starters, the signal while the 4th waits for
//   health): Podman shows no create or start after the daemon's "shutting down" line, every
//   container is stopped in reverse order and the pod removed, exit 0.

import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { podLockPath } from "../../src/daemon/pod-lock.js";
import { podEvents } from "../support/podman-events.js";
import {
  SOCKET,
  cleanupRun,
  cli,
  createRun,
  identities,
  logIs,
  managedContainers,
  podExists,
  runEnv,
  startDaemon,
  type Daemon,
  type E2eRun,
  type LogEntry,
  waitFor,
} from "../support/podman-harness.js";
import { chainNames, writeValkeyChain } from "../support/valkey-chain.js";

/** Messages that mean a daemon acted on a container or the pod. */
const ACTIONS = new Set(["starting", "creating container", "removing container", "creating pod", "removing pod", "stopping"]);
const actionsIn = (entries: readonly LogEntry[]): string[] => entries.filter((e) => ACTIONS.has(e.msg)).map((e) => `${e.msg} ${e.container ?? ""}`.trim());

/** Short, so that the adoption below comes after every container's start period has run out. */
const START_PERIOD_S = 5;

describe("one daemon per pod", () => {
  const names = chainNames(3);
  let baseDir: string;
  let run: E2eRun;
  const daemons: Daemon[] = [];
  const launch = (): Daemon => {
    const d = startDaemon(run.config, { env: runEnv(run) });
    daemons.push(d);
    return d;
  };

  beforeAll(async () => {
    baseDir = await mkdtemp(join(tmpdir(), "pw-e2e-chain-"));
    run = await createRun({ base: await writeValkeyChain(baseDir, { count: names.length, delayS: 0, stopTimeoutS: 5, startPeriodS: START_PERIOD_S }) });
  }, 60_000);
  afterAll(async () => {
    for (const d of daemons) await d.kill();
    if (run) await cleanupRun(run);
    await rm(baseDir, { recursive: true, force: true });
  }, 120_000);

  it("a second run, an up and a down are refused with exit 73 naming the daemon; nothing is touched", async () => {
    const first = launch();
    await first.waitForLog("the pod ready", logIs("pod ready"), { timeoutMs: 120_000 });
    const before = await identities(run.pod, names);
    const socket = join(run.runtimeDir, `${run.pod}.sock`);
    const pidfile = join(run.runtimeDir, `${run.pod}.pid`);
    const socketIno = (await stat(socket)).ino;
    const pidText = await readFile(pidfile, "utf8");
    const mark = first.mark();
    const events = podEvents(SOCKET, run.pod);
    await events.ready;

    const holder = `is held by podwarden run (pid ${first.pid}, since `;
    const second = await cli(["run", "-c", run.config], 60_000, { env: runEnv(run) });
    const up = await cli(["up", "-c", run.config], 60_000, { env: runEnv(run) });
    const down = await cli(["down", "-c", run.config], 60_000, { env: runEnv(run) });
    // Podman's events come asynchronously: give any a moment to arrive.
    await new Promise((r) => setTimeout(r, 1_500));
    events.close();

    expect(second.code, second.stderr).toBe(73);
    // `run` logs JSON: one fatal line with the code and the message.
    const refusal = JSON.parse(second.stderr.trim().split("\n").at(-1)!) as { code: string; exitCode: number; msg: string };
    expect(refusal).toMatchObject({ code: "E_LOCKED", exitCode: 73 });
    expect(refusal.msg).toContain(holder);
    expect(refusal.msg).toContain("one daemon per pod: stop it first");
    expect(up.code, up.stderr).toBe(73);
    expect(up.stderr).toContain(holder);
    expect(up.stderr).toContain("a daemon supervises this pod; use podwarden status / reload");
    expect(down.code, down.stderr).toBe(73);
    expect(down.stderr).toContain("a daemon supervises this pod and would bring it back");

    expect(events.events()).toEqual([]);
    expect(await identities(run.pod, names)).toEqual(before);
    expect((await stat(socket)).ino).toBe(socketIno);
    expect(await readFile(pidfile, "utf8")).toBe(pidText);
    expect(JSON.parse(await readFile(podLockPath(runEnv(run), run.pod), "utf8"))).toMatchObject({ pid: first.pid, command: "run" });
    // The first daemon did nothing in the meantime either, and is still there.
    expect(actionsIn(first.logs(mark))).toEqual([]);
    expect(first.alive).toBe(true);
  }, 300_000);

  it("reload goes through the control socket and says what changed", async () => {
    const r = await cli(["reload", "-c", run.config, "--json"], 60_000, { env: runEnv(run) });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ ok: true, pod: run.pod, via: "control socket", changed: [], podChanged: false });
    await daemons[0]!.waitForLog("the reload", logIs("config reloaded: nothing changed"), { timeoutMs: 10_000 });
  }, 120_000);

  it("after kill -9 of the daemon a new run takes the pod at once (no stale lock) and adopts it", async () => {
    const first = daemons[0]!;
    const before = await identities(run.pod, names);
    first.child.kill("SIGKILL");
    await first.exited;
    // Past every start period: the new daemon must probe them, not restart them for a start it did not see.
    await new Promise((r) => setTimeout(r, (START_PERIOD_S + 1) * 1000));
    const next = launch();
    await next.waitForLog("the pod ready", logIs("pod ready"), { timeoutMs: 120_000 });
    expect(actionsIn(next.logs())).toEqual([]);
    expect(await identities(run.pod, names)).toEqual(before);
    expect(JSON.parse(await readFile(podLockPath(runEnv(run), run.pod), "utf8"))).toMatchObject({ pid: next.pid, command: "run" });
    // And it still stops the pod as usual; the lock is free afterwards (an up could take it).
    expect(await next.stop("SIGTERM")).toBe(0);
    expect(await podExists(run.pod)).toBe(false);
    expect(await readFile(podLockPath(runEnv(run), run.pod), "utf8")).toBe("");
  }, 300_000);
});

/** Runs `podwarden run` on a pod of small containers; SIGTERM once `signalAfter` has been started. */
const startupStop = async (opts: { count: number; independent: boolean; signalAfter: string }) => {
  const baseDir = await mkdtemp(join(tmpdir(), "pw-e2e-chain-"));
  const run = await createRun({ base: await writeValkeyChain(baseDir, { count: opts.count, delayS: 2, stopTimeoutS: STOP_TIMEOUT_S, independent: opts.independent }) });
  const events = podEvents(SOCKET, run.pod);
  const daemon = startDaemon(run.config, { env: runEnv(run) });
  try {
    await events.ready;
    // Podman has started it; it is in its slow start (the daemon waits for its health, or goes on creating the others).
    await waitFor(`${opts.signalAfter} started`, () => events.events("start").some((e) => e.name === `${run.pod}-${opts.signalAfter}`), 120_000, 5);
    const t0 = performance.now();
    const code = await daemon.stop("SIGTERM", 120_000);
    const ms = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 1_000));
    const log = daemon.logs();
    const signalLine = log.find(logIs("shutting down: stopping containers in reverse order"));
    const short = (e: { name: string }) => e.name.slice(run.pod.length + 1);
    return {
      code,
      ms,
      tail: daemon.tail(),
      signalLine,
      after: signalLine ? log.slice(log.indexOf(signalLine)) : [],
      log,
      /**
       * The request the daemon had in flight when the signal came (its last create or start,
       * logged before the signal line): Podman may report it after that line, and only it.
       */
      inFlight: (() => {
        const before = signalLine ? log.slice(0, log.indexOf(signalLine)) : [];
        const last = before.filter((e) => e.msg === "creating container" || e.msg === "starting").at(-1);
        return last ? `${last.msg === "starting" ? "start" : "create"} ${last.container}` : undefined;
      })(),
      /** Creates and starts Podman reports after the daemon logged the signal. */
      late: signalLine ? [...events.events("create"), ...events.events("start")].filter((e) => e.timeNano > signalLine.time * 1e6).map((e) => `${e.action} ${short(e)}`) : ["no signal line"],
      created: events.events("create").map(short),
      podLeft: await podExists(run.pod),
      containersLeft: await managedContainers(run.pod),
    };
  } finally {
    events.close();
    await daemon.kill();
    await cleanupRun(run);
    await rm(baseDir, { recursive: true, force: true });
  }
};

const STOP_TIMEOUT_S = 3;

describe("SIGTERM during start-up", () => {
  it("a chain of 10 slow starters, signal while the 4th waits for health: no create or start after it, reverse stop, pod removed", async () => {
    const r = await startupStop({ count: 10, independent: false, signalAfter: "s04" });
    expect(r.code, r.tail).toBe(0);
    expect(r.signalLine, r.tail).toBeDefined();
    expect(r.after.filter((e) => e.msg === "creating container" || e.msg === "starting")).toEqual([]);
    // Podman's view: every create and start happened before the daemon logged the signal.
    expect(r.late).toEqual([]);
    // Which containers exist at all (a create retried after a failed attempt would show twice).
    expect([...new Set(r.created)]).toEqual(["s01", "s02", "s03", "s04"]);
    expect(r.after.filter((e) => e.msg === "stopping").map((e) => e.container)).toEqual(["s04", "s03", "s02", "s01"]);
    expect(r.log.some(logIs("pod stopped and removed"))).toBe(true);
    expect([r.podLeft, r.containersLeft]).toEqual([false, []]);
    if (r.created.length !== 4) console.log(`Podman reported create events ${r.created.join(", ")}; the daemon created ${r.log.filter(logIs("creating container")).map((e) => e.container).join(", ")}`);
    console.log(`SIGTERM during start-up, chain (4 of 10 started, stop timeout ${STOP_TIMEOUT_S} s each, sum ${4 * STOP_TIMEOUT_S} s): exit after ${Math.round(r.ms)} ms`);
  }, 300_000);

  it("12 independent slow starters (all created in one pass), signal after the 3rd start: nothing created or started after it, all stopped, pod removed", async () => {
    const r = await startupStop({ count: 12, independent: true, signalAfter: "s03" });
    expect(r.code, r.tail).toBe(0);
    expect(r.signalLine, r.tail).toBeDefined();
    expect(r.after.filter((e) => e.msg === "creating container" || e.msg === "starting")).toEqual([]);
    // At most the one request in flight when the signal came completes after it.
    expect(r.late.filter((l) => l !== r.inFlight)).toEqual([]);
    expect(r.created.length).toBeLessThan(12);
    expect(r.log.some(logIs("pod stopped and removed"))).toBe(true);
    expect([r.podLeft, r.containersLeft]).toEqual([false, []]);
    const started = r.log.filter(logIs("starting")).length;
    console.log(
      `SIGTERM during start-up, independent (${r.created.length} created, ${started} started of 12, in flight at the signal: ${r.inFlight}, after it: ${r.late.join(", ") || "nothing"}; stop timeout ${STOP_TIMEOUT_S} s each, sum ${started * STOP_TIMEOUT_S} s): exit after ${Math.round(r.ms)} ms`,
    );
  }, 300_000);
});
