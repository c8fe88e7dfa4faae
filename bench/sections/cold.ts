// 1. Cold start to all-ready: images present, no pod, empty data directories. Each way of
// starting the pod runs on a fresh pod of its own (name, ports, data), in rounds with the
// ways interleaved (order rotated each round), and is removed again before the next;
// podman-compose's runs come after the rounds (the run after one of its was slower).
// Every run is watched by the same external observer (a native probe every 10 ms, not waiting for earlier ones).

import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { podmanName } from "../../src/domain/spec.js";
import { CLI, SOCKET, podman } from "../../test/support/podman-harness.js";
import { composeFile, floorPlan, seedScript } from "../alternatives/render.js";
import { benchRun, type BenchRun } from "../lib/bench-run.js";
import { bundle } from "../lib/bundle.js";
import type { BenchContext } from "../lib/context.js";
import { watchReady } from "../lib/external-probe.js";
import { inspectContainer, podmanTimeMs } from "../lib/libpod.js";
import { loadAverage } from "../lib/machine.js";
import { mustSucceed, timed, type Timed } from "../lib/proc.js";
import { infoRow, targetRow, type SectionResult } from "../lib/results.js";
import { gapLines, isOutlier, keepFile, longestGaps } from "../lib/slow-run.js";
import { median, ms, ratio, s2, worst } from "../lib/stats.js";

const WAYS = ["podwarden", "floor", "seed", "seed-gated", "compose"] as const;
type Way = (typeof WAYS)[number];
/** The ways run in interleaved rounds; podman-compose runs after them (see the report's note). */
const INTERLEAVED: readonly Way[] = ["podwarden", "floor", "seed", "seed-gated"];

const LABEL: Record<Way, string> = {
  podwarden: "podwarden `up`",
  floor: "the floor (create, start, probe every 10 ms)",
  seed: "the seed's unit as a script (no gating)",
  "seed-gated": "the seed's script gated on `podman healthcheck run` (every 1 s)",
  compose: "podman-compose 1.0.3 `up -d` (depends_on)",
};

/** The ways that say themselves when the pod is ready are timed to their exit; the others by the observer. */
const SELF_TIMED: readonly Way[] = ["podwarden", "floor"];

interface Sample {
  readonly way: Way;
  /** Spawn -> the command's exit. */
  readonly exitMs: number;
  /** Spawn -> the external observer has seen all four pass. */
  readonly observedMs: number;
  /** Per container: Podman's StartedAt -> the observer's first passing probe. */
  readonly startToReady: Record<string, number>;
  /** Per container, the program's own figure (podwarden's startToReadyMs, the floor's start -> pass). */
  readonly own: Record<string, number>;
  /** Per container: spawn -> the observer's first passing probe. */
  readonly seen: Record<string, number>;
  readonly pod: string;
  readonly startAt: number;
  readonly endAt: number;
  /** The command's stderr (podwarden's: its log, JSON lines at debug level). */
  readonly stderr: string;
  /** What Podman and the observer showed STALL_MS after the spawn, if the command was still running. */
  readonly stall?: string;
}

/** A run still going after this long is looked at while it runs (usual runs take 4-8 s). */
const STALL_MS = 30_000;
/** How long the observer waits for all four after the command exits. */
const OBSERVE_MS = 180_000;

const headline = (s: Sample): number => (SELF_TIMED.includes(s.way) ? s.exitMs : s.observedMs);

/**
 * a's run ÷ b's run in the same round, round by round. The machine's speed drifts (a fifth
 * within minutes here), so two runs minutes apart differ by more than two ways do; the runs of
 * one round are seconds apart.
 */
const pairedRatios = (a: readonly Sample[], b: readonly Sample[]): number[] => a.map((s, i) => headline(s) / headline(b[i]!));

const composeCleanup = (project: string) => async (): Promise<void> => {
  const ids = (await podman("ps", "-aq", "--filter", `label=io.podman.compose.project=${project}`).catch(() => "")).split("\n").filter(Boolean);
  if (ids.length > 0) await podman("rm", "-f", "-t", "0", ...ids).catch(() => undefined);
  await podman("network", "rm", "-f", `${project}_default`).catch(() => undefined);
};

