// bench/RESULTS.md: a summary table of every target, the machine, then one section per
// benchmark. Each section sits between markers and carries its summary rows as JSON, so
// that running one section again (--only) replaces it and rebuilds the summary from all.

import { readFile, writeFile } from "node:fs/promises";

export const SECTION_IDS = ["cold", "recovery", "watch", "http", "start"] as const;
export type SectionId = (typeof SECTION_IDS)[number];

export interface SummaryRow {
  readonly figure: string;
  readonly value: string;
  readonly target: string;
  /** undefined: no target for this figure. */
  readonly met: boolean | undefined;
}

/**
 * The targets of issue 14, in its table's order and words: the summary's first table is exactly
 * these rows. Sections name a row by its key (`targetRow`); figures without a target follow in a
 * second table.
 */
export const TARGETS = {
  watchCpu: { figure: "daemon CPU while watching (native probes, default intervals)", target: "≤ 0.1 % of a core" },
  peakRss: { figure: "daemon peak RSS (VmHWM, start-up included)", target: "≤ 64 MiB" },
  startListening: { figure: "daemon start → HTTP listening (median)", target: "≤ 200 ms" },
  perProbe: { figure: "host CPU per probe above the no-probe baseline, exec ÷ native", target: "≥ 20×" },
  detection: { figure: "detection p99, kill -9 → the daemon has the exit", target: "≤ 100 ms" },
  scrapes: { figure: "`/metrics` p99 at 1,000 req/s (and `/status` p99 while `/metrics` is scraped)", target: "≤ 5 ms (≤ 2 ms)" },
  cold: { figure: "cold start to all-ready ÷ the floor", target: "≤ 1.10×, and faster than the gated seed script" },
  recoveryOpencode: { figure: "kill -9 → ready again, OpenCode", target: "≤ own start + 300 ms" },
} as const;
export type TargetKey = keyof typeof TARGETS;

export const targetRow = (key: TargetKey, value: string, met: boolean): SummaryRow => ({ ...TARGETS[key], value, met });

/** A figure reported beside the targets, without one of its own. */
export const infoRow = (figure: string, value: string): SummaryRow => ({ figure, value, target: "", met: undefined });

const TARGET_ORDER: readonly string[] = Object.values(TARGETS).map((t) => t.figure);

/** The targets' rows in the issue's order (a missing one says so), then every other figure. */
const ordered = (rows: readonly SummaryRow[]): { targets: SummaryRow[]; others: SummaryRow[] } => ({
  targets: Object.values(TARGETS).map(
    (t) => rows.find((r) => r.figure === t.figure && r.target === t.target) ?? { ...t, value: "not measured in this file", met: undefined },
  ),
  others: rows.filter((r) => !TARGET_ORDER.includes(r.figure) || r.target === ""),
});

export interface SectionResult {
  readonly id: SectionId;
  readonly lines: readonly string[];
  readonly summary: readonly SummaryRow[];
}

const begin = (id: string): string => `<!-- bench:begin ${id} -->`;
const end = (id: string): string => `<!-- bench:end ${id} -->`;
const SUMMARY_TAG = "<!-- bench:summary ";

const renderSection = (s: SectionResult): string =>
  [begin(s.id), ...s.lines, "", `${SUMMARY_TAG}${JSON.stringify(s.summary).replace(/--/g, "\\u002d\\u002d")} -->`, end(s.id)].join("\n");

/** The sections found in an earlier RESULTS.md (by their markers). */
const existingSections = (text: string): Map<SectionId, { text: string; summary: SummaryRow[] }> => {
  const found = new Map<SectionId, { text: string; summary: SummaryRow[] }>();
  for (const id of SECTION_IDS) {
    const a = text.indexOf(begin(id));
    const b = text.indexOf(end(id));
    if (a < 0 || b < a) continue;
    const body = text.slice(a, b + end(id).length);
    const tag = body.indexOf(SUMMARY_TAG);
    let summary: SummaryRow[] = [];
    if (tag >= 0) {
      const json = body.slice(tag + SUMMARY_TAG.length, body.indexOf(" -->", tag));
      try {
        summary = JSON.parse(json) as SummaryRow[];
      } catch {
        summary = [];
      }
    }
    found.set(id, { text: body, summary });
  }
  return found;
};

const mark = (met: boolean | undefined): string => (met === undefined ? "" : met ? "met" : "**missed**");

/** The targets (issue 14's table), then the other figures. */
export const summaryTable = (rows: readonly SummaryRow[]): string[] => {
  const { targets, others } = ordered(rows);
  return [
    "| figure | measured | target | |",
    "| --- | --- | --- | --- |",
    ...targets.map((r) => `| ${r.figure} | ${r.value} | ${r.target} | ${mark(r.met)} |`),
    ...(others.length === 0
      ? []
      : ["", "Beside them (no target):", "", "| figure | measured |", "| --- | --- |", ...others.map((r) => `| ${r.figure} | ${r.value} |`)]),
  ];
};

export interface WriteOptions {
  readonly file: string;
  readonly header: readonly string[];
  readonly sections: readonly SectionResult[];
}

/** Writes the results file; sections not in `sections` are kept from the file as it was. */
export const writeResults = async (opts: WriteOptions): Promise<SummaryRow[]> => {
  const old = existingSections(await readFile(opts.file, "utf8").catch(() => ""));
  const fresh = new Map(opts.sections.map((s) => [s.id, s]));
  const bodies: string[] = [];
  const rows: SummaryRow[] = [];
  for (const id of SECTION_IDS) {
    const s = fresh.get(id);
    if (s) {
      bodies.push(renderSection(s));
      rows.push(...s.summary);
    } else {
      const o = old.get(id);
      if (!o) continue;
      bodies.push(o.text);
      rows.push(...o.summary);
    }
  }
  const text = [
    "# Benchmark results",
    "",
    "Figures, not pass/fail (DESIGN.md §5): `npm run bench` measures them on real Podman and rewrites",
    "this file. The machine is shared with other work, so every comparison is made within one run,",
    "alternatives interleaved, and medians are reported; each section gives the load average around it.",
    "",
    "## Summary",
    "",
    ...summaryTable(rows),
    "",
    ...opts.header,
    "",
    bodies.join("\n\n"),
  ].join("\n");
  await writeFile(opts.file, `${text.trimEnd()}\n`);
  return rows;
};
