// The product: podwarden bundled by esbuild into dist/ (`npm run build`). dist/cli.js is the
// entry the unit, the install and the tests run; every command is a chunk of its own, loaded
// when that command runs (the dynamic imports of src/commands/index.ts are split points), so
// `run` loads the daemon's code and nothing of render, install or the CLI-only commands.
// dist/daemon.js (the daemon: src/daemon/run-daemon.ts and the composition root it builds on) is an entry too, for whoever imports the daemon's code.
//
// Left out: what dockerode and docker-modem load at require time for features podwarden never
// uses (the ssh:// transport with ssh2 and its native cpu-features, BuildKit sessions with
// grpc-js and protobufjs), and fastify's default schema compilers (ajv, fast-json-stringify),
// which podwarden's servers replace. Those requires are replaced here with a module that throws if ever
// called, so the packages are neither in the bundle nor loaded. Deferred: a require that only an
// optional feature uses (prom-client's exemplars) becomes a lazy one, loaded on first use.
// External: unix-dgram, a native addon, resolved from node_modules at run time (sd-notify.ts).
//
// Every chunk is in dist/chunks/, two levels below the package root as dist/commands/ was in
// tsc's layout: code that finds the package's files from import.meta.url (config/) relies on
// that depth (test/integration/bundle.test.ts runs render and the daemon).
//
// The commands a service starts (run, up, down) also get a CommonJS bundle each, in dist/fast/
// (two levels down too), holding only that command's code, and V8's code cache for it, made by
// running each bundle's top level under this node with no flags and with the unit's flags:
// dist/cli.js (src/entry.ts) loads one with its cache when node and flags match, which skips
// compiling about 1 MB of JS at every start (run: start -> listening ~195 -> ~143 ms). A cache
// is only read at run time, never written; one that does not fit is not found or refused by V8.

