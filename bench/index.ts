// npm run bench: the benchmark suite, on real Podman with the local images.
// Figures, not tests: nothing here fails on a slow machine; it measures and reports.
//
//   npm run bench                           all five sections, rewrites bench/RESULTS.md
//   npm run bench -- --quick                a fast smoke run of all (few repetitions, short windows);
//                                           writes /tmp/podwarden-bench-quick.md unless --out is given
//   npm run bench -- --only cold,http       some sections (cold, recovery, watch, http, start); the
//                                           others stay in RESULTS.md as they were
//   npm run bench -- --out FILE             write the results there instead
//   npm run bench -- --rounds N             rounds of the cold start (every way once a round; default 7, 1 with --quick)
//
// Kept after the run, in /tmp/podwarden-bench-logs: the daemon's log of every cold start much
// slower than its siblings (the report says where its time went) and the CPU profile of the
// daemon while watching (summarised in the report).
//
// Every pod is the benchmark's own (pw-bench-*, free ports, temp data) and is removed at the
// end, with everything else it made (containers, networks, the private Podman service and
// its cgroup, temp files), also on Ctrl-C.

import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";
import { join } from "node:path";
import { LOCAL_CONFIG, REPO, ensureImages, startPodmanService } from "../test/support/podman-harness.js";
import { Janitor, scratchDir } from "./lib/bench-run.js";
import { forgetBundles } from "./lib/bundle.js";
import type { BenchContext } from "./lib/context.js";
import { loadAverage, machineLines } from "./lib/machine.js";
import { SECTION_IDS, summaryTable, writeResults, type SectionId, type SectionResult } from "./lib/results.js";
import { coldStart } from "./sections/cold.js";
import { recovery } from "./sections/recovery.js";
import { watching } from "./sections/watch.js";
import { statusAndScrapes } from "./sections/http.js";
import { daemonStart } from "./sections/start.js";

const SECTIONS: Record<SectionId, { title: string; run: (ctx: BenchContext) => Promise<SectionResult> }> = {
  cold: { title: "1. Cold start to all-ready", run: coldStart },
  recovery: { title: "2. Failure detection and recovery", run: recovery },
  watch: { title: "3. Cost while watching", run: watching },
  http: { title: "4. Status and scrapes", run: statusAndScrapes },
  start: { title: "5. Daemon start", run: daemonStart },
};

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    out: { type: "string" },
    rounds: { type: "string" },
  },
});
const quick = values.quick ?? false;
const rounds = values.rounds === undefined ? undefined : Number(values.rounds);
if (rounds !== undefined && !(Number.isInteger(rounds) && rounds >= 1)) {
  process.stderr.write(`bench: --rounds takes a whole number of at least 1, not ${values.rounds}\n`);
  process.exit(2);
}
const only = (values.only?.split(",").map((s) => s.trim()).filter(Boolean) ?? [...SECTION_IDS]) as SectionId[];
for (const id of only) {
  if (!SECTION_IDS.includes(id)) {
    process.stderr.write(`bench: unknown section ${id} (sections: ${SECTION_IDS.join(", ")})\n`);
    process.exit(2);
  }
}
// The cold start compares with podman-compose: say so now rather than after minutes of measuring.
if (only.includes("cold") && spawnSync("podman-compose", ["--version"]).error) {
  process.stderr.write("bench: podman-compose is not installed (the cold start compares with it): run `bash .ci/setup-host.sh --bench`\n");
  process.exit(2);
}
const out = values.out ?? (quick ? "/tmp/podwarden-bench-quick.md" : join(REPO, "bench/RESULTS.md"));

const log = (line: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
};

const janitor = new Janitor();
const cleanup = async (): Promise<void> => {
  await janitor.sweep();
  forgetBundles();
};
let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    interrupted = true;
    log(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

const main = async (): Promise<void> => {
  const t0 = Date.now();
  const load0 = loadAverage();
  await startPodmanService();
  log("checking the local images (builds what is missing)");
  await ensureImages(LOCAL_CONFIG);
  const ctx: BenchContext = { quick, ...(rounds === undefined ? {} : { rounds }), janitor, scratch: await scratchDir(janitor), shared: {}, log };
  const header = [
    "## Machine and run",
    "",
    `- date: ${new Date(t0).toISOString()}${quick ? " (quick run: few repetitions, short windows)" : ""}`,
    ...(await machineLines()),
  ];
  const results: SectionResult[] = [];
  for (const id of only) {
    if (interrupted) break;
    const { title, run } = SECTIONS[id];
    log(`${title}`);
    const mark = janitor.mark();
    try {
      results.push(await run(ctx));
    } catch (err) {
      log(`${title} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      results.push({ id, lines: [`## ${title}`, "", `Not measured: the run failed (${err instanceof Error ? err.message : String(err)}).`], summary: [] });
    } finally {
      await janitor.sweep(mark);
    }
  }
  const wallS = (Date.now() - t0) / 1000;
  header.push(`- load average (1 / 5 / 15 min): ${load0} at the start, ${loadAverage()} at the end; whole run ${(wallS / 60).toFixed(1)} min`);
  const rows = await writeResults({ file: out, header, sections: results });
  process.stdout.write(`${summaryTable(rows).join("\n")}\n\nwrote ${out} (${(wallS / 60).toFixed(1)} min)\n`);
};

try {
  await main();
} finally {
  await cleanup();
}