/** Prepares (untimed) and returns the command that starts the pod this way. */
const command = async (ctx: BenchContext, run: BenchRun, way: Way): Promise<{ cmd: string; args: string[] }> => {
  switch (way) {
    case "podwarden":
      // JSON lines at debug level (Podman's events too): what an outlier's report is made from.
      return { cmd: process.execPath, args: [CLI, "up", "-c", run.config, "--json", "--log-format", "json", "--log-level", "debug"] };
    case "floor": {
      const plan = join(run.dir, "floor-plan.json");
      await writeFile(plan, JSON.stringify(await floorPlan(run)));
      return { cmd: process.execPath, args: [await bundle("alternatives/floor", ctx.scratch), plan] };
    }
    case "seed":
    case "seed-gated": {
      const script = join(run.dir, `${way}.sh`);
      await writeFile(script, await seedScript(run, { gated: way === "seed-gated" }), { mode: 0o700 });
      return { cmd: "bash", args: [script] };
    }
    case "compose": {
      const file = join(run.dir, "compose.yaml");
      await writeFile(file, await composeFile(run));
      ctx.janitor.add(`compose project ${run.pod}`, composeCleanup(run.pod));
      return { cmd: "podman-compose", args: ["-p", run.pod, "-f", file, `--podman-run-args=${(run.spec.dns ?? []).map((d) => `--dns=${d}`).join(" ")}`, "up", "-d"] };
    }
  }
};

const ownFigures = (way: Way, r: Timed): Record<string, number> => {
  if (way === "podwarden") {
    const j = JSON.parse(r.stdout) as { containers: Record<string, { startToReadyMs: number | null }> };
    return Object.fromEntries(Object.entries(j.containers).flatMap(([n, c]) => (c.startToReadyMs === null ? [] : [[n, c.startToReadyMs]])));
  }
  if (way === "floor") {
    return Object.fromEntries(
      r.stdout
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { container: string; startedAt: number; readyAt: number })
        .map((x) => [x.container, x.readyAt - x.startedAt]),
    );
  }
  return {};
};

/** Each container's state in Podman and whether the observer has seen it pass, `STALL_MS` into a run. */
const stallSnapshot = async (run: BenchRun, firstPass: ReadonlyMap<string, number>, spawnAt: number): Promise<string> => {
  const parts = await Promise.all(
    run.spec.containers.map(async (c) => {
      const state = await inspectContainer(SOCKET, podmanName(run.pod, c.name)).then(
        (i) => `${i.State.Status}${i.State.Running ? ` since ${s2(podmanTimeMs(i.State.StartedAt) - spawnAt)}` : ""}`,
        () => "not created",
      );
      const passed = firstPass.get(c.name);
      return `${c.name} ${state}, observer ${passed === undefined ? "has not seen it pass" : `saw it pass at ${s2(passed - spawnAt)}`}`;
    }),
  );
  return parts.join("; ");
};

/** Where an outlier's time went: what the observer saw, the longest silences in the daemon's log (kept on disk). */
const outlierLines = async (s: Sample): Promise<string[]> => {
  const seen = Object.entries(s.seen).map(([n, t]) => `${n} ${s2(t)}`).join(", ");
  const lines = [`- ${s.way}, pod ${s.pod}: ${s2(headline(s))}; the observer saw each pass at ${seen}`];
  if (s.stall) lines.push(`  - ${s2(STALL_MS)} in: ${s.stall}`);
  if (s.way === "podwarden") {
    lines.push(`  - the daemon's log: ${await keepFile(`${s.pod}.jsonl`, s.stderr)}`);
    lines.push(...gapLines(longestGaps(s.stderr, s.startAt, s.endAt)));
  }
  return lines;
};