import { build, type BuildOptions, type Metafile, type Plugin } from "esbuild";
import { spawnSync } from "node:child_process";
import { rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { FAST_COMMANDS, WRAPPER } from "../src/lib/code-cache.js";
import { unitNodeFlags } from "./unit-flags.js";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..");

/** A require in a dependency that bundle time rewrites: `from` (the requiring file's path ends so), `request` as written. */
export interface Rewrite {
  readonly from: string;
  readonly request: string;
  /** What podwarden never does that this require serves (the error message, if it is ever reached). */
  readonly feature: string;
}

/** Left out entirely: replaced by a module that throws naming the feature. */
export const LEFT_OUT: readonly Rewrite[] = [
  { from: "node_modules/docker-modem/lib/modem.js", request: "./ssh", feature: "the ssh:// Docker transport (ssh2, cpu-features)" },
  { from: "node_modules/dockerode/lib/docker.js", request: "./session", feature: "BuildKit sessions (version 2 builds: @grpc/grpc-js, @grpc/proto-loader, protobufjs)" },
  { from: "node_modules/dockerode/lib/docker.js", request: "./buildkit", feature: "BuildKit progress decoding (followProgress: protobufjs)" },
  // Both servers bring their own schema compilers (src/http/compilers.ts); fastify loads its defaults only without them.
  { from: "node_modules/fastify/lib/schema-controller.js", request: "@fastify/ajv-compiler", feature: "fastify's default validator compiler (ajv)" },
  { from: "node_modules/fastify/lib/schema-controller.js", request: "@fastify/fast-json-stringify-compiler", feature: "fastify's default serializer compiler (fast-json-stringify)" },
];

/** Bundled, but loaded on first use instead of at start-up. */
export const LAZY: readonly Omit<Rewrite, "feature">[] = [
  // Only read for exemplars, which podwarden does not enable; 51 files of OpenTelemetry's API.
  { from: "node_modules/prom-client/lib/metrics/processCpuTotal.js", request: "@opentelemetry/api" },
  // prom-client's default metrics, push gateway (https, zlib) and cluster aggregation: podwarden uses none of them.
  { from: "node_modules/prom-client/index.js", request: "./lib/defaultMetrics" },
  { from: "node_modules/prom-client/index.js", request: "./lib/pushgateway" },
  { from: "node_modules/prom-client/index.js", request: "./lib/cluster" },
  // Node's modules for transports podwarden never opens: fastify's https and HTTP/2 servers, docker-modem's TLS.
  { from: "node_modules/fastify/lib/server.js", request: "node:https" },
  { from: "node_modules/fastify/lib/server.js", request: "node:http2" },
  { from: "node_modules/docker-modem/lib/http.js", request: "https" },
  // Gzip of a build context: only when an image is built.
  { from: "node_modules/dockerode/lib/util.js", request: "zlib" },
];

/** The packages that must be neither in the bundle nor loaded (the test checks the bundle's inputs). */
export const NEVER_BUNDLED = ["ssh2", "cpu-features", "@grpc/grpc-js", "@grpc/proto-loader", "protobufjs", "ajv", "@fastify/ajv-compiler", "@fastify/fast-json-stringify-compiler", "fast-uri"] as const;

/** Resolved from node_modules at run time. */
export const EXTERNAL = ["unix-dgram"] as const;

const matches = (r: Omit<Rewrite, "feature">, importer: string, request: string): boolean => request === r.request && importer.endsWith(r.from);

const rewrites: Plugin = {
  name: "podwarden-rewrites",
  setup(b) {
    b.onResolve({ filter: /.*/, namespace: "file" }, (args) => {
      const out = LEFT_OUT.find((r) => matches(r, args.importer, args.path));
      if (out) return { path: `${out.from}:${out.request}`, namespace: "left-out", pluginData: out };
      const lazy = LAZY.find((r) => matches(r, args.importer, args.path));
      if (lazy) return { path: lazy.request, namespace: "lazy", pluginData: { resolveDir: args.resolveDir } };
      return undefined;
    });
    b.onLoad({ filter: /.*/, namespace: "left-out" }, (args) => {
      const r = args.pluginData as Rewrite;
      const message = JSON.stringify(`podwarden's bundle leaves out ${r.feature}`);
      return { contents: `const missing = () => { throw new Error(${message}); };\nmodule.exports = missing;\n`, loader: "js" };
    });
    b.onLoad({ filter: /.*/, namespace: "lazy" }, (args) => {
      const request = JSON.stringify(args.path);
      return {
        contents: `let real;\nconst load = () => (real ??= require(${request}));\nmodule.exports = new Proxy({}, { get: (_, key) => load()[key] });\n`,
        loader: "js",
        resolveDir: (args.pluginData as { resolveDir: string }).resolveDir,
      };
    });
  },
};

export const bundleOptions = (outdir: string, from = REPO): BuildOptions => ({
  absWorkingDir: from,
  entryPoints: { cli: "src/entry.ts", daemon: "src/daemon/run-daemon.ts" },
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  chunkNames: "chunks/[name]-[hash]",
  external: [...EXTERNAL],
  plugins: [rewrites],
  // CommonJS dependencies require Node's built-ins; an ES module has no `require` of its own.
  banner: { js: 'import { createRequire as __podwardenRequire } from "node:module";\nconst require = __podwardenRequire(import.meta.url);' },
  // Minified: the source text V8 keeps in the heap is half as big (about 3 MiB of peak RSS
  // less). Names are kept (error classes and fastify plugins are known by them); the source
  // maps beside each file turn a stack trace back into src/ (node --enable-source-maps).
  minify: true,
  keepNames: true,
  sourcemap: true,
  metafile: true,
  logLevel: "warning",
  legalComments: "linked",
});

/**
 * In `command`'s own bundle the CLI's other commands are never run (src/entry.ts hands it only
 * its own): their dynamic imports from the command table resolve to an empty module, so their
 * code is neither in the bundle nor in its code cache.
 */
const onlyCommand = (command: string): Plugin => ({
  name: "podwarden-only-command",
  setup(b) {
    b.onResolve({ filter: /^\.\/[\w-]+\.js$/ }, (args) => {
      if (args.kind !== "dynamic-import" || !args.importer.endsWith(join("src", "commands", "index.ts")) || args.path === `./${command}.js`) return undefined;
      return { path: args.path, namespace: "other-command" };
    });
    b.onLoad({ filter: /.*/, namespace: "other-command" }, () => ({ contents: "module.exports = {};\n", loader: "js" }));
  },
});

/** dist/fast/<command>.cjs: one CommonJS file (a code cache is for one script), two levels below the package root like the chunks. */
export const fastOptions = (outdir: string, command: string, from = REPO): BuildOptions => {
  const esm = bundleOptions(outdir, from);
  return {
    ...esm,
    entryPoints: { [`fast/${command}`]: `src/fast/${command}.ts` },
    outExtension: { ".js": ".cjs" },
    splitting: false,
    format: "cjs",
    chunkNames: undefined,
    plugins: [rewrites, onlyCommand(command)],
    define: { "import.meta.url": "__podwardenUrl" },
    // A function expression the loader compiles as it is (src/lib/code-cache.ts); no source map
    // line is shifted (the head and its first statement share the bundle's first line).
    banner: { js: `${WRAPPER.head}var __podwardenUrl = require("node:url").pathToFileURL(__filename).href;` },
    footer: { js: WRAPPER.tail },
  };
};

/** The node flag sets a code cache is made for: none (a shell, the tests) and the unit's. */
export const CACHE_FLAG_SETS = (): string[][] => [[], unitNodeFlags()];

/**
 * Makes each fast bundle's code cache under each flag set, with this node: the generator
 * (scripts/make-code-cache.ts) is bundled next to the output and run as `node [flags]`.
 */
const makeCodeCaches = async (outdir: string, bundles: readonly string[]): Promise<void> => {
  const generator = join(outdir, "fast", ".make-code-cache.mjs");
  await build({ entryPoints: [join(REPO, "scripts/make-code-cache.ts")], outfile: generator, bundle: true, platform: "node", format: "esm", target: "node20", logLevel: "warning" });
  try {
    for (const flags of CACHE_FLAG_SETS()) {
      const r = spawnSync(process.execPath, [...flags, generator, ...bundles], { encoding: "utf8", env: { ...process.env, NODE_OPTIONS: "" } });
      if (r.status !== 0) throw new Error(`code cache (node ${flags.join(" ")}): ${r.stderr || r.error?.message || `exit ${r.status}`}`);
    }
  } finally {
    await rm(generator, { force: true });
  }
};

/** Builds into `outdir` (emptied first); the metafile says what went in and what each output imports. */
export const bundle = async (outdir: string): Promise<Metafile> => {
  await rm(outdir, { recursive: true, force: true });
  const result = await build(bundleOptions(outdir));
  const fast = await Promise.all(FAST_COMMANDS.map((c) => build(fastOptions(outdir, c))));
  await makeCodeCaches(outdir, FAST_COMMANDS.map((c) => join(outdir, "fast", `${c}.cjs`)));
  return mergeMetafiles([result.metafile!, ...fast.map((f) => f.metafile!)]);
};

const mergeMetafiles = (all: readonly Metafile[]): Metafile => ({
  inputs: Object.assign({}, ...all.map((m) => m.inputs)) as Metafile["inputs"],
  outputs: Object.assign({}, ...all.map((m) => m.outputs)) as Metafile["outputs"],
});

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  await bundle(join(REPO, "dist"));
}
