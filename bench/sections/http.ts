// 4. Status and scrapes: /status and /metrics at a fixed 1,000 requests/s for 30 s while the
// daemon supervises the ready pod, plus the maximum throughput; beside the naive way, a
// tiny server that asks Podman on every request (`podman ps --format json`, or the libpod
// /containers/json call). The load generator runs in the benchmark's process (bench/lib/load.ts).

import { spawn } from "node:child_process";
import { SOCKET, freePort, logIs, runEnv, startDaemon, waitFor } from "../../test/support/podman-harness.js";
import { benchRun } from "../lib/bench-run.js";
import { bundle } from "../lib/bundle.js";
import { sleep, type BenchContext } from "../lib/context.js";
import { fixedRate, maxThroughput, scrapeEvery, type FixedRateResult, type ThroughputResult } from "../lib/load.js";
import { loadAverage } from "../lib/machine.js";
import { infoRow, targetRow, type SectionResult } from "../lib/results.js";
import { ms } from "../lib/stats.js";
import { unitEnvironment, unitNodeFlags } from "../../scripts/unit-flags.js";

const RATE = 1000;
/** The scraper beside /status: a Prometheus-like GET of /metrics this often (Prometheus's default is 15 s). */
const SCRAPE_EVERY_MS = 1000;

interface Measured {
  readonly label: string;
  readonly fixed: FixedRateResult;
  readonly max: ThroughputResult;
}

/** A naive status server as its own process; resolves with its URL once it listens. */
const naiveServer = async (ctx: BenchContext, mode: "ps" | "libpod" | "static", pod: string): Promise<string> => {
  const port = await freePort();
  const child = spawn(process.execPath, [await bundle("alternatives/naive-status", ctx.scratch), mode, String(port), pod, SOCKET], { stdio: ["ignore", "pipe", "inherit"] });
  ctx.janitor.add(`naive ${mode} server ${child.pid}`, async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await new Promise((r) => child.once("close", r));
    }
  });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  await waitFor(`the naive ${mode} server`, () => out.includes("listening"), 10_000, 20);
  return `http://127.0.0.1:${port}/status`;
};

