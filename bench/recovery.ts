// Recovery figures for issue 3, measured on real Podman with the local images (FalkorDB and
// the Datadog Agent are stand-ins, see config/local.yaml). Not a test: it asserts nothing
// about speed, it reports.
//
//   npm run build && npm run bench:recovery            (BENCH_ROUNDS=5 by default)
//
// 1. kill -9 of each container's main process, ROUNDS rounds of the four, the shipped restart
//    policy. Each round starts a new daemon, which adopts the running pod (zero restarts), so
//    that every kill is that container's first failure (restarted at once): detection latency
//    (kill -> the daemon's "container failed" log line), with Podman's own "died" event and
//    the daemon's receipt of it for comparison, and kill -> the daemon's next "-> ready".
// 2. Repeated kills of Valkey under one daemon: the shipped backoff (at once, then 1 s, 2 s...)
//    as seen from outside.
// 3. A crash loop (a fifth container whose command exits at once, initialDelay 200ms,
//    maxDelay 1600ms): the delays the daemon chose, the gaps between start attempts and the
//    daemon's CPU seconds, against the same daemon's CPU while the pod is idle.
// Prints the figures and writes them as the section "## Recovery (issue 3)" of bench/RESULTS.md.

import { readFile, writeFile } from "node:fs/promises";
import { cpus, availableParallelism, release, totalmem } from "node:os";
import { join } from "node:path";
import {
  REPO,
  SOCKET,
  cleanupRun,
  cpuSeconds,
  createRun,
  ensureImages,
  logIs,
  podman,
  runEnv,
  signalMain,
  startDaemon,
  type Daemon,
  type E2eRun,
  crashLoopYaml,
} from "../test/support/podman-harness.js";
import { podEvents } from "../test/support/podman-events.js";

const CHAIN = ["valkey", "falkordb", "datadog", "opencode"] as const;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const REPEATS = 5;
const IDLE_MS = 15_000;
const LOOP_MS = 20_000;
const LOOP = { initialMs: 200, maxMs: 1_600 };
const SECTION = "## Recovery (issue 3)";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Nearest-rank percentile. */
const pct = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};
const median = (xs: readonly number[]): number => pct(xs, 50);
const worst = (xs: readonly number[]): number => Math.max(...xs);

interface Kill {
  readonly container: string;
  readonly round: number;
  /** kill -> Podman's "died" event (its own time stamp). */
  readonly podmanDiedMs: number | undefined;
  /** kill -> the daemon's receipt of that event (its debug log line). */
  readonly receivedMs: number | undefined;
  /** kill -> the daemon's "container failed". */
  readonly detectMs: number;
  /** kill -> the daemon's "-> ready" for the container. */
  readonly readyMs: number;
}

const machine = async (): Promise<string[]> => {
  const podmanVersion = (await podman("version", "--format", "{{.Server.Version}}").catch(() => podman("--version"))).trim();
  return [
    `- date: ${new Date().toISOString()}`,
    `- CPU: ${availableParallelism()} × ${cpus()[0]?.model ?? "?"} (nproc ${availableParallelism()})`,
    `- memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- kernel: ${release()}`,
    `- Podman: ${podmanVersion} (API service on ${SOCKET}, runtime runc)`,
    `- Node: ${process.version}`,
  ];
};

/** debug: the daemon also logs each Podman event it receives ("podman event"). */
const daemonFor = (run: E2eRun, started: Daemon[], debug = false): Daemon => {
  const d = startDaemon(run.config, { env: runEnv(run), ...(debug ? { args: ["--log-level", "debug"] } : {}) });
  started.push(d);
  return d;
};

/** kill -9 of `c`'s main process; waits until the daemon has it ready again and the pod ready. */
const killOnce = async (run: E2eRun, d: Daemon, events: ReturnType<typeof podEvents>, c: string, round: number): Promise<Kill> => {
  const from = d.mark();
  const { at } = await signalMain(`${run.pod}-${c}`, "SIGKILL");
  const failed = await d.waitForLog(`${c}'s exit`, logIs("container failed", { container: c }), { from, timeoutMs: 60_000 });
  const ready = await d.waitForLog(`${c} ready again`, logIs("-> ready", { container: c }), { from, timeoutMs: 120_000 });
  await d.waitForLog("the pod ready again", (e) => logIs("pod ready")(e) && e.time >= ready.time, { from, timeoutMs: 120_000 });
  const died = events.events("died").find((e) => e.name === `${run.pod}-${c}` && e.timeNano / 1e6 >= at - 1);
  const received = d.logs(from).find((e) => logIs("podman event", { container: c, action: "died" })(e));
  return {
    container: c,
    round,
    podmanDiedMs: died ? died.timeNano / 1e6 - at : undefined,
    receivedMs: received ? received.time - at : undefined,
    detectMs: failed.time - at,
    readyMs: ready.time - at,
  };
};

