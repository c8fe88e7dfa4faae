// The metric names a PromQL expression reads (not functions, keywords, labels or Grafana
// variables), and the names podwarden's /metrics exposes: what the monitoring tests check
// the rules and the dashboard against.

import { Metrics } from "../../src/observability/metrics.js";

const KEYWORDS = new Set(["and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "inf", "nan"]);

export const metricNames = (expr: string): string[] => {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ")
    .replace(/\$\{?\w+\}?/g, " ");
  const names = new Set<string>();
  for (const m of bare.matchAll(/(?<![\w:.])([A-Za-z_:][\w:]*)(\s*\()?/g)) {
    const [, word, call] = m;
    if (!word || call || KEYWORDS.has(word.toLowerCase())) continue;
    names.add(word);
  }
  return [...names];
};

/** Every series name in podwarden's exposition (histograms as _bucket, _sum and _count). */
export const exportedNames = async (): Promise<Set<string>> => {
  const m = new Metrics({ version: "test", containers: ["valkey"], persisted: ["valkey"] });
  await m.refresh();
  const text = m.text();
  return new Set(text.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => /^[A-Za-z_:][\w:]*/.exec(l)?.[0] ?? ""));
};
