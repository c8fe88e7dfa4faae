// 2. Failure detection and recovery (supersedes issue 3's bench/recovery.ts, kept in full).
//
// a. kill -9 of each container's main process, ROUNDS rounds of the four, shipped restart
//    policy. Each round starts a new daemon, which adopts the running pod (zero restarts),
//    so every kill is that container's first failure (restarted at once): detection
//    (kill -> the daemon's "container failed"), with Podman's "died" event and the daemon's
//    receipt of it, kill -> running again (Podman's StartedAt) and kill -> the daemon's "-> ready".
// b. The same containers with Podman's own --restart=always (made by the floor, no daemon):
//    kill -> running again, and kill -> the external observer's first passing probe.
// c. Repeated kills of Valkey under one daemon: the shipped backoff as seen from outside.
// d. A crash loop (a fifth container that exits at once): the delays chosen, the gaps
//    between attempts, the daemon's CPU.

import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { podmanName } from "../../src/domain/spec.js";
import { podEvents } from "../../test/support/podman-events.js";
import { SOCKET, cpuSeconds, crashLoopYaml, logIs, runEnv, signalMain, startDaemon, waitFor, type Daemon } from "../../test/support/podman-harness.js";
import { floorPlan } from "../alternatives/render.js";
import { benchRun, type BenchRun } from "../lib/bench-run.js";
import { bundle } from "../lib/bundle.js";
import { sleep, type BenchContext } from "../lib/context.js";
import { firstPassFrom, nativeProber } from "../lib/external-probe.js";
import { inspectContainer, podmanTimeMs } from "../lib/libpod.js";
import { loadAverage } from "../lib/machine.js";
import { mustSucceed, timed } from "../lib/proc.js";
import { infoRow, targetRow, type SectionResult, type SummaryRow } from "../lib/results.js";
import { median, medP99, ms, p99, pct, worst } from "../lib/stats.js";
import { unitEnvironment, unitNodeFlags } from "../../scripts/unit-flags.js";

const CHAIN = ["valkey", "falkordb", "datadog", "opencode"] as const;
const LOOP = { initialMs: 200, maxMs: 1_600 };

interface Kill {
  readonly container: string;
  readonly round: number;
  /** kill -> Podman's "died" event (its own time stamp). */
  readonly podmanDiedMs: number | undefined;
  /** kill -> the daemon's receipt of that event (its debug log line). */
  readonly receivedMs: number | undefined;
  /** kill -> the daemon's first notice of the exit: conmon's exit file, or Podman's event if that came first. */
  readonly noticedMs: number | undefined;
  /** kill -> the daemon's "container failed". */
  readonly detectMs: number;
  /** kill -> the new instance's StartedAt (Podman's). */
  readonly runningMs: number;
  /** kill -> the daemon's "-> ready" for the container. */
  readonly readyMs: number;
}

interface PodmanRestart {
  readonly container: string;
  /** kill -> the new instance's StartedAt. */
  readonly runningMs: number;
  /** kill -> the observer's first passing probe of the new instance (10 ms cadence). */
  readonly probeMs: number;
}

const daemonFor = (ctx: BenchContext, run: BenchRun, debug = false): Daemon => {
  const d = startDaemon(run.config, { env: { ...runEnv(run), ...unitEnvironment() }, nodeArgs: unitNodeFlags(), ...(debug ? { args: ["--log-level", "debug"] } : {}) });
  ctx.janitor.add(`daemon ${d.pid}`, () => d.kill());
  return d;
};

const startedAtMs = async (run: BenchRun, c: string): Promise<number> => podmanTimeMs((await inspectContainer(SOCKET, podmanName(run.pod, c))).State.StartedAt);