const measureKills = async (started: Daemon[], runs: E2eRun[]): Promise<{ kills: Kill[]; repeats: Kill[]; idleCpuS: number; adoptMs: number[] }> => {
  const run = await createRun();
  runs.push(run);
  await ensureImages(run.config);
  let d = daemonFor(run, started, true);
  await d.waitForLog("the pod ready", logIs("pod ready"), { timeoutMs: 300_000 });
  const events = podEvents(SOCKET, run.pod);
  await events.ready;
  try {
    // The idle daemon, for comparison with the crash loop.
    await sleep(2_000);
    const idle0 = await cpuSeconds(d.pid);
    await sleep(IDLE_MS);
    const idleCpuS = (await cpuSeconds(d.pid)) - idle0;

    const kills: Kill[] = [];
    const adoptMs: number[] = [];
    /** A new daemon adopts the pod: its restart history starts empty. */
    const fresh = async (): Promise<void> => {
      await d.kill();
      const t = Date.now();
      d = daemonFor(run, started, true);
      await d.waitForLog("the new daemon to adopt the pod", logIs("pod ready"), { timeoutMs: 120_000 });
      adoptMs.push(Date.now() - t);
      const touched = d.logs().filter((e) => e.msg === "starting" || e.msg === "stopping" || e.msg === "creating container");
      if (touched.length > 0) throw new Error(`adoption restarted containers: ${JSON.stringify(touched)}`);
    };
    for (let round = 1; round <= ROUNDS; round++) {
      if (round > 1) await fresh();
      for (const c of CHAIN) {
        const k = await killOnce(run, d, events, c, round);
        kills.push(k);
        process.stderr.write(`round ${round} ${c}: detected ${k.detectMs} ms, ready ${k.readyMs} ms\n`);
        await sleep(500);
      }
    }
    await fresh();
    const repeats: Kill[] = [];
    for (let n = 1; n <= REPEATS; n++) {
      const k = await killOnce(run, d, events, "valkey", n);
      repeats.push(k);
      process.stderr.write(`repeat ${n} valkey: detected ${k.detectMs} ms, ready ${k.readyMs} ms\n`);
    }
    return { kills, repeats, idleCpuS, adoptMs };
  } finally {
    events.close();
  }
};

interface Loop {
  readonly retryMs: number[];
  readonly gapsMs: number[];
  readonly exitCodes: number[];
  readonly cpuS: number;
  readonly wallMs: number;
}

