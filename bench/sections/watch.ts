// 3. Cost while watching: the pod ready, default probe intervals (10 s), a window of two
// minutes: the daemon's own CPU (every thread's schedstat: nanoseconds, where /proc's stat
// counts 10 ms ticks), memory (VmRSS sampled every second, VmHWM) and Podman API calls. Then
// what a probe costs the host: the same pod with every probe every 2 s (many probe runs in
// the window, so that they stand out of the noise), once with podwarden's native probes, once
// with the same checks as exec probes through Podman's healthcheck endpoint, and once with no
// probes at all (the baseline); per probe run, the watching side (the daemon, a private Podman
// API service, conmon and runc) above the baseline. Last, the daemon under V8's profiler.

import { randomBytes } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { REPO, logIs, runEnv, startDaemon } from "../../test/support/podman-harness.js";
import { EXEC_CHECKS, benchRun, podCgroup, type Probes } from "../lib/bench-run.js";
import { sleep, type BenchContext } from "../lib/context.js";
import { loadAverage } from "../lib/machine.js";
import { startPrivateService } from "../lib/podman-service.js";
import { cgroupCpuSeconds, memory, threadCpuSeconds } from "../lib/proc.js";
import { profileIn, readProfile, summarise } from "../lib/cpu-profile.js";
import { infoRow, targetRow, type SectionResult } from "../lib/results.js";
import { keepFile } from "../lib/slow-run.js";
import { mib, percent, ratio, sum } from "../lib/stats.js";
import { unitEnvironment, unitNodeFlags } from "../../scripts/unit-flags.js";

interface Cost {
  readonly probes: Probes;
  /** Every probe's interval once ready (undefined: the shipped ones, 10 s). */
  readonly intervalS: number | undefined;
  readonly windowS: number;
  /** CPU seconds over the window. */
  readonly daemon: number;
  readonly service: number;
  readonly conmon: number;
  readonly containers: number;
  readonly peakRss: number;
  readonly hwm: number;
  /** Probes the daemon ran, reconcile passes and Podman API calls in the window (from its metrics). */
  readonly probeRuns: number;
  readonly passes: number;
  readonly apiCalls: number;
  /** Podman API calls in the window by operation (the daemon's podwarden_podman_api_requests_total). */
  readonly apiByOperation: ReadonlyMap<string, number>;
  /** The window on the monotonic clock, µs (what a V8 CPU profile's time stamps use). */
  readonly windowUs: readonly [number, number];
}

const PROFILE_TOP = 15;
/** Every probe's interval in the per-probe comparison. */
const PER_PROBE_INTERVAL_S = 2;
/** Their timeout, which must be shorter than the interval. */
const PER_PROBE_TIMEOUT_MS = 1500;

const perMinute = (n: number, c: Cost): string => (n / (c.windowS / 60)).toFixed(1);

/** The busiest operations of a window, as calls per minute. */
const byOperation = (c: Cost): string =>
  [...c.apiByOperation].length === 0
    ? "none"
    : [...c.apiByOperation]
        .slice(0, 6)
        .map(([op, n]) => `${op} ${perMinute(n, c)}`)
        .join(", ");

/** A ranked self-time table (top `n`), shares of the busy time. */
const profileTable = (what: string, rows: readonly [string, number][], busyUs: number, n: number): string[] => [
  `| self time, ${what} | ms | share of busy |`,
  "| --- | ---: | ---: |",
  ...rows.slice(0, n).map(([k, us]) => `| ${k.replace(/\|/g, "\\|")} | ${(us / 1000).toFixed(1)} | ${percent(us / busyUs, 1)} |`),
];

const watchingSide = (c: Cost): number => c.daemon + c.service + c.conmon;
const total = (c: Cost): number => watchingSide(c) + c.containers;

interface Counters {
  readonly probes: number;
  readonly passes: number;
  readonly api: number;
  readonly apiByOperation: ReadonlyMap<string, number>;
}