/** kill -9 of `c`'s main process; waits until the daemon has it ready again and the pod ready. */
const killOnce = async (run: BenchRun, d: Daemon, events: ReturnType<typeof podEvents>, c: string, round: number): Promise<Kill> => {
  const from = d.mark();
  const { at } = await signalMain(podmanName(run.pod, c), "SIGKILL");
  const failed = await d.waitForLog(`${c}'s exit`, logIs("container failed", { container: c }), { from, timeoutMs: 60_000 });
  const ready = await d.waitForLog(`${c} ready again`, logIs("-> ready", { container: c }), { from, timeoutMs: 120_000 });
  await d.waitForLog("the pod ready again", (e) => logIs("pod ready")(e) && e.time >= ready.time, { from, timeoutMs: 120_000 });
  const died = events.events("died").find((e) => e.name === podmanName(run.pod, c) && e.timeNano / 1e6 >= at - 1);
  const notices = d.logs(from).filter(logIs("podman event", { container: c, action: "died" }));
  // Podman's own event carries its time stamp; the exit-file notice carries the moment it was seen.
  const received = died ? notices.find((e) => e.eventAt === Math.floor(died.timeNano / 1e6)) : undefined;
  return {
    container: c,
    round,
    podmanDiedMs: died ? died.timeNano / 1e6 - at : undefined,
    receivedMs: received ? received.time - at : undefined,
    noticedMs: notices[0] ? notices[0].time - at : undefined,
    detectMs: failed.time - at,
    runningMs: (await startedAtMs(run, c)) - at,
    readyMs: ready.time - at,
  };
};

const measureKills = async (ctx: BenchContext, rounds: number, repeats: number) => {
  const run = await benchRun(ctx.janitor);
  let d = daemonFor(ctx, run, true);
  await d.waitForLog("the pod ready", logIs("pod ready"), { timeoutMs: 300_000 });
  const events = podEvents(SOCKET, run.pod);
  await events.ready;
  try {
    // The idle daemon, for comparison with the crash loop.
    await sleep(2_000);
    const idleS = ctx.quick ? 5 : 15;
    const idle0 = await cpuSeconds(d.pid);
    await sleep(idleS * 1000);
    const idleCpuS = (await cpuSeconds(d.pid)) - idle0;

    const kills: Kill[] = [];
    const adoptMs: number[] = [];
    /** A new daemon adopts the pod: its restart history starts empty. */
    const fresh = async (): Promise<void> => {
      await d.kill();
      const t = Date.now();
      d = daemonFor(ctx, run, true);
      await d.waitForLog("the new daemon to adopt the pod", logIs("pod ready"), { timeoutMs: 120_000 });
      adoptMs.push(Date.now() - t);
      const touched = d.logs().filter((e) => e.msg === "starting" || e.msg === "stopping" || e.msg === "creating container");
      if (touched.length > 0) throw new Error(`adoption restarted containers: ${JSON.stringify(touched)}`);
    };
    for (let round = 1; round <= rounds; round++) {
      if (round > 1) await fresh();
      for (const c of CHAIN) {
        const k = await killOnce(run, d, events, c, round);
        kills.push(k);
        ctx.log(`kill round ${round}/${rounds} ${c}: detected ${ms(k.detectMs)}, running ${ms(k.runningMs)}, ready ${ms(k.readyMs)}`);
        await sleep(500);
      }
    }
    await fresh();
    const repeated: Kill[] = [];
    for (let n = 1; n <= repeats; n++) {
      const k = await killOnce(run, d, events, "valkey", n);
      repeated.push(k);
      ctx.log(`repeat ${n} valkey: detected ${ms(k.detectMs)}, ready ${ms(k.readyMs)}`);
    }
    return { kills, repeated, idleCpuS, idleS, adoptMs };
  } finally {
    events.close();
  }
};

