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
