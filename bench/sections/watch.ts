// 3. Cost while watching: the pod ready, default probe intervals (10 s), a window of two
// minutes. The daemon's own CPU (utime + stime) and memory (VmRSS sampled every second,
// VmHWM), and the host CPU the watching costs: the daemon, the Podman API service (a
// private one, so that nobody else's calls are counted), conmon and runc (the pod's conmon
// cgroup, where Podman puts each container's conmon and the conmon of every exec session,
// with the runc it runs), and the containers themselves (which answer the probes, and run
// the exec probes' commands). Once with podwarden's native probes, once with the same
// checks as exec probes through Podman's healthcheck endpoint, and once with no probes at
// all: the difference to that baseline is what the probes themselves cost (with the
// reconcile passes they cause), per probe run.

import { randomBytes } from "node:crypto";
import { logIs, runEnv, startDaemon } from "../../test/support/podman-harness.js";
import { EXEC_CHECKS, benchRun, podCgroup, type Probes } from "../lib/bench-run.js";
import { sleep, type BenchContext } from "../lib/context.js";
import { loadAverage } from "../lib/machine.js";
import { startPrivateService } from "../lib/podman-service.js";
import { cgroupCpuSeconds, cpuSeconds, memory } from "../lib/proc.js";
import type { SectionResult } from "../lib/results.js";
import { mib, percent, ratio, sum } from "../lib/stats.js";

interface Cost {
  readonly probes: Probes;
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
}

const watchingSide = (c: Cost): number => c.daemon + c.service + c.conmon;
const total = (c: Cost): number => watchingSide(c) + c.containers;