const measureCrashLoop = async (started: Daemon[], runs: E2eRun[]): Promise<Loop> => {
  const run = await createRun({ extraYaml: crashLoopYaml(LOOP.initialMs, LOOP.maxMs) });
  runs.push(run);
  const d = daemonFor(run, started);
  // crashy starts once OpenCode is ready: the loop is watched from its first crash.
  await d.waitForLog("opencode ready", logIs("-> ready", { container: "opencode" }), { timeoutMs: 300_000 });
  const cpu0 = await cpuSeconds(d.pid);
  const t0 = Date.now();
  await sleep(LOOP_MS);
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

/** Where the detection time goes, per kill: Podman's event time -> receipt -> the daemon's log line. */
const breakdown = (kills: readonly Kill[]): string[] => {
  const lag = kills.flatMap((k) => (k.podmanDiedMs === undefined || k.receivedMs === undefined ? [] : [k.receivedMs - k.podmanDiedMs]));
  const pass = kills.flatMap((k) => (k.receivedMs === undefined ? [] : [k.detectMs - k.receivedMs]));
  if (lag.length === 0 || pass.length === 0) return [];
  const r = (x: number): string => `${Math.round(x)}`;
  return [
    `Where it goes: Podman's "died" event → the event reaching the daemon through the API stream: median ${r(median(lag))} ms, ` +
      `worst ${r(worst(lag))} ms (Podman's side: its events are written to a file and the API service follows that file); ` +
      `receipt → the daemon's log line (one reconcile pass: list, inspect, plan): median ${r(median(pass))} ms, worst ${r(worst(pass))} ms.`,
  ];
};

const report = (info: string[], m: Awaited<ReturnType<typeof measureKills>>, loop: Loop): string[] => {
  const { kills, repeats, idleCpuS, adoptMs } = m;
  const detect = kills.map((k) => k.detectMs);
  const died = kills.flatMap((k) => (k.podmanDiedMs === undefined ? [] : [k.podmanDiedMs]));
  const received = kills.flatMap((k) => (k.receivedMs === undefined ? [] : [k.receivedMs]));
  const r = (x: number): string => `${Math.round(x)}`;
  const lines = [
    SECTION,
    "",
    "Measured by `npm run bench:recovery` (bench/recovery.ts) on real Podman with the local images",
    "(real Valkey 8.0 and OpenCode; FalkorDB and the Datadog Agent are stand-ins). Every kill is a",
    "`kill -9` of the container's main process (State.Pid) from the host. Times are the daemon's own",
    "log time stamps minus the moment of the kill; Podman's \"died\" event time (sent by the",
    "`podman container cleanup` process conmon runs after the exit) and the moment the daemon received",
    "that event separate Podman's part from the daemon's. Shipped restart policy (first failure at once,",
    "then 1 s doubling to 2 min, reset after 10 min ready). Each round runs under a new daemon that",
    "adopted the running pod (zero restarts each time), so every kill is that container's first failure.",
    "",
    ...info,
    "",
    `### Detection latency: kill -9 → the daemon's "container failed" (${detect.length} kills, ${ROUNDS} rounds × 4 containers)`,
    "",
    "| | median | p90 | worst |",
    "| --- | ---: | ---: | ---: |",
    ...(died.length > 0 ? [`| kill → Podman's "died" event | ${r(median(died))} ms | ${r(pct(died, 90))} ms | ${r(worst(died))} ms |`] : []),
    ...(received.length > 0 ? [`| kill → the daemon receives it | ${r(median(received))} ms | ${r(pct(received, 90))} ms | ${r(worst(received))} ms |`] : []),
    `| **kill → the daemon logs the exit** | **${r(median(detect))} ms** | **${r(pct(detect, 90))} ms** | **${r(worst(detect))} ms** |`,
    "",
    ...breakdown(kills),
    "",
    "### kill -9 → ready again (the daemon's next `-> ready` for that container)",
    "",
    "| container | detection median | detection worst | ready again median | ready again worst |",
    "| --- | ---: | ---: | ---: | ---: |",
    ...CHAIN.map((c) => {
      const ks = kills.filter((k) => k.container === c);
      const d = ks.map((k) => k.detectMs);
      const rd = ks.map((k) => k.readyMs);
      return `| ${c} | ${r(median(d))} ms | ${r(worst(d))} ms | ${r(median(rd))} ms | ${r(worst(rd))} ms |`;
    }),
    "",
    "Every kill, in order (container: detection / ready again, ms):",
    "",
    ...Array.from({ length: ROUNDS }, (_, i) =>
      `- round ${i + 1}: ` +
      kills
        .filter((k) => k.round === i + 1)
        .map((k) => `${k.container} ${r(k.detectMs)} / ${r(k.readyMs)}`)
        .join(", "),
    ),
    "",
    `A new daemon adopting the running pod reported it ready after ${adoptMs.map(r).join(", ")} ms (process start included).`,
    "",
    `### Repeated kills of Valkey under one daemon (shipped backoff: at once, then 1 s, 2 s, 4 s…)`,
    "",
    "| kill | detection | ready again |",
    "| ---: | ---: | ---: |",
    ...repeats.map((k) => `| ${k.round} | ${r(k.detectMs)} ms | ${r(k.readyMs)} ms |`),
    "",
    `### Crash loop (a container running \`sh -c "exit 3"\`, initialDelay ${LOOP.initialMs}ms, maxDelay ${LOOP.maxMs}ms, ±10% jitter)`,
    "",
    `- over ${(loop.wallMs / 1000).toFixed(1)} s: ${loop.gapsMs.length + 1} start attempts, exit code(s) reported: ${loop.exitCodes.join(", ")}`,
    `- delays the daemon chose after each failure (ms): ${loop.retryMs.join(", ")}`,
    `- gaps between start attempts as logged (ms; delay + start + run + detection): ${loop.gapsMs.join(", ")}`,
    `- daemon CPU during the loop (utime + stime from /proc): ${loop.cpuS.toFixed(2)} s over ${(loop.wallMs / 1000).toFixed(1)} s ` +
      `(${((loop.cpuS / (loop.wallMs / 1000)) * 100).toFixed(1)}% of one core); a daemon idle with the pod ready: ` +
      `${idleCpuS.toFixed(2)} s over ${(IDLE_MS / 1000).toFixed(0)} s`,
    "",
  ];
  return lines;
};

const writeSection = async (lines: string[]): Promise<string> => {
  const file = join(REPO, "bench/RESULTS.md");
  const old = await readFile(file, "utf8").catch(() => "# Benchmark results\n\nFigures, not pass/fail (DESIGN.md §5). Each section says how it was measured.\n");
  const body = lines.join("\n");
  const start = old.indexOf(`${SECTION}\n`);
  let next: string;
  if (start < 0) next = `${old.trimEnd()}\n\n${body}`;
  else {
    const after = old.indexOf("\n## ", start + SECTION.length);
    next = `${old.slice(0, start)}${body}${after < 0 ? "" : `\n${old.slice(after + 1)}`}`;
  }
  await writeFile(file, `${next.trimEnd()}\n`);
  return file;
};

const main = async (): Promise<void> => {
  const started: Daemon[] = [];
  const runs: E2eRun[] = [];
  const stop = (): void => {
    for (const d of started) d.child.kill("SIGKILL");
  };
  process.once("SIGINT", () => {
    stop();
    process.exitCode = 130;
  });
  try {
    const info = await machine();
    const measured = await measureKills(started, runs);
    // The first pod goes before the crash loop starts, so that it does not share the machine.
    for (const d of started.splice(0)) await d.kill();
    for (const r of runs.splice(0)) await cleanupRun(r);
    const loop = await measureCrashLoop(started, runs);
    const lines = report(info, measured, loop);
    process.stdout.write(`${lines.join("\n")}\n`);
    process.stdout.write(`wrote ${await writeSection(lines)}\n`);
  } finally {
    for (const d of started) await d.kill();
    for (const r of runs) await cleanupRun(r);
  }
};

await main();
