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
// tsc's layout: code that finds the package's files from import.meta.url (package.json,
// config/) relies on that depth (test/integration/bundle.test.ts runs render and the daemon).

import { build, type BuildOptions, type Metafile, type Plugin } from "esbuild";
import { rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

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
  entryPoints: { cli: "src/cli.ts", daemon: "src/daemon/run-daemon.ts" },
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

/** Builds into `outdir` (emptied first); the metafile says what went in and what each output imports. */
export const bundle = async (outdir: string): Promise<Metafile> => {
  await rm(outdir, { recursive: true, force: true });
  const result = await build(bundleOptions(outdir));
  return result.metafile!;
};

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  await bundle(join(REPO, "dist"));
}
