// 5. Daemon start: `podwarden run` against a pod that is already up (brought up by `up`),
// timed from just before spawn to its log lines: "podwarden starting" (config loaded, daemon
// built), "serving /status..." (HTTP listening) and "pod ready" (adoption complete: the pod
// observed, every container probed, nothing restarted). Killed with SIGKILL after each
// start, which leaves the pod running for the next. With the parts of the start that are
// not podwarden's own work: node's start, and loading podwarden's modules.

import { CLI, REPO, logIs, runEnv, startDaemon } from "../../test/support/podman-harness.js";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { benchRun } from "../lib/bench-run.js";
import { sleep, type BenchContext } from "../lib/context.js";
import { loadAverage } from "../lib/machine.js";
import { mustSucceed, timed } from "../lib/proc.js";
import { infoRow, targetRow, type SectionResult } from "../lib/results.js";
import { median, ms, worst } from "../lib/stats.js";
import { unitEnvironment, unitNodeFlags } from "../../scripts/unit-flags.js";

const LISTENING = "serving /status, /metrics, /healthz, /readyz and the status page";

interface Start {
  readonly builtMs: number;
  readonly listeningMs: number;
  readonly adoptedMs: number;
}

export const daemonStart = async (ctx: BenchContext): Promise<SectionResult> => {
  const n = ctx.quick ? 3 : 10;
  const load0 = loadAverage();
  const t0 = Date.now();
  const run = await benchRun(ctx.janitor);
  mustSucceed("podwarden up", await timed(process.execPath, [CLI, "up", "-c", run.config], { timeoutMs: 600_000 }));
  const starts: Start[] = [];
  for (let i = 0; i < n; i++) {
    const spawnedAt = Date.now();
    const d = startDaemon(run.config, { env: { ...runEnv(run), ...unitEnvironment() }, nodeArgs: unitNodeFlags() });
    ctx.janitor.add(`daemon ${d.pid}`, () => d.kill());
    try {
      const built = await d.waitForLog("podwarden starting", logIs("podwarden starting"), { timeoutMs: 60_000 });
      const listening = await d.waitForLog("HTTP listening", logIs(LISTENING), { timeoutMs: 60_000 });
      const adopted = await d.waitForLog("the pod adopted", logIs("pod ready"), { timeoutMs: 120_000 });
      const touched = d.logs().filter((e) => e.msg === "starting" || e.msg === "stopping" || e.msg === "creating container");
      if (touched.length > 0) throw new Error(`adoption restarted containers: ${JSON.stringify(touched)}`);
      starts.push({ builtMs: built.time - spawnedAt, listeningMs: listening.time - spawnedAt, adoptedMs: adopted.time - spawnedAt });
      ctx.log(`daemon start ${i + 1}/${n}: listening ${ms(listening.time - spawnedAt)}, adopted ${ms(adopted.time - spawnedAt)}`);
    } finally {
      await d.kill();
    }
    await sleep(300);
  }
  // The parts that are not podwarden's work: node itself, and loading the modules.
  // dist/daemon.js: the bundle's entry for the daemon (src/daemon/run-daemon.ts and all it builds on).
  const mainJs = join(REPO, "dist/daemon.js");
  const hasMain = existsSync(mainJs);
  const nodeMs: number[] = [];
  const versionMs: number[] = [];
  const importMs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const a = await timed(process.execPath, ["-e", "0"]);
    nodeMs.push(a.endAt - a.startAt);
    const v = await timed(process.execPath, [CLI, "--version"]);
    versionMs.push(v.endAt - v.startAt);
    if (!hasMain) continue;
    const b = await timed(process.execPath, ["--input-type=module", "-e", `await import(${JSON.stringify(mainJs)})`]);
    importMs.push(b.endAt - b.startAt);
  }
  const col = (f: (s: Start) => number): string => `${ms(median(starts.map(f)))} | ${ms(Math.min(...starts.map(f)))} | ${ms(worst(starts.map(f)))}`;
  const listen = median(starts.map((s) => s.listeningMs));
  const lines = [
    "## 5. Daemon start",
    "",
    `Measured ${new Date(t0).toISOString()}, ${n} starts; load average ${load0} before, ${loadAverage()} after.`,
    "",
    "`podwarden run` against the benchmark's pod, already up; clock from just before spawn to the daemon's log lines",
    "(JSON time stamps, ms). SIGKILL after each start leaves the pod running for the next.",
    "",
    "| from process spawn to | median | fastest | slowest |",
    "| --- | ---: | ---: | ---: |",
    `| config loaded, daemon built ("podwarden starting") | ${col((s) => s.builtMs)} |`,
    `| **HTTP listening** | ${col((s) => s.listeningMs)} |`,
    `| adoption complete ("pod ready": observed, all four probed, nothing restarted) | ${col((s) => s.adoptedMs)} |`,
    "",
    `Where the start goes (medians of 5): \`node -e 0\` takes ${ms(median(nodeMs))}; \`node dist/cli.js --version\` (the entry, nothing of \`run\`) ${ms(median(versionMs))}` +
      (hasMain ? `; \`node\` importing dist/daemon.js (every module the daemon loads) ${ms(median(importMs))}.` : "."),
  ];
  return {
    id: "start",
    lines,
    summary: [
      targetRow("startListening", `${ms(listen)} (fastest ${ms(Math.min(...starts.map((s) => s.listeningMs)))})`, listen <= 200),
      infoRow("daemon start → adoption of a running pod complete (median)", ms(median(starts.map((s) => s.adoptedMs)))),
    ],
  };
};
