// .ci/check-imports.mjs keeps the import graph of src/ one way (`npm run lint` runs it): it must
// find an import that points up a layer or sideways, a cycle, and a folder in no layer, and pass
// a tree that has none. Each case is a small tree in a temp dir.

import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";

const SCRIPT = fileURLToPath(new URL("../../../.ci/check-imports.mjs", import.meta.url));
const SRC = fileURLToPath(new URL("../../../src", import.meta.url));

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/** Writes `files` (path -> content) under a new temp dir and runs the check on it. */
const check = async (files: Record<string, string>): Promise<{ code: number | null; out: string }> => {
  const root = await mkdtemp(join(tmpdir(), "pw-check-imports-"));
  dirs.push(root);
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  }
  const r = spawnSync(process.execPath, [SCRIPT, root], { encoding: "utf8" });
  return { code: r.status, out: r.stdout + r.stderr };
};

/** A tree that follows the layers: supervisor -> domain, http -> supervisor and lib, cli -> commands. */
const CLEAN = {
  "domain/state.ts": 'export type State = "ready";\n',
  "lib/clock.ts": "export const now = (): number => 0;\n",
  "supervisor/loop.ts": 'import type { State } from "../domain/state.js";\nexport const s: State = "ready";\n',
  "http/server.ts": 'import { s } from "../supervisor/loop.js";\nimport { now } from "../lib/clock.js";\nexport const x = [s, now];\n',
  "commands/run.ts": 'export { x } from "../http/server.js";\n',
  "cli.ts": 'const run = async () => (await import("./commands/run.js")).x;\nexport default run;\n',
};

describe(".ci/check-imports.mjs", () => {
  it("passes a tree whose imports only go down, and the real src/", async () => {
    const clean = await check(CLEAN);
    expect(clean.out).toContain("no upward or sideways import, no cycle");
    expect(clean.code).toBe(0);
    const real = spawnSync(process.execPath, [SCRIPT, SRC], { encoding: "utf8" });
    expect(real.stderr).toBe("");
    expect(real.status).toBe(0);
  });

  it("finds an upward import (a type import too) and a sideways one, naming both files", async () => {
    const r = await check({
      ...CLEAN,
      "domain/state.ts": 'import type { s } from "../supervisor/loop.js";\nexport type State = typeof s;\n',
      "jobs/backup.ts": 'export { x } from "../http/server.js";\n',
    });
    expect(r.code).toBe(1);
    expect(r.out).toContain("domain/state.ts imports supervisor/loop.ts: domain/ may not import supervisor/ (upwards)");
    expect(r.out).toContain("jobs/backup.ts imports http/server.ts: jobs/ may not import http/ (sideways)");
  });

  it("finds a cycle inside one folder, where no layer is crossed", async () => {
    const r = await check({
      ...CLEAN,
      "domain/a.ts": 'import { b } from "./b.js";\nexport const a = () => b;\n',
      "domain/b.ts": 'import { a } from "./a.js";\nexport const b = () => a;\n',
    });
    expect(r.code).toBe(1);
    expect(r.out).toContain("import cycle of 2 files: domain/a.ts, domain/b.ts");
    expect(r.out).not.toContain("upwards");
  });

  it("names a folder that is in no layer", async () => {
    const r = await check({ ...CLEAN, "misc/util.ts": "export const u = 1;\n" });
    expect(r.code).toBe(1);
    expect(r.out).toContain("misc/util.ts: misc/ is in no layer");
  });
});