/** The same containers under Podman's own --restart=always (no daemon): kill -> running, kill -> probe passes. */
const measurePodmanRestart = async (ctx: BenchContext, rounds: number): Promise<PodmanRestart[]> => {
  const run = await benchRun(ctx.janitor);
  const planFile = join(run.dir, "floor-always.json");
  await writeFile(planFile, JSON.stringify(await floorPlan(run, { restart: "always" })));
  mustSucceed("the floor with --restart=always", await timed(process.execPath, [await bundle("alternatives/floor", ctx.scratch), planFile]));
  const prober = nativeProber(run.spec, run.secrets);
  const out: PodmanRestart[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const c of CHAIN) {
      const name = podmanName(run.pod, c);
      const { pid, at } = await signalMain(name, "SIGKILL");
      const again = await waitFor(
        `${name} running again`,
        async () => {
          const i = await inspectContainer(SOCKET, name);
          return i.State.Running && i.State.Pid > 0 && i.State.Pid !== pid ? i : undefined;
        },
        60_000,
        10,
      );
      const passAt = await firstPassFrom(prober, run.spec.containers.find((x) => x.name === c)!, 120_000);
      if (passAt === undefined) throw new Error(`${name} did not pass its probe after Podman restarted it`);
      const r = { container: c, runningMs: podmanTimeMs(again.State.StartedAt) - at, probeMs: passAt - at };
      out.push(r);
      ctx.log(`restart=always round ${round}/${rounds} ${c}: running ${ms(r.runningMs)}, probe passes ${ms(r.probeMs)}`);
      await sleep(500);
    }
  }
  return out;
};

interface Loop {
  readonly retryMs: number[];
  readonly gapsMs: number[];
  readonly exitCodes: number[];
  readonly cpuS: number;
  readonly wallMs: number;
}

const measureCrashLoop = async (ctx: BenchContext, loopMs: number): Promise<Loop> => {
  const run = await benchRun(ctx.janitor, { extraYaml: crashLoopYaml(LOOP.initialMs, LOOP.maxMs) });
  const d = daemonFor(ctx, run);
  // crashy starts once OpenCode is ready: the loop is watched from its first crash.
  await d.waitForLog("opencode ready", logIs("-> ready", { container: "opencode" }), { timeoutMs: 300_000 });
  const cpu0 = await cpuSeconds(d.pid);
  const t0 = Date.now();
  await sleep(loopMs);
  const cpuS = (await cpuSeconds(d.pid)) - cpu0;
  const wallMs = Date.now() - t0;
  const log = d.logs();
  const starts = log.filter(logIs("starting", { container: "crashy" })).map((e) => e.time);
  const failures = log.filter(logIs("container failed", { container: "crashy" }));
  return {
    retryMs: failures.map((f) => Number(f.retryInMs)),
    gapsMs: starts.slice(1).map((t, i) => t - starts[i]!),
    exitCodes: [...new Set(failures.map((f) => Number(f.exitCode)))],
    cpuS,
    wallMs,
  };
};

const defined = (xs: readonly (number | undefined)[]): number[] => xs.filter((x): x is number => x !== undefined);

