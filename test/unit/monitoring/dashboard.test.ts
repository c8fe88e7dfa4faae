// monitoring/grafana-dashboard.json: every query reads only series podwarden exports (taken
// from the metrics registry itself), series the shipped recording rules make, or `up`.

import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { exportedNames, metricNames } from "../../support/promql-names.js";

const DIR = fileURLToPath(new URL("../../../monitoring/", import.meta.url));

interface Panel {
  readonly title: string;
  readonly type: string;
  readonly targets?: readonly { readonly expr: string }[];
  readonly panels?: readonly Panel[];
}
interface Dashboard {
  readonly panels: readonly Panel[];
  readonly templating: { readonly list: readonly { readonly name: string; readonly query: unknown }[] };
}

const dashboard = async (): Promise<Dashboard> => JSON.parse(await readFile(`${DIR}grafana-dashboard.json`, "utf8")) as Dashboard;

/** The names that may appear: exported, recorded by the shipped rules, or Prometheus's own `up`. */
const known = async (): Promise<Set<string>> => {
  const rules = parse(await readFile(`${DIR}podwarden.rules.yml`, "utf8")) as { groups: { rules: { record?: string }[] }[] };
  const recorded = rules.groups.flatMap((g) => g.rules.flatMap((r) => (r.record ? [r.record] : [])));
  return new Set([...(await exportedNames()), ...recorded, "up"]);
};

/** Each query of the dashboard (panel targets, and the metric of label_values() variables), with where it is. */
const queries = (d: Dashboard): { where: string; expr: string }[] => {
  const out: { where: string; expr: string }[] = [];
  const walk = (ps: readonly Panel[]): void => {
    for (const p of ps) {
      for (const t of p.targets ?? []) out.push({ where: `panel "${p.title}"`, expr: t.expr });
      walk(p.panels ?? []);
    }
  };
  walk(d.panels);
  for (const v of d.templating.list) {
    const q = typeof v.query === "object" && v.query !== null ? (v.query as { query?: string }).query : undefined;
    const m = q === undefined ? null : /^label_values\(\s*(.+?)\s*,\s*\w+\s*\)$/.exec(q);
    if (m?.[1]) out.push({ where: `variable $${v.name}`, expr: m[1] });
  }
  return out;
};

const unknownNames = (qs: readonly { where: string; expr: string }[], names: ReadonlySet<string>): string[] =>
  qs.flatMap((q) => metricNames(q.expr).filter((n) => !names.has(n)).map((n) => `${q.where}: ${n}`));

describe("metricNames (PromQL)", () => {
  it("finds the metrics and leaves out functions, keywords, labels, ranges and Grafana variables", () => {
    expect(metricNames('histogram_quantile(0.95, sum by (le, instance) (rate(a_bucket{instance=~"$instance", x="b_c"}[$__rate_interval])))')).toEqual(["a_bucket"]);
    expect(metricNames("time() - (b > 0 or c_total offset 5m) and on (container) d:rec unless ignoring(x) e")).toEqual(["b", "c_total", "d:rec", "e"]);
    expect(metricNames("x * 1.25 + 1800 > bool inf")).toEqual(["x"]);
  });
});

describe("monitoring/grafana-dashboard.json", () => {
  it("queries only series podwarden exports, the rules record, or up", async () => {
    const qs = queries(await dashboard());
    expect(qs.length).toBeGreaterThan(20);
    expect(unknownNames(qs, await known())).toEqual([]);
  });

  it("the check fails on a misspelled metric (the names come from the metrics registry)", async () => {
    const names = await known();
    expect(names.has("podwarden_container_ready")).toBe(true);
    expect(names.has("podwarden_process_cpu_seconds_total")).toBe(true);
    expect(unknownNames([{ where: "p", expr: 'rate(podwarden_container_restart_total{instance="a"}[5m])' }], names)).toEqual(["p: podwarden_container_restart_total"]);
  });

  it("draws what issue 17 asks for: readiness over time, restarts, probe latency, backoff, backups, the daemon's CPU and memory", async () => {
    const exprs = queries(await dashboard()).map((q) => q.expr).join("\n");
    for (const m of [
      "podwarden_container_ready",
      "podwarden:container_restarts:increase15m",
      "podwarden_container_restarts_total",
      "podwarden:container_probe_duration_seconds:p95_5m",
      "podwarden_container_backoff_seconds",
      "podwarden:backup_last_success:age_seconds",
      "podwarden_process_cpu_seconds_total",
      "podwarden_process_resident_memory_bytes",
    ]) {
      expect(exprs).toContain(m);
    }
    const d = await dashboard();
    expect(d.panels.find((p) => p.title === "Container readiness")?.type).toBe("state-timeline");
  });
});
