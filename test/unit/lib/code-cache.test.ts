// Loading a CommonJS bundle with its code cache (src/lib/code-cache.ts): found only under the key
// of the node and flags it was made for; without one, or with a bundle that is gone, nothing is
// loaded (the entry then loads the ES modules).

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { WRAPPER, cacheKey, cachePath, compileBundle, loadWithCache } from "../../../src/lib/code-cache.js";

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("code cache", () => {
  it("keys by node version, flags and NODE_OPTIONS", () => {
    const base = cacheKey("v20.20.2", ["--no-sparkplug"], undefined);
    expect(cacheKey("v20.20.2", ["--no-sparkplug"], "")).toBe(base);
    expect(cacheKey("v20.20.3", ["--no-sparkplug"], undefined)).not.toBe(base);
    expect(cacheKey("v20.20.2", [], undefined)).not.toBe(base);
    expect(cacheKey("v20.20.2", ["--no-sparkplug"], "--enable-source-maps")).not.toBe(base);
    expect(cachePath("/opt/podwarden/dist/fast/run.cjs", base)).toBe(`/opt/podwarden/dist/fast/run.${base}.v8cache`);
  });

  it("loads a bundle with the cache made for the key, runs its top level, and returns its exports; nothing without one", async () => {
    dir = await mkdtemp(join(tmpdir(), "pw-code-cache-"));
    const file = join(dir, "cmd.cjs");
    await writeFile(file, `${WRAPPER.head}const path = require("node:path"); module.exports.answer = 42; module.exports.here = path.basename(__filename);${WRAPPER.tail}`);
    expect(loadWithCache(file, "k1")).toBeUndefined(); // no cache under that key
    const { script } = compileBundle(file);
    await writeFile(cachePath(file, "k1"), script.createCachedData());
    expect(loadWithCache(file, "k1")).toEqual({ answer: 42, here: "cmd.cjs" });
    expect(loadWithCache(file, "k2")).toBeUndefined();
    await rm(file);
    expect(loadWithCache(file, "k1")).toBeUndefined(); // the bundle is gone: the ES modules serve
  });
});
