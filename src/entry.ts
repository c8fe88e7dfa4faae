#!/usr/bin/env node
// dist/cli.js: how podwarden is loaded, then its command line runs. The commands a service
// starts (run, up, down) each have a CommonJS bundle of their own, dist/fast/<command>.cjs,
// with V8's compiled code for it made by the build for this node and the unit's flags (and for
// none): loading that skips compiling the command's code at every start. Any other command, or
// one with no cache for this node and these flags, loads the ES modules (the CLI's chunk and
// those it imports), as a bundle without caches does. See scripts/bundle.ts.

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { FAST_COMMANDS, loadWithCache, processCacheKey } from "./lib/code-cache.js";

type Cli = typeof import("./cli.js");

// The command word must come first for its own bundle (as the unit and the docs write it).
const word = process.argv[2] ?? "";
const fast = (FAST_COMMANDS as readonly string[]).includes(word)
  ? (loadWithCache(join(dirname(fileURLToPath(import.meta.url)), "fast", `${word}.cjs`), processCacheKey(process)) as Cli | undefined)
  : undefined;
const cli: Cli = fast ?? (await import("./cli.js"));
cli.quietOnBrokenPipe();
process.exitCode = await cli.main(process.argv.slice(2));
