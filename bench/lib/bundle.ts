// The benchmark's own programs (the floor, the naive status servers) run as separate node
// processes, like podwarden. esbuild bundles each into one ESM file first, so that their
// start costs what a small node program costs, not a TypeScript loader's start.

import { build } from "esbuild";
import { join } from "node:path";
import { REPO } from "../../test/support/podman-harness.js";

const built = new Map<string, string>();

/** Bundles bench/<entry>.ts into `dir`; returns the .mjs path (once per entry). */
export const bundle = async (entry: string, dir: string): Promise<string> => {
  const done = built.get(entry);
  if (done) return done;
  const outfile = join(dir, `${entry.replace(/\W+/g, "-")}.mjs`);
  await build({
    entryPoints: [join(REPO, "bench", `${entry}.ts`)],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "warning",
  });
  built.set(entry, outfile);
  return outfile;
};

/** Forget the bundles (their directory is being removed). */
export const forgetBundles = (): void => built.clear();