export const statusAndScrapes = async (ctx: BenchContext): Promise<SectionResult> => {
  const fixedS = ctx.quick ? 5 : 30;
  const maxS = ctx.quick ? 3 : 10;
  const naiveS = ctx.quick ? 3 : 10;
  const load0 = loadAverage();
  const t0 = Date.now();
  const run = await benchRun(ctx.janitor);
  const d = startDaemon(run.config, { env: { ...runEnv(run), ...unitEnvironment() }, nodeArgs: unitNodeFlags() });
  ctx.janitor.add(`daemon ${d.pid}`, () => d.kill());
  await d.waitForLog("the pod ready", logIs("pod ready"), { timeoutMs: 300_000 });
  await sleep(3_000);
  const base = `http://127.0.0.1:${run.httpPort}`;
  await fixedRate(`${base}/status`, RATE, 2); // warm-up (JIT, connections), not counted

  const daemon: Measured[] = [];
  for (const path of ["/status", "/metrics"]) {
    const fixed = await fixedRate(`${base}${path}`, RATE, fixedS);
    ctx.log(`${path} at ${RATE}/s: p50 ${ms(fixed.latency.p50)}, p99 ${ms(fixed.latency.p99)}, ${fixed.failed} failed`);
    const max = await maxThroughput(`${base}${path}`, maxS, 8);
    ctx.log(`${path} max: ${Math.round(max.rps)} req/s`);
    daemon.push({ label: `podwarden \`${path}\``, fixed, max });
  }
  // /status while a scraper reads /metrics: what Prometheus costs the people asking for /status.
  const scraper = scrapeEvery(`${base}/metrics`, SCRAPE_EVERY_MS);
  const scraped = await fixedRate(`${base}/status`, RATE, fixedS);
  const scrapes = await scraper.stop();
  ctx.log(`/status at ${RATE}/s while /metrics is scraped every ${SCRAPE_EVERY_MS} ms: p99 ${ms(scraped.latency.p99)}; scrapes p99 ${ms(scrapes.latency.p99)}`);
  // The control: node:http answering a constant body. Its tail is the machine's and the load generator's.
  const controlUrl = await naiveServer(ctx, "static", run.pod);
  await fixedRate(controlUrl, RATE, 2);
  const control: Measured = {
    label: "control: a bare node:http server, constant body, no work",
    fixed: await fixedRate(controlUrl, RATE, fixedS),
    max: await maxThroughput(controlUrl, maxS, 8),
  };
  ctx.log(`control at ${RATE}/s: p50 ${ms(control.fixed.latency.p50)}, p99 ${ms(control.fixed.latency.p99)}; max ${Math.round(control.max.rps)} req/s`);
  const naive: Measured[] = [];
  for (const mode of ["libpod", "ps"] as const) {
    const url = await naiveServer(ctx, mode, run.pod);
    await maxThroughput(url, 1, 2); // warm-up
    const max = await maxThroughput(url, naiveS, 4);
    // 1,000/s is far beyond what these sustain: measure them at half their maximum instead.
    const rate = max.rps >= RATE * 1.2 ? RATE : Math.max(5, Math.floor(max.rps / 2));
    const fixed = await fixedRate(url, rate, rate === RATE ? fixedS : naiveS);
    ctx.log(`naive ${mode}: max ${Math.round(max.rps)} req/s; at ${rate}/s p50 ${ms(fixed.latency.p50)}, p99 ${ms(fixed.latency.p99)}`);
    naive.push({ label: mode === "ps" ? "naive: `podman ps --format json` per request" : "naive: libpod `/containers/json` per request", fixed, max });
  }
  if (!d.alive) throw new Error(`the daemon exited during the load:\n${d.tail()}`);
  const failures = d.logs().filter((e) => e.msg === "container failed");
  const load1 = loadAverage();
  const [status, metrics] = daemon as [Measured, Measured];
  const fixedCells = (f: FixedRateResult): string =>
    `${f.rate} | ${ms(f.latency.p50)} | ${ms(f.latency.p90)} | ${ms(f.latency.p99)} | ${ms(f.latency.p999)} | ${ms(f.latency.max)} | ${ms(f.fromDue.p99)} | ${f.failed}`;
  const row = (m: Measured): string => `| ${m.label} | ${fixedCells(m.fixed)} | ${Math.round(m.max.rps)} (p99 ${ms(m.max.latency.p99)}) |`;
  const scrapedLabel = `podwarden \`/status\` while \`/metrics\` is scraped every ${SCRAPE_EVERY_MS / 1000} s`;
  const lines = [
    "## 4. Status and scrapes",
    "",
    `Measured ${new Date(t0).toISOString()}; load average ${load0} before, ${load1} after.`,
    "",
    `The pod ready under a daemon, which keeps supervising (probes, relists) throughout. Fixed rate: open loop, ${RATE}`,
    `requests/s for ${fixedS} s over up to 32 keep-alive connections, latency from sending to the end of the body`,
    "(\"from due\": from the moment the request was due, which also counts any wait for the client's timer or a free",
    `connection). Maximum: closed loop for ${maxS} s, 8 connections (4 for the naive servers, ${naiveS} s). The load generator`,
    "shares the 2 cores with the daemon (bench/lib/load.ts). The control row is a bare node:http server answering a",
    "constant body under the same load: what this machine and the generator allow. The naive servers cannot sustain",
    "1,000 requests/s, so their fixed-rate row is at half their maximum.",
    "",
    "| endpoint | req/s | p50 | p90 | p99 | p99.9 | max | p99 from due | failed | max throughput req/s |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...daemon.map(row),
    `| ${scrapedLabel} | ${fixedCells(scraped)} | – |`,
    ...[control, ...naive].map(row),
    "",
    `The scraper beside \`/status\`: one keep-alive connection, a GET of /metrics every ${SCRAPE_EVERY_MS} ms (never two at once), as Prometheus`,
    `does at a much shorter interval than its default 15 s: ${scrapes.ok} scrapes, p50 ${ms(scrapes.latency.p50)}, p99 ${ms(scrapes.latency.p99)}, ` +
      `max ${ms(scrapes.latency.max)}, ${scrapes.failed} failed.`,
    "",
    `Body sizes differ: /status is the full status document, /metrics the Prometheus exposition; the naive servers answer a`,
    `short list. ${failures.length === 0 ? "No container failed during the load." : `${failures.length} container failure(s) during the load.`}`,
  ];
  return {
    id: "http",
    lines,
    summary: [
      targetRow(
        "scrapes",
        `${ms(metrics.fixed.latency.p99)} (${ms(scraped.latency.p99)}); /metrics max ${Math.round(metrics.max.rps)} req/s`,
        metrics.fixed.latency.p99 <= 5 && scraped.latency.p99 <= 2,
      ),
      infoRow(`\`/status\` at ${RATE} req/s, nothing else asking`, `p50 ${ms(status.fixed.latency.p50)}, p99 ${ms(status.fixed.latency.p99)}; max ${Math.round(status.max.rps)} req/s`),
      infoRow(`control: a bare node:http server at ${RATE} req/s (same machine, same load generator)`, `p50 ${ms(control.fixed.latency.p50)}, p99 ${ms(control.fixed.latency.p99)}`),
      infoRow(
        "naive status per request (libpod / `podman ps`)",
        naive.map((m) => `max ${Math.round(m.max.rps)} req/s, p50 ${ms(m.fixed.latency.p50)} at ${m.fixed.rate}/s`).join("; "),
      ),
    ],
  };
};
