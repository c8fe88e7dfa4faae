// Outliers explained: a run much slower than its siblings keeps its daemon log (JSON lines,
// debug level) in a directory that outlives the benchmark, and the report says where the time
// went: the longest silences in the log, each with the line before and after it, and what the
// external observer saw meanwhile.

import { mkdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { median } from "./stats.js";

/** Kept after the run (the scratch directory is not). */
export const KEPT_LOGS = join(tmpdir(), "podwarden-bench-logs");

/** A run is an outlier when it took this many times the median of its way, and at least OUTLIER_MIN_MS more. */
const OUTLIER_FACTOR = 1.5;
const OUTLIER_MIN_MS = 2_000;

export const isOutlier = (ms: number, all: readonly number[]): boolean => {
  const m = median(all);
  return ms > OUTLIER_FACTOR * m && ms - m >= OUTLIER_MIN_MS;
};

interface LogLine {
  readonly time: number;
  readonly text: string;
}

/** pino's own fields, and those already in the text. */
const QUIET_FIELDS: ReadonlySet<string> = new Set(["time", "msg", "level", "pid", "hostname", "name", "v", "component"]);

/** pino JSON lines -> time + a short text (message, container, a few fields). */
const parse = (log: string): LogLine[] =>
  log.split("\n").flatMap((raw) => {
    if (!raw.startsWith("{")) return [];
    try {
      const j = JSON.parse(raw) as Record<string, unknown>;
      if (typeof j.time !== "number") return [];
      const { time, msg } = j;
      const fields = Object.entries(j)
        .filter(([k]) => !QUIET_FIELDS.has(k))
        .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
        .join(" ")
        .slice(0, 160);
      return [{ time, text: `${String(msg)}${fields ? ` (${fields})` : ""}` }];
    } catch {
      return [];
    }
  });

export interface Gap {
  /** ms after spawn at which the silence began. */
  readonly fromMs: number;
  readonly ms: number;
  readonly before: string;
  readonly after: string;
}

/** The `n` longest silences between consecutive log lines (spawn and exit count as lines). */
export const longestGaps = (log: string, spawnAt: number, exitAt: number, n = 3): Gap[] => {
  const lines = [{ time: spawnAt, text: "(spawned)" }, ...parse(log), { time: exitAt, text: "(exited)" }];
  const gaps: Gap[] = [];
  for (let i = 1; i < lines.length; i++) {
    const a = lines[i - 1]!;
    const b = lines[i]!;
    gaps.push({ fromMs: a.time - spawnAt, ms: b.time - a.time, before: a.text, after: b.text });
  }
  return gaps.sort((x, y) => y.ms - x.ms).slice(0, n);
};

/** Writes the log where it survives the run; returns the path. */
export const keepFile = async (name: string, text: string): Promise<string> => {
  await mkdir(KEPT_LOGS, { recursive: true });
  const file = join(KEPT_LOGS, name);
  await writeFile(file, text);
  return file;
};

const oneLine = (s: string): string => s.replace(/\|/g, "\\|").replace(/\s+/g, " ");

/** Markdown lines describing where an outlier's time went. */
export const gapLines = (gaps: readonly Gap[]): string[] =>
  gaps.map((g) => `  - ${(g.ms / 1000).toFixed(2)} s of silence from ${(g.fromMs / 1000).toFixed(2)} s: after "${oneLine(g.before)}", before "${oneLine(g.after)}"`);