/** Probe runs, reconcile passes and API calls so far (in all and by operation), from the daemon's /metrics. */
const counters = async (port: number): Promise<Counters> => {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const samples = (name: string): [string, number][] =>
    [...text.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\d+(?:\\.\\d+)?(?:e[+-]?\\d+)?)$`, "gm"))].map((m) => [m[1] ?? "", Number(m[2])]);
  const sumOf = (name: string): number => sum(samples(name).map(([, v]) => v));
  const apiByOperation = new Map(samples("podwarden_podman_api_requests_total").map(([labels, v]) => [/operation="([^"]*)"/.exec(labels)?.[1] ?? "?", v]));
  return { probes: sumOf("podwarden_container_probe_runs_total"), passes: sumOf("podwarden_reconcile_runs_total"), api: sumOf("podwarden_podman_api_requests_total"), apiByOperation };
};

const difference = (a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): Map<string, number> =>
  new Map([...b].map(([k, v]) => [k, v - (a.get(k) ?? 0)] as [string, number]).filter(([, v]) => v > 0).sort((x, y) => y[1] - x[1]));

const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

/**
 * One pod watched for `windowS`. With `profileDir`, the daemon runs under `node --cpu-prof` and
 * is stopped with SIGTERM after the window, so that node writes the profile there.
 */
const measure = async (ctx: BenchContext, probes: Probes, windowS: number, settleS: number, opts: { readonly profileDir?: string; readonly intervalS?: number } = {}): Promise<Cost> => {
  const { profileDir, intervalS } = opts;
  const mark = ctx.janitor.mark();
  try {
    const run = await benchRun(ctx.janitor, { probes, ...(intervalS === undefined ? {} : { extraYaml: `defaults:\n  probe: { interval: ${intervalS}s, timeout: ${PER_PROBE_TIMEOUT_MS}ms }` }) });
    const svc = await startPrivateService(ctx.janitor, ctx.scratch, `pw-bench-svc-${randomBytes(3).toString("hex")}`);
    const nodeArgs = [...unitNodeFlags(), ...(profileDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${profileDir}`])];
    const d = startDaemon(run.config, { env: { ...runEnv(run), ...unitEnvironment() }, nodeArgs, args: ["--socket", svc.socket] });
    ctx.janitor.add(`daemon ${d.pid}`, () => d.kill());
    await d.waitForLog("the pod ready", logIs("pod ready"), { timeoutMs: 300_000 });
    await sleep(settleS * 1000);
    const pod = await podCgroup(run.pod);
    const snap = async () => ({
      at: performance.now(),
      us: monotonicUs(),
      daemon: await threadCpuSeconds(d.pid),
      service: await cgroupCpuSeconds(svc.cgroup),
      pod: await cgroupCpuSeconds(pod),
      conmon: await cgroupCpuSeconds(`${pod}/conmon`),
      counts: await counters(run.httpPort),
    });
    const a = await snap();
    let peakRss = 0;
    for (let s = 0; s < windowS; s++) {
      peakRss = Math.max(peakRss, (await memory(d.pid)).rss);
      await sleep(1000);
    }
    const b = await snap();
    const { hwm } = await memory(d.pid);
    if (!d.alive) throw new Error(`the daemon exited during the window:\n${d.tail()}`);
    const restarted = d.logs().filter((e) => e.msg === "container failed" || e.msg === "probe failed");
    if (restarted.length > 0) ctx.log(`watch (${probes}): ${restarted.length} failure(s) during the run: ${JSON.stringify(restarted[0])}`);
    // node writes the profile as the process exits; SIGTERM is the daemon's orderly way out.
    if (profileDir !== undefined) await d.stop("SIGTERM", 120_000);
    return {
      probes,
      intervalS,
      windowS: (b.at - a.at) / 1000,
      daemon: b.daemon - a.daemon,
      service: b.service - a.service,
      conmon: b.conmon - a.conmon,
      containers: b.pod - a.pod - (b.conmon - a.conmon),
      peakRss,
      hwm,
      probeRuns: b.counts.probes - a.counts.probes,
      passes: b.counts.passes - a.counts.passes,
      apiCalls: b.counts.api - a.counts.api,
      apiByOperation: difference(a.counts.apiByOperation, b.counts.apiByOperation),
      windowUs: [a.us, b.us],
    };
  } finally {
    await ctx.janitor.sweep(mark);
  }
};

/** Host CPU a probe run costs: the variant's watching side minus the baseline's, per probe run. */
const perProbe = (c: Cost, none: Cost): number => (watchingSide(c) / c.windowS - watchingSide(none) / none.windowS) * (c.windowS / Math.max(1, c.probeRuns));
const perProbeAll = (c: Cost, none: Cost): number => (total(c) / c.windowS - total(none) / none.windowS) * (c.windowS / Math.max(1, c.probeRuns));


