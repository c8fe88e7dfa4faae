import { describe, expect, it } from "vitest";
import { Metrics, RENDER_REUSE_MS } from "../../../src/observability/metrics.js";

const cpuLine = (text: string): string | undefined => /^podwarden_process_cpu_user_seconds_total .*$/m.exec(text)?.[0];

describe("Metrics exposition reuse", () => {
  it("shows every change of podwarden's own series in the very next scrape", async () => {
    let now = 0;
    const m = new Metrics({ version: "1", containers: ["valkey"], now: () => now });
    await m.text();
    m.onApiCall("container.list", 12, true);
    expect(await m.text()).toContain('podwarden_podman_api_requests_total{operation="container.list"} 1');
    now += 1;
    m.onEvent({ kind: "probe", at: 0, container: "valkey", ok: false, ms: 3 });
    expect(await m.text()).toContain('podwarden_container_probe_failures_total{container="valkey"} 1');
    now += 1;
    m.onPass(5, true, 1_000_000);
    expect(await m.text()).toContain("podwarden_reconcile_runs_total 1");
  });

  it("answers a scrape with nothing new from the last text, for at most RENDER_REUSE_MS", async () => {
    let now = 0;
    const m = new Metrics({ version: "1", containers: ["valkey"], now: () => now });
    const first = await m.text();
    // Burn CPU so that the process gauges would read differently if rendered again.
    const until = performance.now() + 30;
    while (performance.now() < until);
    now = RENDER_REUSE_MS - 1;
    expect(await m.text()).toBe(first);
    now = RENDER_REUSE_MS;
    expect(cpuLine(await m.text())).not.toBe(cpuLine(first));
  });
});

describe("persisted filesystem gauges", () => {
  it("exist from the start for the containers with persisted directories (free and size NaN until sampled, full 0), and for no other", async () => {
    const m = new Metrics({ version: "1", containers: ["valkey", "datadog"], persisted: ["valkey"] });
    const text = await m.text();
    expect(text).toContain("# TYPE podwarden_persist_free_bytes gauge");
    // prom-client writes NaN as "Nan", which Prometheus and promtool read as NaN (case-insensitive).
    expect(text).toMatch(/^podwarden_persist_free_bytes\{container="valkey"\} nan$/im);
    expect(text).toMatch(/^podwarden_persist_size_bytes\{container="valkey"\} nan$/im);
    expect(text).toContain('podwarden_persist_full{container="valkey"} 0');
    expect(text).not.toMatch(/^podwarden_persist_\w+\{container="datadog"\}/m);
  });

  it("a reload that adds a persisted directory adds its series", async () => {
    const m = new Metrics({ version: "1", containers: ["valkey"], persisted: [] });
    expect(await m.text()).not.toContain('podwarden_persist_full{container="valkey"}');
    m.setContainers(["valkey"], ["valkey"]);
    expect(await m.text()).toContain('podwarden_persist_full{container="valkey"} 0');
  });
});

describe("series the shipped alert rules compare against (monitoring/)", () => {
  it("container_start_period_seconds from the spec, and after a reload the new values", async () => {
    const m = new Metrics({ version: "1", containers: ["valkey", "datadog"], startPeriodsS: { valkey: 30 } });
    let text = await m.text();
    expect(text).toContain('podwarden_container_start_period_seconds{container="valkey"} 30');
    expect(text).toContain('podwarden_container_start_period_seconds{container="datadog"} 0');
    m.setContainers(["valkey", "datadog"], [], { valkey: 45, datadog: 5 });
    text = await m.text();
    expect(text).toContain('podwarden_container_start_period_seconds{container="valkey"} 45');
    expect(text).toContain('podwarden_container_start_period_seconds{container="datadog"} 5');
  });

  it("backup_interval_seconds is the given gap, 0 when backups are not scheduled", async () => {
    expect(await new Metrics({ version: "1", containers: [], backupIntervalS: 86_400 }).text()).toMatch(/^podwarden_backup_interval_seconds 86400$/m);
    expect(await new Metrics({ version: "1", containers: [] }).text()).toMatch(/^podwarden_backup_interval_seconds 0$/m);
  });

  it("container_not_ready_since_timestamp_seconds: when a scrape first saw it not ready, kept while it stays so, 0 once ready", async () => {
    let wall = 1_000_000;
    const m = new Metrics({ version: "1", containers: ["valkey"], wallNow: () => wall });
    const snap = (ready: boolean, state: "starting" | "ready" | "backing-off") =>
      ({
        podman: { reachable: true, events: true },
        pod: { exists: true, state: "Running", containersReady: ready ? 1 : 0, containersTotal: 1 },
        containers: { valkey: { state, health: ready ? "healthy" : "starting", ready, lastExitCode: null, running: true, startedAt: null, backoffSeconds: 0, id: "x", image: "i", imageId: "y", disk: null } },
      }) as unknown as Parameters<Metrics["update"]>[0];
    const since = async (): Promise<string | undefined> => /^podwarden_container_not_ready_since_timestamp_seconds\{container="valkey"\} (\S+)$/m.exec(await m.text())?.[1];
    m.update(snap(false, "starting"));
    expect(await since()).toBe("1000");
    wall += 60_000;
    m.update(snap(false, "backing-off"));
    expect(await since()).toBe("1000");
    m.update(snap(true, "ready"));
    expect(await since()).toBe("0");
    wall += 60_000;
    m.update(snap(false, "backing-off"));
    expect(await since()).toBe("1120");
  });
});