/** Probe runs, reconcile passes and API calls so far, from the daemon's /metrics. */
const counters = async (port: number): Promise<{ probes: number; passes: number; api: number }> => {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const sumOf = (name: string): number => sum([...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+(?:\\.\\d+)?)$`, "gm"))].map((m) => Number(m[1])));
  return { probes: sumOf("podwarden_container_probe_runs_total"), passes: sumOf("podwarden_reconcile_runs_total"), api: sumOf("podwarden_podman_api_requests_total") };
};

const measure = async (ctx: BenchContext, probes: Probes, windowS: number, settleS: number): Promise<Cost> => {
  const mark = ctx.janitor.mark();
  try {
    const run = await benchRun(ctx.janitor, { probes });
    const svc = await startPrivateService(ctx.janitor, ctx.scratch, `pw-bench-svc-${randomBytes(3).toString("hex")}`);
    const d = startDaemon(run.config, { env: runEnv(run), args: ["--socket", svc.socket] });
    ctx.janitor.add(`daemon ${d.pid}`, () => d.kill());
    await d.waitForLog("the pod ready", logIs("pod ready"), { timeoutMs: 300_000 });
    await sleep(settleS * 1000);
    const pod = await podCgroup(run.pod);
    const snap = async () => ({
      at: performance.now(),
      daemon: await cpuSeconds(d.pid),
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
    return {
      probes,
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
  const settleS = ctx.quick ? 5 : 15;
  const load0 = loadAverage();
  const t0 = Date.now();
  const costs: Cost[] = [];
  for (const probes of ["native", "exec", "none"] as const) {
    const c = await measure(ctx, probes, windowS, settleS);
    costs.push(c);
    ctx.log(`watch ${probes}: daemon ${c.daemon.toFixed(2)} s CPU, watching side ${watchingSide(c).toFixed(2)} s, ${c.probeRuns} probes, ${c.passes} passes`);
  }
  const [native, exec, none] = costs as [Cost, Cost, Cost];
  const load1 = loadAverage();
  const cpu = (s: number, w: number): string => `${s.toFixed(2)} s (${percent(s / w)})`;
  const col = (f: (c: Cost) => string): string => costs.map(f).join(" | ");
  const share = native.daemon / native.windowS;
  const nativeProbe = perProbe(native, none);
  const execProbe = perProbe(exec, none);
  const ms1 = (x: number): string => `${(x * 1000).toFixed(1)} ms`;
  const lines = [
    "## 3. Cost while watching",
    "",
    `Measured ${new Date(t0).toISOString()}; load average ${load0} before, ${load1} after.`,
    "",
    `The pod ready under a daemon, ${settleS} s to settle, then a ${Math.round(native.windowS)} s window at the default probe intervals`,
    "(every 10 s per container once ready; the daemon also relists every 10 s and follows the event stream). Three",
    "pods one after the other: podwarden's native probes (as shipped), the same checks as exec probes through Podman's",
    "healthcheck endpoint, and no probes at all (the baseline: what watching costs without probing).",
    "CPU seconds over the window (% of one core): the daemon from /proc (utime + stime); the Podman API service, a",
    "private instance (own socket, own cpuacct cgroup: nobody else's calls counted; the daemon was pointed at it with",
    "--socket); conmon and runc from the pod's conmon cgroup (each container's conmon, and for every exec session a",
    "conmon and the `runc exec` it runs); the containers from the pod's cgroup minus conmon (their own idle work, the",
    "answers to native probes, and the commands of exec probes with their `runc init`). cgroup v1 cpuacct.usage.",
    "",
    "| | native probes (redis, tcp, http from the host) | exec probes through Podman | no probes (baseline) |",
    "| --- | ---: | ---: | ---: |",
    `| probes run / reconcile passes / Podman API calls in the window | ${col((c) => `${c.probeRuns} / ${c.passes} / ${c.apiCalls}`)} |`,
    `| daemon CPU | ${col((c) => cpu(c.daemon, c.windowS))} |`,
    `| Podman API service CPU | ${col((c) => cpu(c.service, c.windowS))} |`,
    `| conmon + runc CPU | ${col((c) => cpu(c.conmon, c.windowS))} |`,
    `| **watching: daemon + Podman service + conmon/runc** | ${col((c) => `**${cpu(watchingSide(c), c.windowS)}**`)} |`,
    `| the containers' own CPU | ${col((c) => cpu(c.containers, c.windowS))} |`,
    `| everything | ${col((c) => cpu(total(c), c.windowS))} |`,
    `| daemon RSS, peak in the window (VmRSS every 1 s) | ${col((c) => mib(c.peakRss))} |`,
    `| daemon peak RSS since its start (VmHWM) | ${col((c) => mib(c.hwm))} |`,
    "",
    `Watching with exec probes costs ${ratio(watchingSide(exec), watchingSide(native))} the host CPU of watching with native ones ` +
      `(daemon + Podman service + conmon/runc; ${ratio(total(exec), total(native))} counting the containers too). Most of either is the`,
    "baseline: the relists every 10 s, each a pod inspect, a list and an inspect per container, which Podman answers with a",
    `\`runc state\` per running container. Per probe run, above the baseline: native ${ms1(nativeProbe)}, exec ${ms1(execProbe)} ` +
      `of CPU on the watching side (${ratio(execProbe, nativeProbe)}); counting the containers, native ${ms1(perProbeAll(native, none))}, ` +
      `exec ${ms1(perProbeAll(exec, none))} (${ratio(perProbeAll(exec, none), perProbeAll(native, none))}). A probe falls due on its own`,
    "schedule, so the daemon runs a reconcile pass (with its Podman calls) for it: that pass is in the per-probe figures.",
    "",
    `The exec checks: ${Object.entries(EXEC_CHECKS)
      .map(([n, argv]) => `${n} \`${argv.join(" ")}\``)
      .join("; ")}.`,
  ];
  return {
    id: "watch",
    lines,
    summary: [
      { figure: "watching: daemon CPU (native probes, default intervals)", value: `${percent(share)} of a core`, target: "≤ 0.5 % of one core", met: share <= 0.005 },
      { figure: "watching: daemon peak RSS", value: `${mib(Math.max(native.hwm, native.peakRss))} (VmHWM)`, target: "≤ 80 MB", met: Math.max(native.hwm, native.peakRss) <= 80e6 },
      {
        figure: "host CPU per probe run above the no-probe baseline, exec ÷ native (daemon + Podman service + conmon/runc)",
        value: `${ratio(execProbe, nativeProbe)} (${ms1(execProbe)} vs ${ms1(nativeProbe)}); whole watching side ${ratio(watchingSide(exec), watchingSide(native))}`,
        target: "≥ 20×",
        met: execProbe >= 20 * nativeProbe,
      },
    ],
  };
};