export const watching = async (ctx: BenchContext): Promise<SectionResult> => {
  const windowS = ctx.quick ? 20 : 120;
  const perProbeS = ctx.quick ? 15 : 60;
  const profileS = ctx.quick ? 15 : 60;
  const settleS = ctx.quick ? 5 : 15;
  const load0 = loadAverage();
  const t0 = Date.now();
  const shipped = await measure(ctx, "native", windowS, settleS);
  ctx.log(`watch: daemon ${shipped.daemon.toFixed(3)} s CPU over ${shipped.windowS.toFixed(0)} s, ${shipped.probeRuns} probes, ${shipped.apiCalls} API calls`);
  const costs: Cost[] = [];
  for (const probes of ["native", "exec", "none"] as const) {
    const c = await measure(ctx, probes, perProbeS, settleS, { intervalS: PER_PROBE_INTERVAL_S });
    costs.push(c);
    ctx.log(`watch ${probes} every ${PER_PROBE_INTERVAL_S} s: daemon ${c.daemon.toFixed(3)} s CPU, watching side ${watchingSide(c).toFixed(3)} s, ${c.probeRuns} probes, ${c.passes} passes`);
  }
  const [native, exec, none] = costs as [Cost, Cost, Cost];
  // A last pod, native probes as shipped, under the profiler: where the daemon's remaining time goes.
  const profileDir = join(ctx.scratch, `cpu-prof-${randomBytes(3).toString("hex")}`);
  await mkdir(profileDir, { recursive: true });
  const profiledCost = await measure(ctx, "native", profileS, settleS, { profileDir });
  const profileFile = await profileIn(profileDir);
  const kept = await keepFile(`watch-native-${new Date(t0).toISOString().replace(/[:.]/g, "-")}.cpuprofile`, await readFile(profileFile, "utf8"));
  const profile = summarise(await readProfile(profileFile), REPO, ...profiledCost.windowUs);
  ctx.log(`watch profile: ${(profile.busyUs / 1e6).toFixed(2)} s busy over ${(profile.totalUs / 1e6).toFixed(0)} s, kept at ${kept}`);
  const load1 = loadAverage();
  const cpu = (s: number, w: number): string => `${s.toFixed(3)} s (${percent(s / w, 3)})`;
  const col = (f: (c: Cost) => string): string => costs.map(f).join(" | ");
  const share = shipped.daemon / shipped.windowS;
  const nativeProbe = perProbe(native, none);
  const execProbe = perProbe(exec, none);
  const ms1 = (x: number): string => `${(x * 1000).toFixed(2)} ms`;
  // A ratio of two costs means something only when both are above the baseline.
  const ratioMet = nativeProbe > 0 && execProbe >= 20 * nativeProbe;
  const lines = [
    "## 3. Cost while watching",
    "",
    `Measured ${new Date(t0).toISOString()}; load average ${load0} before, ${load1} after.`,
    "",
    "Daemon CPU is every thread's time on a CPU from /proc/<pid>/task/*/schedstat (nanoseconds; /proc's stat counts",
    "10 ms ticks). The Podman API service is a private instance (own socket, own cpuacct cgroup: nobody else's calls",
    "counted; the daemon was pointed at it with --socket); conmon and runc are the pod's conmon cgroup (each container's",
    "conmon, and for every exec session a conmon and the `runc exec` it runs); the containers are the pod's cgroup minus",
    "conmon (their own idle work, the answers to native probes, the commands of exec probes). cgroup v1 cpuacct.usage.",
    "The window's API calls are the daemon's podwarden_podman_api_requests_total, read at its start and end.",
    "",
    `### As shipped: native probes every 10 s, ${Math.round(shipped.windowS)} s after ${settleS} s to settle`,
    "",
    "| | |",
    "| --- | ---: |",
    `| **daemon CPU** | **${cpu(shipped.daemon, shipped.windowS)}** |`,
    `| Podman API service CPU | ${cpu(shipped.service, shipped.windowS)} |`,
    `| probes run / reconcile passes / Podman API calls | ${shipped.probeRuns} / ${shipped.passes} / ${shipped.apiCalls} |`,
    `| **Podman API calls per minute** | **${perMinute(shipped.apiCalls, shipped)}** (${byOperation(shipped)}) |`,
    `| daemon RSS, peak in the window (VmRSS every 1 s) | ${mib(shipped.peakRss)} |`,
    `| **daemon peak RSS since its start (VmHWM)** | **${mib(shipped.hwm)}** |`,
    "",
    `### What a probe costs: every probe every ${PER_PROBE_INTERVAL_S} s, ${Math.round(native.windowS)} s windows`,
    "",
    `Three pods one after the other, each with every probe due every ${PER_PROBE_INTERVAL_S} s once ready (timeout ${PER_PROBE_TIMEOUT_MS} ms): podwarden's native probes (redis,`,
    "tcp, http from the host), the same checks as exec probes through Podman's healthcheck endpoint, and no probes (the",
    "baseline: what watching costs without probing).",
    "",
    "| | native probes | exec probes through Podman | no probes (baseline) |",
    "| --- | ---: | ---: | ---: |",
    `| probes run / reconcile passes / Podman API calls in the window | ${col((c) => `${c.probeRuns} / ${c.passes} / ${c.apiCalls}`)} |`,
    `| Podman API calls per minute | ${col((c) => `${perMinute(c.apiCalls, c)} (${byOperation(c)})`)} |`,
    `| daemon CPU | ${col((c) => cpu(c.daemon, c.windowS))} |`,
    `| Podman API service CPU | ${col((c) => cpu(c.service, c.windowS))} |`,
    `| conmon + runc CPU | ${col((c) => cpu(c.conmon, c.windowS))} |`,
    `| **watching: daemon + Podman service + conmon/runc** | ${col((c) => `**${cpu(watchingSide(c), c.windowS)}**`)} |`,
    `| the containers' own CPU | ${col((c) => cpu(c.containers, c.windowS))} |`,
    `| everything | ${col((c) => cpu(total(c), c.windowS))} |`,
    `| daemon peak RSS since its start (VmHWM) | ${col((c) => mib(c.hwm))} |`,
    "",
    `Per probe run, above the baseline: native ${ms1(nativeProbe)}, exec ${ms1(execProbe)} of CPU on the watching side (${ratio(execProbe, nativeProbe)}); ` +
      `counting the containers, native ${ms1(perProbeAll(native, none))}, exec ${ms1(perProbeAll(exec, none))} (${ratio(perProbeAll(exec, none), perProbeAll(native, none))}). ` +
      "Whatever Podman calls a probe run causes (the API calls row) is in the per-probe figures.",
    "",
    "### Where the daemon's time goes while watching (CPU profile)",
    "",
    `A last pod, native probes as shipped, watched the same way with the daemon under \`node --cpu-prof\` (V8's sampling`,
    `profiler, 1 ms); the samples of a ${Math.round(profiledCost.windowS)} s window after ${settleS} s to settle, self time (time in the function itself,`,
    "not in what it calls). Functions in a file with a source map are put back in their original file. The profiler's own cost",
    `is in this daemon's CPU (${cpu(profiledCost.daemon, profiledCost.windowS)}), which is why it is not the figure above.`,
    `In the window: ${(profile.busyUs / 1000).toFixed(0)} ms busy (${percent(profile.busyUs / profile.totalUs)} of the ${(profile.totalUs / 1e6).toFixed(0)} s sampled), ` +
      `${profile.samples} samples; ${profiledCost.apiCalls} Podman API calls (${perMinute(profiledCost.apiCalls, profiledCost)} a minute). The profile: ${kept}`,
    "",
    ...profileTable("by package", profile.byPackage, profile.busyUs, PROFILE_TOP),
    "",
    ...profileTable("by module", profile.byModule, profile.busyUs, PROFILE_TOP),
    "",
    ...profileTable("by function", profile.byFunction, profile.busyUs, PROFILE_TOP),
    "",
    `The exec checks: ${Object.entries(EXEC_CHECKS)
      .map(([n, argv]) => `${n} \`${argv.join(" ")}\``)
      .join("; ")}.`,
  ];
  return {
    id: "watch",
    lines,
    summary: [
      targetRow("watchCpu", `${percent(share, 3)} (${shipped.daemon.toFixed(3)} s over ${Math.round(shipped.windowS)} s)`, share <= 0.001),
      targetRow("peakRss", mib(shipped.hwm), shipped.hwm <= 64 * 2 ** 20),
      targetRow(
        "perProbe",
        `${ratio(execProbe, nativeProbe)} (${ms1(execProbe)} vs ${ms1(nativeProbe)} per probe run, every probe every ${PER_PROBE_INTERVAL_S} s)`,
        ratioMet,
      ),
      infoRow("Podman API calls per minute while watching (as shipped; every probe every 2 s: native / exec / none)", `${perMinute(shipped.apiCalls, shipped)}; ${perMinute(native.apiCalls, native)} / ${perMinute(exec.apiCalls, exec)} / ${perMinute(none.apiCalls, none)}`),
      infoRow(
        "daemon CPU profile while watching, busiest packages (self time)",
        profile.byPackage
          .slice(0, 4)
          .map(([k, us]) => `${k} ${percent(us / profile.busyUs, 0)}`)
          .join(", "),
      ),
    ],
  };
};