const once = async (ctx: BenchContext, way: Way): Promise<Sample> => {
  const mark = ctx.janitor.mark();
  const run = await benchRun(ctx.janitor);
  try {
    const { cmd, args } = await command(ctx, run, way);
    const watch = watchReady(run.spec, run.secrets);
    const spawnAt = Date.now();
    let stall: string | undefined;
    const stallTimer = setTimeout(() => {
      void stallSnapshot(run, watch.firstPass, spawnAt).then((s) => (stall = s));
    }, STALL_MS);
    // A run that fails stops the observer too (its probes would keep the benchmark from exiting).
    const r = await timed(cmd, args, { timeoutMs: 300_000 })
      .finally(() => clearTimeout(stallTimer))
      .then((t) => mustSucceed(way, t))
      .catch((err: unknown) => {
        watch.stop();
        throw err;
      });
    // A run whose containers are not all seen ready within OBSERVE_MS (OpenCode's own first start
    // has stalled so, under podman-compose too) is kept as a stalled run, not the end of the section.
    const timeout = new Promise<number>((resolve) => setTimeout(() => resolve(Number.POSITIVE_INFINITY), OBSERVE_MS).unref());
    const observedAt = await Promise.race([watch.allReady, timeout]).finally(() => watch.stop());
    if (!Number.isFinite(observedAt) && stall === undefined) stall = await stallSnapshot(run, watch.firstPass, spawnAt);
    const startToReady: Record<string, number> = {};
    for (const c of run.spec.containers) {
      const started = podmanTimeMs((await inspectContainer(SOCKET, podmanName(run.pod, c.name))).State.StartedAt);
      startToReady[c.name] = (watch.firstPass.get(c.name) ?? Number.NaN) - started;
    }
    const seen = Object.fromEntries([...watch.firstPass].map(([n, at]) => [n, at - r.startAt]));
    return {
      way,
      exitMs: r.endAt - r.startAt,
      observedMs: observedAt - r.startAt,
      startToReady,
      own: ownFigures(way, r),
      seen,
      pod: run.pod,
      startAt: r.startAt,
      endAt: r.endAt,
      stderr: r.stderr,
      ...(stall === undefined ? {} : { stall }),
    };
  } finally {
    await ctx.janitor.sweep(mark);
  }
};

