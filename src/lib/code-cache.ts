// Loading a CommonJS bundle with V8's code cache for it: the compiled code is read from a file
// made at build time, instead of compiling the bundle at every start (about 1 MB of JS for
// `run`, some 40 ms). V8 takes a cache only from the same node, with the same V8 flags, for
// the same source; so the cache's file name carries those, and one that does not fit is not
// found (or refused by V8, and the bundle compiles as usual). Nothing here writes at run time.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { Script, constants } from "node:vm";

/** Commands with a CommonJS bundle and code caches of their own (dist/fast/<command>.cjs); src/entry.ts loads them. */
export const FAST_COMMANDS = ["run", "up", "down"] as const;

/** FNV-1a, 32 bits, hex: a short, stable name for node's version and flags. */
const fnv1a = (text: string): string => {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
};

/** What a code cache must have been made under: node's version, its command-line flags and NODE_OPTIONS. */
export const cacheKey = (version: string, execArgv: readonly string[], nodeOptions: string | undefined): string =>
  fnv1a([version, ...execArgv, nodeOptions ?? ""].join("\0"));

/** dist/fast/run.cjs -> dist/fast/run.<key>.v8cache */
export const cachePath = (bundle: string, key: string): string => `${bundle.replace(/\.cjs$/, "")}.${key}.v8cache`;

/** A process's key (`process`: this one's). */
export const processCacheKey = (p: Pick<NodeJS.Process, "version" | "execArgv" | "env">): string => cacheKey(p.version, p.execArgv, p.env.NODE_OPTIONS);

export interface Compiled {
  readonly script: Script;
  /** Runs the bundle's top level once; returns its exports. */
  run(): Record<string, unknown>;
}

/**
 * What the build puts around a bundle's code (scripts/bundle.ts): the bundle file is a function
 * expression, as Node's loader would wrap a CommonJS module, so that loading it compiles the
 * file's text as it is, with no copy of a megabyte made to wrap it.
 */
export const WRAPPER = { head: "(function (exports, require, module, __filename, __dirname) {", tail: "\n})" } as const;

/** Compiles a CommonJS bundle built with WRAPPER around it, with `cachedData` if given. */
export const compileBundle = (file: string, cachedData?: Buffer): Compiled => {
  const script = new Script(readFileSync(file, "latin1"), {
    filename: file,
    ...(cachedData ? { cachedData } : {}),
    importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  return {
    script,
    run: () => {
      const module = { exports: {} as Record<string, unknown> };
      (script.runInThisContext() as (...args: unknown[]) => void)(module.exports, createRequire(file), module, file, dirname(file));
      return module.exports;
    },
  };
};

/**
 * Compiled with its code cache, or undefined when there is none. The cache's megabyte is read
 * here and unreachable once this returns, so the first young-generation GC of the bundle's run
 * frees it (held through the run, it would live on in the old generation).
 */
const compileWithCache = (file: string, key: string): Compiled | undefined => {
  try {
    // A cache V8 refuses (a rebuilt node of the same version) only costs the compile it would have saved.
    return compileBundle(file, readFileSync(cachePath(file, key)));
  } catch {
    // No cache for this node and these flags, or a bundle that is missing or does not compile
    // (a copy cut short): the ES modules serve instead.
    return undefined;
  }
};

/** The bundle's exports, loaded with its code cache for this node and these flags; undefined when there is no such cache. */
export const loadWithCache = (file: string, key: string): Record<string, unknown> | undefined => compileWithCache(file, key)?.run();
