// Run by the build (scripts/bundle.ts), bundled, under the node flags the cache is for:
//   node [flags] make-code-cache.mjs dist/fast/run.cjs ...
// Compiles each bundle exactly as src/entry.ts loads it, runs its top level once (every module
// of the command evaluated, so their code is compiled) and writes V8's code cache beside it.

import { writeFileSync } from "node:fs";
import { cachePath, compileBundle, processCacheKey } from "../src/lib/code-cache.js";

for (const file of process.argv.slice(2)) {
  const { script, run } = compileBundle(file);
  run();
  writeFileSync(cachePath(file, processCacheKey(process)), script.createCachedData());
}
// A module's top level may have left a timer or a handle: the caches are written, nothing else is to be done.
process.exit(0);
