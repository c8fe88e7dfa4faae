// A V8 CPU profile (node --cpu-prof) summarised: self time by function, by module and by
// package, over a window of the profile. Functions in a file with a source map (the tsc
// output, or an esbuild bundle) are put back in their original file, so that a bundle's
// time still splits into podwarden's modules and the npm packages it carries.

import { existsSync, readFileSync } from "node:fs";
import { readFile, readdir } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  /** 0-based. */
  readonly lineNumber: number;
  readonly columnNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
}

export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  /** µs on the monotonic clock (the one process.hrtime reads). */
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export const readProfile = async (file: string): Promise<CpuProfile> => JSON.parse(await readFile(file, "utf8")) as CpuProfile;

// ---- source maps (version 3, "mappings" only) ---------------------------------------------------

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_VALUE = new Map([...B64].map((c, i) => [c, i]));

/** Per generated line: [generated column, source index, source line, source column] segments, sorted. */
type Segments = number[][];

const decodeMappings = (mappings: string): Segments[] => {
  const lines: Segments[] = [];
  const state = [0, 0, 0, 0];
  for (const line of mappings.split(";")) {
    state[0] = 0;
    const segs: Segments = [];
    for (const seg of line.split(",")) {
      if (!seg) continue;
      const fields: number[] = [];
      let value = 0;
      let shift = 0;
      for (const ch of seg) {
        const digit = B64_VALUE.get(ch) ?? 0;
        value += (digit & 31) << shift;
        if (digit & 32) shift += 5;
        else {
          fields.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      for (let i = 0; i < fields.length && i < 4; i++) state[i]! += fields[i]!;
      if (fields.length >= 4) segs.push([...state]);
    }
    lines.push(segs);
  }
  return lines;
};

interface SourceMap {
  readonly sources: readonly string[];
  readonly lines: readonly Segments[];
}

const maps = new Map<string, SourceMap | undefined>();

const sourceMapOf = (file: string): SourceMap | undefined => {
  if (maps.has(file)) return maps.get(file);
  let map: SourceMap | undefined;
  const mapFile = `${file}.map`;
  if (existsSync(mapFile)) {
    const raw = JSON.parse(readFileSync(mapFile, "utf8")) as { sources: string[]; sourceRoot?: string; mappings: string };
    const base = resolve(dirname(file), raw.sourceRoot ?? "");
    map = { sources: raw.sources.map((s) => resolve(base, s)), lines: decodeMappings(raw.mappings) };
  }
  maps.set(file, map);
  return map;
};

/** The original file of a generated position, if the file has a source map. */
const originalFile = (file: string, line: number, column: number): string | undefined => {
  const map = sourceMapOf(file);
  const segs = map?.lines[line];
  if (!map || !segs || segs.length === 0) return undefined;
  let best = segs[0]!;
  for (const s of segs) {
    if (s[0]! > column) break;
    best = s;
  }
  return map.sources[best[1]!];
};

// ---- attribution ---------------------------------------------------------------------------------

export interface Place {
  /** What the function is called ("(anonymous)" when it has no name), with file:line. */
  readonly fn: string;
  /** The file (relative to the repository) or a node: module, or a V8 pseudo-entry like "(garbage collector)". */
  readonly module: string;
  /** An npm package, "podwarden", "node (built-in)", or the V8 pseudo-entry. */
  readonly pkg: string;
}

const packageOf = (path: string): string | undefined => {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  return m?.[1];
};

export const placeOf = (frame: CallFrame, repo: string): Place => {
  const name = frame.functionName || "(anonymous)";
  // V8's pseudo-entries ("(garbage collector)", "(program)") and native functions have no file.
  if (!frame.url) return name.startsWith("(") ? { fn: name, module: name, pkg: name } : { fn: `${name} (native)`, module: "(native code)", pkg: "(native code)" };
  if (frame.url.startsWith("node:")) return { fn: `${name} ${frame.url}`, module: frame.url, pkg: "node (built-in)" };
  const generated = frame.url.startsWith("file:") ? fileURLToPath(frame.url) : frame.url;
  const file = originalFile(generated, frame.lineNumber, frame.columnNumber) ?? generated;
  const rel = relative(repo, file);
  const pkg = packageOf(rel) ?? (rel.startsWith("..") ? "(outside the repository)" : "podwarden");
  const module = pkg === "podwarden" ? rel : rel.slice(rel.lastIndexOf("node_modules/") + "node_modules/".length);
  return { fn: `${name} ${module}${file === generated ? `:${frame.lineNumber + 1}` : ""}`, module, pkg };
};

export interface ProfileSummary {
  /** µs covered by the samples in the window. */
  readonly totalUs: number;
  /** µs not idle (running JavaScript, V8, GC). */
  readonly busyUs: number;
  readonly samples: number;
  readonly byFunction: readonly [string, number][];
  readonly byModule: readonly [string, number][];
  readonly byPackage: readonly [string, number][];
}

const ranked = (m: Map<string, number>): [string, number][] => [...m].sort((a, b) => b[1] - a[1]);

/** Self time over [fromUs, toUs] (the profile's clock; whole profile when omitted), idle left out of the rankings. */
export const summarise = (p: CpuProfile, repo: string, fromUs = -Infinity, toUs = Infinity): ProfileSummary => {
  const frames = new Map(p.nodes.map((n) => [n.id, n.callFrame]));
  const places = new Map<number, Place>();
  const byFunction = new Map<string, number>();
  const byModule = new Map<string, number>();
  const byPackage = new Map<string, number>();
  let t = p.startTime;
  let totalUs = 0;
  let busyUs = 0;
  let samples = 0;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    if (t < fromUs || t > toUs) continue;
    // A sample stands for the time until the next one.
    const dt = Math.max(0, p.timeDeltas[i + 1] ?? 0);
    const id = p.samples[i]!;
    const frame = frames.get(id)!;
    totalUs += dt;
    samples++;
    if (frame.functionName === "(idle)" && !frame.url) continue;
    busyUs += dt;
    let place = places.get(id);
    if (!place) {
      place = placeOf(frame, repo);
      places.set(id, place);
    }
    byFunction.set(place.fn, (byFunction.get(place.fn) ?? 0) + dt);
    byModule.set(place.module, (byModule.get(place.module) ?? 0) + dt);
    byPackage.set(place.pkg, (byPackage.get(place.pkg) ?? 0) + dt);
  }
  return { totalUs, busyUs, samples, byFunction: ranked(byFunction), byModule: ranked(byModule), byPackage: ranked(byPackage) };
};

/** The .cpuprofile file node wrote into `dir` (one process, one file). */
export const profileIn = async (dir: string): Promise<string> => {
  const files = (await readdir(dir)).filter((f) => f.endsWith(".cpuprofile"));
  if (files.length !== 1) throw new Error(`expected one .cpuprofile in ${dir}, found ${files.length}`);
  return join(dir, files[0]!);
};
