// 3. Cost while watching: the pod ready, default probe intervals (10 s), a window of two
// minutes. The daemon's own CPU (utime + stime) and memory (VmRSS sampled every second,
// VmHWM), and the host CPU the watching costs: the daemon, the Podman API service (a
// private one, so that nobody else's calls are counted), conmon and runc (the pod's conmon
// cgroup, where Podman puts each container's conmon and the conmon of every exec session,
// with the runc it runs), and the containers themselves (which answer the probes, and run
// the exec probes' commands). Once with podwarden's native probes, once with the same
// checks as exec probes through Podman's healthcheck endpoint.

import { randomBytes } from "node:crypto";
import { logIs, runEnv, startDaemon } from "../../test/support/podman-harness.js";
import { EXEC_CHECKS, benchRun, podCgroup } from "../lib/bench-run.js";
import { sleep, type BenchContext } from "../lib/context.js";
import { loadAverage } from "../lib/machine.js";
import { startPrivateService } from "../lib/podman-service.js";
import { cgroupCpuSeconds, cpuSeconds, memory } from "../lib/proc.js";
import type { SectionResult } from "../lib/results.js";
import { mib, percent, ratio, sum } from "../lib/stats.js";

interface Cost {
  readonly probes: "native" | "exec";
  readonly windowS: number;
  /** CPU seconds over the window. */
  readonly daemon: number;
  readonly service: number;
  readonly conmon: number;
  readonly containers: number;
  readonly peakRss: number;
  readonly hwm: number;
  /** Probes the daemon ran in the window (from its metrics). */
  readonly probeRuns: number | undefined;
}

const watchingSide = (c: Cost): number => c.daemon + c.service + c.conmon;
const total = (c: Cost): number => watchingSide(c) + c.containers;

/** Sum of podwarden_container_probe_runs_total over containers, from /metrics. */
const probeCount = async (port: number): Promise<number | undefined> => {
  const text = await fetch(`http://127.0.0.1:${port}/metrics`).then(
    (r) => r.text(),
    () => "",
  );
  const counts = [...text.matchAll(/^podwarden_container_probe_runs_total\{[^}]*\} (\d+(?:\.\d+)?)/gm)].map((m) => Number(m[1]));
  return counts.length > 0 ? sum(counts) : undefined;
};

const measure = async (ctx: BenchContext, probes: "native" | "exec", windowS: number, settleS: number): Promise<Cost> => {
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
      probes: await probeCount(run.httpPort),
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
      probeRuns: a.probes === undefined || b.probes === undefined ? undefined : b.probes - a.probes,
    };
  } finally {
    await ctx.janitor.sweep(mark);
  }
};

export const watching = async (ctx: BenchContext): Promise<SectionResult> => {
  const windowS = ctx.quick ? 20 : 120;
  const settleS = ctx.quick ? 5 : 15;
  const load0 = loadAverage();
  const t0 = Date.now();
  const native = await measure(ctx, "native", windowS, settleS);
  ctx.log(`watch native: daemon ${native.daemon.toFixed(2)} s CPU, host (watching side) ${watchingSide(native).toFixed(2)} s`);
  const exec = await measure(ctx, "exec", windowS, settleS);
  ctx.log(`watch exec: daemon ${exec.daemon.toFixed(2)} s CPU, host (watching side) ${watchingSide(exec).toFixed(2)} s`);
  const load1 = loadAverage();
  const cpu = (s: number, w: number): string => `${s.toFixed(2)} s (${percent(s / w)} of a core)`;
  const col = (f: (c: Cost) => string): string => `${f(native)} | ${f(exec)}`;
  const share = native.daemon / native.windowS;
  const lines = [
    "## 3. Cost while watching",
    "",
    `Measured ${new Date(t0).toISOString()}; load average ${load0} before, ${load1} after.`,
    "",
    `The pod ready under a daemon, ${settleS} s to settle, then a ${Math.round(native.windowS)} s window at the default probe intervals`,
    "(every 10 s per container once ready; the daemon also relists every 10 s and follows the event stream).",
    "CPU seconds over the window: the daemon from /proc (utime + stime); the Podman API service, a private instance",
    "(own socket, own cpuacct cgroup: nobody else's calls counted; the daemon was pointed at it with --socket);",
    "conmon and runc from the pod's conmon cgroup (each container's conmon, and for every exec session a conmon",
    "and the `runc exec` it runs); the containers from the pod's cgroup minus conmon (their own idle work, the",
    "answers to native probes, and the commands of exec probes with their `runc init`). cgroup v1 cpuacct.usage.",
    "",
    "| | native probes (redis, tcp, http from the host) | exec probes through Podman |",
    "| --- | ---: | ---: |",
    `| probes run in the window | ${col((c) => String(c.probeRuns ?? "?"))} |`,
    `| daemon CPU | ${col((c) => cpu(c.daemon, c.windowS))} |`,
    `| Podman API service CPU | ${col((c) => cpu(c.service, c.windowS))} |`,
    `| conmon + runc CPU | ${col((c) => cpu(c.conmon, c.windowS))} |`,
    `| **watching: daemon + Podman service + conmon/runc** | ${col((c) => `**${cpu(watchingSide(c), c.windowS)}**`)} |`,
    `| the containers' own CPU | ${col((c) => cpu(c.containers, c.windowS))} |`,
    `| everything | ${col((c) => cpu(total(c), c.windowS))} |`,
    `| daemon RSS, peak in the window (VmRSS every 1 s) | ${col((c) => mib(c.peakRss))} |`,
    `| daemon peak RSS since its start (VmHWM) | ${col((c) => mib(c.hwm))} |`,
    "",
    `Exec probes cost ${ratio(watchingSide(exec), watchingSide(native))} the host CPU of native ones on the watching side, ` +
      `${ratio(total(exec), total(native))} counting the containers too (whose idle work is the same either way).`,
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
        figure: "host CPU, exec probes ÷ native probes (daemon + Podman service + conmon/runc)",
        value: `${ratio(watchingSide(exec), watchingSide(native))} (${watchingSide(exec).toFixed(2)} s vs ${watchingSide(native).toFixed(2)} s over ${Math.round(native.windowS)} s)`,
        target: "≥ 20×",
        met: watchingSide(exec) >= 20 * watchingSide(native),
      },
    ],
  };
};