export const coldStart = async (ctx: BenchContext): Promise<SectionResult> => {
  const rounds = ctx.rounds ?? (ctx.quick ? 1 : 7);
  const load0 = loadAverage();
  const t0 = Date.now();
  // One uncounted start first: the images' files are in the page cache for every way alike.
  ctx.log("cold start: warm-up (floor, not counted)");
  await once(ctx, "floor");
  const samples: Sample[] = [];
  const run = async (way: Way, round: number): Promise<void> => {
    const s = await once(ctx, way);
    samples.push(s);
    ctx.log(`cold start round ${round + 1}/${rounds} ${way}: ${s2(headline(s))} (exit ${s2(s.exitMs)}, observed ${s2(s.observedMs)})`);
  };
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < INTERLEAVED.length; i++) await run(INTERLEAVED[(i + round) % INTERLEAVED.length]!, round);
  }
  for (let round = 0; round < rounds; round++) await run("compose", round);
  const of = (w: Way): Sample[] => samples.filter((s) => s.way === w);
  const med = (w: Way): number => median(of(w).map(headline));
  const pw = med("podwarden");
  const names = Object.keys(samples[0]!.startToReady);
  const ownPw = Object.fromEntries(names.map((n) => [n, median(of("podwarden").map((s) => s.own[n] ?? Number.NaN))]));
  ctx.shared.startToReadyMs = ownPw;
  const lines = [
    "## 1. Cold start to all-ready",
    "",
    `Measured ${new Date(t0).toISOString()}, ${rounds} run(s) of each way, ${((Date.now() - t0) / 1000).toFixed(0)} s in all; ` +
      `load average (1 / 5 / 15 min) ${load0} before, ${loadAverage()} after. podwarden, the floor and the two scripts run in`,
    "rounds, interleaved (order rotated each round); podman-compose's runs come after all of them. Interleaved with the",
    "others, podman-compose slowed the run after its own by about 0.1 s, whichever way that was (the floor after it:",
    "1.63-1.84 s, otherwise 1.51-1.74 s), and in the old rotation that was podwarden in four rounds of five.",
    "",
    "Images present, no pod, empty data directories, a new pod name and ports for every run. The clock starts just",
    "before the command is spawned. podwarden `up` and the floor say themselves when all four are ready and are",
    "timed to their exit; the scripts and podman-compose return before that, so they are timed until the external",
    "observer (native probes from the host every 10 ms, same ports and credentials) has seen all four pass.",
    "Both figures are given for every way. The observer and the floor send a probe every 10 ms whether or not the",
    "earlier ones are back: OpenCode accepts connections it never answers for about the first 0.2 s of its",
    "listening, and a prober that waits for each answer is blind for that probe's timeout (2 s). Until this was",
    "found, every way here was timed with that 2 s in it (OpenCode \"took\" about 2.85 s; it takes about 1.1 s).",
    "",
    "| way | all-ready, median | fastest | slowest | podwarden ÷ this | command exits (median) | observer sees all four (median) |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...WAYS.map((w) => {
      const xs = of(w).map(headline);
      return `| ${LABEL[w]} | ${s2(median(xs))} | ${s2(Math.min(...xs))} | ${s2(worst(xs))} | ${w === "podwarden" ? "–" : ratio(pw, med(w))} | ${s2(median(of(w).map((s) => s.exitMs)))} | ${s2(median(of(w).map((s) => s.observedMs)))} |`;
    }),
    "",
    "Every run (s, in the order run): " +
      WAYS.map((w) => `${w} ${of(w).map((s) => (Number.isFinite(headline(s)) ? (headline(s) / 1000).toFixed(2) : `not all ready after ${OBSERVE_MS / 1000} s`)).join(", ")}`).join("; "),
    "",
    "### Per container: start → first passing probe (median)",
    "",
    "From Podman's StartedAt to the observer's first passing probe (10 ms cadence), and podwarden's own figure",
    "(`up --json`: StartedAt → the probe that made it ready; the daemon probes a starting container every 10 ms for its",
    "first 1.5 s, then less often, at least every 25 ms).",
    "",
    `| way | ${names.join(" | ")} |`,
    `| --- | ${names.map(() => "---:").join(" | ")} |`,
    ...WAYS.map((w) => `| ${w} | ${names.map((n) => ms(median(of(w).map((s) => s.startToReady[n]!).filter(Number.isFinite)))).join(" | ")} |`),
    `| podwarden, its own | ${names.map((n) => ms(ownPw[n]!)).join(" | ")} |`,
    `| the floor, its own (start call returned → pass) | ${names.map((n) => ms(median(of("floor").map((s) => s.own[n] ?? Number.NaN)))).join(" | ")} |`,
    "",
    "Notes: podman-compose 1.0.3 (Debian's) has no pods: each service gets its own network namespace on a",
    "project network and publishes its own ports; it waits on nothing (depends_on orders the `podman run`s only)",
    "and sleeps 1 s after each `podman run`. The scripts give every container the health check a person would",
    "declare (`--health-cmd`); without systemd Podman logs that it cannot create the timer and goes on.",
  ];
  const outliers = samples.filter((s) => isOutlier(headline(s), of(s.way).map(headline)));
  lines.push(
    "",
    "### Slow runs",
    "",
    `A run is slow when it took over 1.5× the median of its way (and 2 s more). For each: when the observer saw each container pass (from the spawn),`,
    `what Podman showed ${s2(STALL_MS)} in if it was still running, and for podwarden the longest silences in its log (debug level, kept on disk).`,
    "",
    ...(outliers.length === 0 ? ["None in this run."] : (await Promise.all(outliers.map(outlierLines))).flat()),
  );
  const floor = med("floor");
  const gated = med("seed-gated");
  const paired = pairedRatios(of("podwarden"), of("floor"));
  return {
    id: "cold",
    lines,
    summary: [
      targetRow(
        "cold",
        `${ratio(pw, floor)}: podwarden ${s2(pw)}, the floor ${s2(floor)}; the gated seed script ${s2(gated)} (podwarden ${ratio(pw, gated)})`,
        pw <= 1.1 * floor && pw < gated,
      ),
      infoRow("cold start to all-ready, the ungated seed script / podman-compose (median)", `${s2(med("seed"))} / ${s2(med("compose"))}`),
      infoRow(
        "cold start ÷ the floor, paired within rounds (median of the rounds' ratios; the verdict above is on the medians)",
        `${median(paired).toFixed(2)}× (rounds: ${paired.map((r) => r.toFixed(2)).join(", ")})`,
      ),
    ],
  };
};