export const recovery = async (ctx: BenchContext): Promise<SectionResult> => {
  const rounds = ctx.quick ? 2 : 20;
  const repeats = ctx.quick ? 3 : 5;
  const loopMs = ctx.quick ? 8_000 : 20_000;
  const load0 = loadAverage();
  const t0 = Date.now();
  let mark = ctx.janitor.mark();
  const m = await measureKills(ctx, rounds, repeats);
  // Each part on its own: the pod of one part is gone before the next starts.
  await ctx.janitor.sweep(mark);
  mark = ctx.janitor.mark();
  const always = await measurePodmanRestart(ctx, rounds);
  await ctx.janitor.sweep(mark);
  const loop = await measureCrashLoop(ctx, loopMs);
  const load1 = loadAverage();

  const { kills, repeated, idleCpuS, idleS, adoptMs } = m;
  const detect = kills.map((k) => k.detectMs);
  const died = defined(kills.map((k) => k.podmanDiedMs));
  const received = defined(kills.map((k) => k.receivedMs));
  const noticed = defined(kills.map((k) => k.noticedMs));
  const lag = defined(kills.map((k) => (k.podmanDiedMs === undefined || k.receivedMs === undefined ? undefined : k.receivedMs - k.podmanDiedMs)));
  const pass = defined(kills.map((k) => (k.noticedMs === undefined ? undefined : k.detectMs - k.noticedMs)));
  const row = (label: string, xs: readonly number[]): string => `| ${label} | ${ms(median(xs))} | ${ms(pct(xs, 90))} | ${ms(p99(xs))} | ${ms(worst(xs))} |`;
  /** The container's own start -> ready: the observer's, after Podman restarted it (10 ms cadence). */
  const own = (c: string): number => median(always.filter((a) => a.container === c).map((a) => a.probeMs - a.runningMs));
  const readyOf = (c: string): number[] => kills.filter((k) => k.container === c).map((k) => k.readyMs);
  const alwaysOf = (c: string): number[] => always.filter((a) => a.container === c).map((a) => a.runningMs);
  const opencode = readyOf("opencode");
  const summary: SummaryRow[] = [
    targetRow("detection", `p99 ${ms(p99(detect))}, median ${ms(median(detect))} (${detect.length} kills)`, p99(detect) <= 100),
    targetRow(
      "recoveryOpencode",
      `own start + ${ms(median(opencode) - own("opencode"))}: median ${ms(median(opencode))}, own start ${ms(own("opencode"))} (restart=always: kill → running ${ms(median(alwaysOf("opencode")))})`,
      median(opencode) <= own("opencode") + 300,
    ),
    infoRow(
      "kill -9 → ready again, the others: median − own start (restart=always: kill → running)",
      CHAIN.filter((c) => c !== "opencode")
        .map((c) => `${c} ${ms(median(readyOf(c)) - own(c))} (${ms(median(alwaysOf(c)))})`)
        .join(", "),
    ),
  ];
  const lines = [
    "## 2. Failure detection and recovery",
    "",
    `Measured ${new Date(t0).toISOString()}, ${((Date.now() - t0) / 1000).toFixed(0)} s in all; load average ${load0} before, ${load1} after.`,
    "",
    "Every kill is a `kill -9` of the container's main process (State.Pid) from the host. Times are the daemon's own",
    "log time stamps (JSON, ms) minus the moment of the kill; \"running again\" is Podman's StartedAt of the new",
    "instance. Podman's \"died\" event time (sent by the `podman container cleanup` process conmon runs after the",
    "exit) and the moment the daemon received that event split Podman's part from the daemon's. Shipped restart",
    "policy (first failure at once, then 1 s doubling to 2 min, reset after 10 min ready). Each round runs under a",
    "new daemon that adopted the running pod (zero restarts each time), so every kill is that container's first",
    `failure. ${rounds} rounds × 4 containers. Podman's own \`--restart=always\` is measured on the same containers`,
    "(made by the floor, no daemon) in a pod of their own after podwarden's: kill → running again, and kill → the",
    "external observer's first passing probe of the new instance (every 10 ms), which restart=always knows nothing of.",
    "",
    `### Detection: kill -9 → the daemon's "container failed" (${detect.length} kills)`,
    "",
    "| | median | p90 | p99 | worst |",
    "| --- | ---: | ---: | ---: | ---: |",
    ...(died.length > 0 ? [row("kill → Podman's \"died\" event", died)] : []),
    ...(received.length > 0 ? [row("kill → the daemon receives Podman's event", received)] : []),
    ...(noticed.length > 0 ? [row("kill → the daemon's first notice (conmon's exit file, or Podman's event if earlier)", noticed)] : []),
    row("**kill → the daemon logs the exit**", detect),
    "",
    ...(lag.length > 0 && pass.length > 0
      ? [
          `Where it goes: Podman's "died" event time → the event reaching the daemon through the API stream: median ${ms(median(lag))}, ` +
            `p99 ${ms(p99(lag))} (Podman 4.3's API service polls its events file every 250 ms). The daemon also watches conmon's ` +
            `exit directory (/run/libpod/exits), where the exit code lands within milliseconds of the exit. First notice → the ` +
            `daemon's log line (one reconcile pass: list, inspect, plan): median ${ms(median(pass))}, p99 ${ms(p99(pass))}.`,
          "",
        ]
      : []),
    "### kill -9 → running again → ready again, beside Podman's `--restart=always` (median / p99)",
    "",
    "| container | detection | kill → running (podwarden) | **kill → ready (podwarden)** | kill → running (restart=always) | kill → probe passes (restart=always) | own start → ready |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...CHAIN.map((c) => {
      const ks = kills.filter((k) => k.container === c);
      const as = always.filter((a) => a.container === c);
      return (
        `| ${c} | ${medP99(ks.map((k) => k.detectMs))} | ${medP99(ks.map((k) => k.runningMs))} | **${medP99(ks.map((k) => k.readyMs))}** | ` +
        `${medP99(as.map((a) => a.runningMs))} | ${medP99(as.map((a) => a.probeMs))} | ${ms(own(c))} |`
      );
    }),
    "",
    "\"Own start → ready\": the median time from the restarted instance's StartedAt to the observer's first passing",
    "probe under restart=always, i.e. what the container itself needs. The daemon probes a starting container every 10 ms",
    "for its first 1.5 s after it is seen running, then less often, at least every 25 ms (`startInterval`): its ready",
    "time carries that cadence on top.",
    "",
    ...(ctx.shared.startToReadyMs
      ? [
          `For comparison, podwarden's own start → ready in the cold starts (section 1): ${CHAIN.map((c) => `${c} ${ms(ctx.shared.startToReadyMs![c] ?? Number.NaN)}`).join(", ")}.`,
          "",
        ]
      : []),
    "Every kill, in order (container: detection / running again / ready again, ms):",
    "",
    ...CHAIN.map(
      (c) =>
        `- ${c}: ` +
        kills
          .filter((k) => k.container === c)
          .map((k) => `${Math.round(k.detectMs)}/${Math.round(k.runningMs)}/${Math.round(k.readyMs)}`)
          .join(", "),
    ),
    "",
    "restart=always, every kill (container: running again / probe passes, ms):",
    "",
    ...CHAIN.map(
      (c) =>
        `- ${c}: ` +
        always
          .filter((a) => a.container === c)
          .map((a) => `${Math.round(a.runningMs)}/${Math.round(a.probeMs)}`)
          .join(", "),
    ),
    "",
    `A new daemon adopting the running pod reported it ready after ${adoptMs.map((x) => Math.round(x)).join(", ")} ms (process start included; see section 5).`,
    "",
    "### Repeated kills of Valkey under one daemon (shipped backoff: at once, then 1 s, 2 s, 4 s…)",
    "",
    "| kill | detection | ready again |",
    "| ---: | ---: | ---: |",
    ...repeated.map((k) => `| ${k.round} | ${ms(k.detectMs)} | ${ms(k.readyMs)} |`),
    "",
    `### Crash loop (a container running \`sh -c "exit 3"\`, initialDelay ${LOOP.initialMs}ms, maxDelay ${LOOP.maxMs}ms, ±10% jitter)`,
    "",
    `- over ${(loop.wallMs / 1000).toFixed(1)} s: ${loop.gapsMs.length + 1} start attempts, exit code(s) reported: ${loop.exitCodes.join(", ")}`,
    `- delays the daemon chose after each failure (ms): ${loop.retryMs.join(", ")}`,
    `- gaps between start attempts as logged (ms; delay + start + run + detection): ${loop.gapsMs.join(", ")}`,
    `- daemon CPU during the loop (utime + stime from /proc): ${loop.cpuS.toFixed(2)} s over ${(loop.wallMs / 1000).toFixed(1)} s ` +
      `(${((loop.cpuS / (loop.wallMs / 1000)) * 100).toFixed(1)} % of one core); the same daemon idle with the pod ready: ` +
      `${idleCpuS.toFixed(2)} s over ${idleS} s`,
  ];
  return { id: "recovery", lines, summary };
};
