#!/usr/bin/env node
// The import graph of src/ runs one way (docs/architecture.md): each folder may import only
// folders of a lower layer (or itself), and no chain of imports leads back to where it began.
// `npm run lint` runs this; it prints every offending import and exits 1.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";

/** Lower index: lower layer. Top-level files (cli.ts) count as a folder of their own name. */
export const LAYERS = [
  ["domain", "lib"],
  ["runtime", "config", "render"],
  ["probes", "observability"],
  ["supervisor"],
  ["http", "jobs", "systemd"],
  ["doctor", "install"],
  ["daemon"],
  ["commands"],
  ["cli"],
  ["fast", "entry"],
];

const root = resolve(process.argv[2] ?? "src");
const rank = new Map(LAYERS.flatMap((names, i) => names.map((n) => [n, i])));
const IMPORT = /\b(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?["'](\.{1,2}\/[^"']+)["']|\bimport\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g;

const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith(".ts")) files.push(p);
  }
};
walk(root);

const unit = (file) => relative(root, file).split(sep)[0].replace(/\.ts$/, "");
const graph = new Map(
  files.map((f) => {
    const text = readFileSync(f, "utf8");
    const deps = [...text.matchAll(IMPORT)].map((m) => resolve(dirname(f), m[1] ?? m[2]).replace(/\.js$/, ".ts"));
    return [f, [...new Set(deps)]];
  }),
);

const problems = [];
for (const [f, deps] of graph) {
  const from = unit(f);
  if (!rank.has(from)) problems.push(`${relative(root, f)}: ${from}/ is in no layer (add it to LAYERS in .ci/check-imports.mjs)`);
  for (const d of deps) {
    const to = unit(d);
    if (to === from || !rank.has(from) || !rank.has(to)) continue;
    if (rank.get(to) >= rank.get(from)) {
      const how = rank.get(to) === rank.get(from) ? "sideways" : "upwards";
      problems.push(`${relative(root, f)} imports ${relative(root, d)}: ${from}/ may not import ${to}/ (${how})`);
    }
  }
}

// Cycles: strongly connected components of more than one file (Tarjan).
let next = 0;
const index = new Map(), low = new Map(), stack = [], onStack = new Set(), cycles = [];
const visit = (v) => {
  index.set(v, next);
  low.set(v, next++);
  stack.push(v);
  onStack.add(v);
  for (const w of graph.get(v) ?? []) {
    if (!graph.has(w)) continue;
    if (!index.has(w)) {
      visit(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
  }
  if (low.get(v) !== index.get(v)) return;
  const scc = [];
  let w;
  do {
    w = stack.pop();
    onStack.delete(w);
    scc.push(relative(root, w));
  } while (w !== v);
  if (scc.length > 1) cycles.push(scc.sort());
};
for (const f of graph.keys()) if (!index.has(f)) visit(f);
for (const c of cycles) problems.push(`import cycle of ${c.length} files: ${c.join(", ")}`);

if (problems.length > 0) {
  for (const p of problems) console.error(p);
  console.error(`check-imports: ${problems.length} problem(s) in ${files.length} files`);
  process.exit(1);
}
console.log(`check-imports: ${files.length} files, ${LAYERS.length} layers, no upward or sideways import, no cycle`);
