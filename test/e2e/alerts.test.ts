// Issue 17 on real Podman: a real Prometheus scrapes the daemon and evaluates the shipped
// rules while the pod's datadog container crash-loops (its command exits 1 at once), and the
// crash-loop alert goes pending, then firing, for datadog only.
//
// The rule file Prometheus loads is monitoring/podwarden.rules.yml with two changes for time's
// sake, both checked below: the crash-loop window is 1 minute instead of 15, and the alert's
// `for:` is 10 s instead of 5 minutes; scrapes and evaluations run every second.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO, cleanupRun, createRun, ensureImages, freePort, spawnCli, waitFor, type E2eRun } from "../support/podman-harness.js";

const ALERT = "PodwardenContainerCrashLooping";
const SHIPPED = { window: "increase(podwarden_container_restarts_total[15m])", for: `alert: ${ALERT}\n        expr: podwarden:container_restarts:increase15m >= 3\n        for: 5m` };
const FAST = { window: "increase(podwarden_container_restarts_total[1m])", for: `alert: ${ALERT}\n        expr: podwarden:container_restarts:increase15m >= 3\n        for: 10s` };

interface PromAlert {
  readonly labels: Record<string, string>;
  readonly state: "pending" | "firing" | "inactive";
  readonly activeAt: string;
}

let run: E2eRun;
let daemon: ReturnType<typeof spawnCli>;
let prom: ChildProcess;
let promBase: string;
let daemonBase: string;
const seen: { loopStart?: number; pending?: number; firing?: number; states: string[]; others: string[] } = { states: [], others: [] };

/** Polls the daemon's /metrics and Prometheus's alerts, noting when each thing was first seen. */
const watch = async (stop: AbortSignal): Promise<void> => {
  while (!stop.aborted) {
    const now = Date.now();
    if (seen.loopStart === undefined) {
      const text = await fetch(`${daemonBase}/metrics`).then((r) => r.text(), () => "");
      const restarts = [...text.matchAll(/^podwarden_container_restarts_total\{container="datadog",reason="[^"]+"\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
      if (restarts > 0) seen.loopStart = now;
    }
    const body = await fetch(`${promBase}/api/v1/alerts`).then((r) => (r.ok ? (r.json() as Promise<{ data: { alerts: PromAlert[] } }>) : undefined), () => undefined);
    for (const a of body?.data.alerts ?? []) {
      if (a.labels.alertname !== ALERT) continue;
      if (a.labels.container !== "datadog") {
        seen.others.push(`${a.labels.container} ${a.state}`);
        continue;
      }
      if (seen.states.at(-1) !== a.state) seen.states.push(a.state);
      if (a.state === "pending") seen.pending ??= now;
      if (a.state === "firing") seen.firing ??= now;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
};

const stopWatching = new AbortController();
let watching: Promise<void>;

beforeAll(async () => {
  const httpPort = await freePort();
  run = await createRun({
    extraYaml: [
      "http:",
      `  port: ${httpPort}`,
      "defaults:",
      "  restart: { initialDelay: 1s, maxDelay: 2s }",
      "containers:",
      "  datadog:",
      // The stand-in's image has an ENTRYPOINT: replace it.
      '    entrypoint: [sh, -c, "echo podwarden alert e2e: exiting; exit 1"]',
    ].join("\n"),
  });
  await ensureImages(run.config);
  daemonBase = `http://127.0.0.1:${httpPort}`;

  const shipped = await readFile(join(REPO, "monitoring/podwarden.rules.yml"), "utf8");
  expect(shipped).toContain(SHIPPED.window);
  expect(shipped).toContain(SHIPPED.for);
  const fast = shipped.replace(SHIPPED.window, FAST.window).replace(SHIPPED.for, FAST.for);
  const promDir = join(run.dir, "prometheus");
  await mkdir(promDir, { recursive: true });
  await writeFile(join(promDir, "podwarden.rules.yml"), fast);
  await writeFile(
    join(promDir, "prometheus.yml"),
    [
      "global:",
      "  scrape_interval: 1s",
      "  evaluation_interval: 1s",
      "rule_files:",
      `  - ${join(promDir, "podwarden.rules.yml")}`,
      "scrape_configs:",
      "  - job_name: podwarden",
      "    static_configs:",
      `      - targets: ["127.0.0.1:${httpPort}"]`,
    ].join("\n"),
  );
  const promPort = await freePort();
  promBase = `http://127.0.0.1:${promPort}`;
  prom = spawn(
    "prometheus",
    [`--config.file=${join(promDir, "prometheus.yml")}`, `--storage.tsdb.path=${join(promDir, "data")}`, `--web.listen-address=127.0.0.1:${promPort}`],
    { stdio: "ignore" },
  );
  await waitFor("Prometheus to answer", () => fetch(`${promBase}/-/ready`).then((r) => r.ok || undefined, () => undefined), 60_000, 250);

  daemon = spawnCli(["run", "-c", run.config], { env: { RUNTIME_DIRECTORY: run.runtimeDir } });
  watching = watch(stopWatching.signal);
}, 900_000);

afterAll(async () => {
  stopWatching.abort();
  await watching?.catch(() => undefined);
  prom?.kill("SIGTERM");
  if (daemon?.child.exitCode === null) {
    daemon.child.kill("SIGTERM");
    await daemon.exited;
  }
  if (run) await cleanupRun(run);
});

describe("alerts from the shipped rules, on a real Prometheus", () => {
  it("the crash-loop alert for datadog goes pending, then firing", async () => {
    await waitFor("the crash-loop alert to fire", () => seen.firing, 300_000, 200);
    expect(seen.loopStart).toBeDefined();
    expect(seen.pending).toBeDefined();
    expect(seen.states.slice(0, 2)).toEqual(["pending", "firing"]);
    expect(seen.pending!).toBeLessThanOrEqual(seen.firing!);
    const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
    console.log(
      `crash loop (first datadog restart seen in /metrics) -> pending ${s(seen.pending! - seen.loopStart!)}, -> firing ${s(seen.firing! - seen.loopStart!)} ` +
        `(1 s scrapes and evaluations, window 1m, for: 10s)`,
    );
  }, 320_000);

  it("only datadog crash-loops: no crash-loop alert for the other containers, and the daemon is scraped (PodwardenDown quiet)", async () => {
    expect(seen.others).toEqual([]);
    const body = (await (await fetch(`${promBase}/api/v1/alerts`)).json()) as { data: { alerts: PromAlert[] } };
    const names = body.data.alerts.map((a) => `${a.labels.alertname}${a.labels.container ? `/${a.labels.container}` : ""}`);
    expect(names).toContain(`${ALERT}/datadog`);
    expect(names.filter((n) => n.startsWith("PodwardenDown") || n.startsWith("PodwardenPodmanUnreachable") || n.startsWith("PodwardenReconcileStalled"))).toEqual([]);
    const up = (await (await fetch(`${promBase}/api/v1/query?query=${encodeURIComponent('up{job="podwarden"}')}`)).json()) as { data: { result: { value: [number, string] }[] } };
    expect(up.data.result.map((r) => r.value[1])).toEqual(["1"]);
  });

  it("the recording rule the alert reads counts datadog's restarts, summed over reasons", async () => {
    const q = encodeURIComponent('podwarden:container_restarts:increase15m{container="datadog"}');
    const body = (await (await fetch(`${promBase}/api/v1/query?query=${q}`)).json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    expect(body.data.result).toHaveLength(1);
    expect(body.data.result[0]!.metric.reason).toBeUndefined();
    expect(Number(body.data.result[0]!.value[1])).toBeGreaterThanOrEqual(3);
  });
});
