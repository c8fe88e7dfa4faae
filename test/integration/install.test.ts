// install and uninstall carried out on a temporary root, from a small stand-in source tree
// (the real checkout is installed by test/e2e/install.test.ts): what lands where, with which
// modes, and that nothing of the user's is ever overwritten.

import { lstat, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { applySteps } from "../../src/install/apply.js";
import { PATHS } from "../../src/domain/host-paths.js";
import { planInstall, planUninstall, type InstallOptions } from "../../src/install/plan.js";
import { survey } from "../../src/install/survey.js";
import type { Systemctl } from "../../src/systemd/systemctl.js";

const UNIT_TEXT = "[Service]\nExecStart=/usr/bin/node /opt/podwarden/dist/cli.js run\n";

let base: string;
let root: string;
let source: string;
let said: string[];
const say = { info: (_: unknown, t: string) => void said.push(t), warn: (_: unknown, t: string) => void said.push(`WARN ${t}`), error: (_: unknown, t: string) => void said.push(`ERROR ${t}`) };
const noSystemctl: Systemctl = async () => {
  throw new Error("systemctl must not run under --root");
};

const put = async (path: string, text: string): Promise<void> => {
  await mkdir(join(path, ".."), { recursive: true });
  await writeFile(path, text);
};

/** A source tree like a built checkout: three production packages (one nested), one dev package. */
const makeSource = async (dir: string): Promise<void> => {
  await put(join(dir, "package.json"), JSON.stringify({ name: "podwarden", version: "9.9.9" }));
  await put(
    join(dir, "package-lock.json"),
    JSON.stringify({
      lockfileVersion: 3,
      packages: {
        "": { name: "podwarden" },
        "node_modules/a": {},
        "node_modules/a/node_modules/b": {},
        "node_modules/@s/c": {},
        "node_modules/devtool": { dev: true },
        "node_modules/gone-optional": { optional: true },
      },
    }),
  );
  await put(join(dir, "node_modules/a/index.js"), "a");
  await put(join(dir, "node_modules/a/node_modules/b/index.js"), "b");
  await put(join(dir, "node_modules/a/node_modules/devonly/index.js"), "not in the lock as production");
  await put(join(dir, "node_modules/@s/c/index.js"), "c");
  await put(join(dir, "node_modules/devtool/index.js"), "dev");
  await put(join(dir, "dist/cli.js"), "// cli");
  await put(join(dir, "config/opencode-memory-pod.yaml"), "pod: {}\n");
  await put(join(dir, "config/images/opencode/clone.sh"), "#!/bin/sh\n");
  await put(join(dir, "systemd/opencode-memory-pod.service"), UNIT_TEXT);
  await put(join(dir, "README.md"), "# readme");
  await put(join(dir, "Dockerfile.opencode"), "FROM x");
  await put(join(dir, "docs/alerts.md"), "# runbook");
  await put(join(dir, "monitoring/podwarden.rules.yml"), "groups: []\n");
  await put(join(dir, "src/never-copied.ts"), "");
};

const OPTS: InstallOptions = { prefix: "/opt/podwarden", variant: "seed", noStart: false, rooted: true };

const install = async (opts: InstallOptions = OPTS, dryRun = false) => {
  const found = await survey({ root, prefix: opts.prefix, source, node: "/usr/bin/node", systemctl: noSystemctl });
  const steps = planInstall(opts, found, "generated-password-xyz");
  await applySteps(steps, { root, dryRun, say, systemctl: noSystemctl, validate: async () => undefined, handover: async () => undefined });
  return steps;
};

const uninstall = async (dryRun = false) => {
  const found = await survey({ root, prefix: OPTS.prefix, source, node: "/usr/bin/node", systemctl: noSystemctl }, true);
  await applySteps(planUninstall(OPTS, found), { root, dryRun, say, systemctl: noSystemctl, validate: async () => undefined, handover: async () => undefined });
};

const at = (p: string) => join(root, p);
const mode = async (p: string) => (await stat(at(p))).mode & 0o777;
const text = (p: string) => readFile(at(p), "utf8");

/** Every path under the root with its type and content, to compare before and after. */
const snapshot = async (dir = root): Promise<Record<string, string>> => {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) {
    const p = join(dir, name);
    const st = await lstat(p);
    if (st.isDirectory()) Object.assign(out, { [p]: `dir ${(st.mode & 0o777).toString(8)}` }, await snapshot(p));
    else out[p] = st.isSymbolicLink() ? "link" : `${(st.mode & 0o777).toString(8)} ${await readFile(p, "utf8")}`;
  }
  return out;
};

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), "pw-install-"));
  root = join(base, "root");
  source = join(base, "src");
  await mkdir(root);
  await makeSource(source);
  said = [];
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

describe("install on a fresh root", () => {
  it("puts the package, unit, config, env file and persist root in place with their modes", async () => {
    await install();
    const prefix = "/opt/podwarden";
    expect((await readdir(at(prefix))).sort()).toEqual(["Dockerfile.opencode", "README.md", "config", "dist", "docs", "monitoring", "node_modules", "package-lock.json", "package.json", "systemd"]);
    expect(await text(`${prefix}/config/images/opencode/clone.sh`)).toBe("#!/bin/sh\n");
    // Production packages only, each nested one because the lock lists it, nothing else.
    expect(await text(`${prefix}/node_modules/a/index.js`)).toBe("a");
    expect(await text(`${prefix}/node_modules/a/node_modules/b/index.js`)).toBe("b");
    expect(await text(`${prefix}/node_modules/@s/c/index.js`)).toBe("c");
    await expect(lstat(at(`${prefix}/node_modules/devtool`))).rejects.toThrow();
    await expect(lstat(at(`${prefix}/node_modules/a/node_modules/devonly`))).rejects.toThrow();
    expect(await text(PATHS.unitFile)).toBe(UNIT_TEXT);
    expect(await mode(PATHS.unitFile)).toBe(0o644);
    expect(await text(PATHS.config)).toContain("\nextends: /opt/podwarden/config/opencode-memory-pod.yaml\n");
    expect(await text(PATHS.envFile)).toContain("OPENCODE_SERVER_PASSWORD=generated-password-xyz\n");
    expect(await mode(PATHS.envFile)).toBe(0o600);
    expect(await mode("/run/secrets")).toBe(0o700);
    expect(await mode("/run")).toBe(0o755);
    expect((await stat(at(PATHS.persistRoot))).isDirectory()).toBe(true);
    expect(said.filter((l) => l.startsWith("skipped (--root"))).toHaveLength(3); // check, daemon-reload, enable --now
    expect(said.join("\n")).not.toContain("generated-password-xyz");
  });

  it("--dry-run changes nothing", async () => {
    const before = await snapshot();
    const steps = await install(OPTS, true);
    expect(await snapshot()).toEqual(before);
    expect(said).toHaveLength(steps.length);
    expect(said.every((l) => l.startsWith("would "))).toBe(true);
  });
});

describe("install again (an upgrade)", () => {
  beforeEach(async () => {
    await install();
    said = [];
  });

  it("overwrites nothing the user changed: config, env file, drop-ins; the unit is replaced, and that is said", async () => {
    const mine = { [PATHS.config]: "extends: x\n# mine\n", [PATHS.envFile]: "OPENCODE_SERVER_PASSWORD=mine\n", [`${PATHS.dropInDir}/override.conf`]: "[Service]\nEnvironment=A=1\n" };
    for (const [p, t] of Object.entries(mine)) await put(at(p), t);
    await writeFile(at(PATHS.unitFile), `${UNIT_TEXT}# edited in place\n`);
    await install();
    for (const [p, t] of Object.entries(mine)) expect(await text(p), p).toBe(t);
    expect(await text(PATHS.unitFile)).toBe(UNIT_TEXT);
    expect(said).toContain(`keep ${PATHS.dropInDir}/override.conf: a drop-in: yours, kept`);
    expect(said.find((l) => l.startsWith(`write ${PATHS.unitFile}`))).toMatch(/replaced: .*drop-ins/);
  });

  it("replaces the package as a whole: files of the old version are gone, the new ones are in", async () => {
    await put(at("/opt/podwarden/dist/old-only.js"), "old");
    await put(join(source, "dist/new-only.js"), "new");
    await install();
    await expect(lstat(at("/opt/podwarden/dist/old-only.js"))).rejects.toThrow();
    expect(await text("/opt/podwarden/dist/new-only.js")).toBe("new");
    expect((await readdir(at("/opt"))).sort()).toEqual(["podwarden"]); // no staging leftovers
  });

  it("a link planted where the unit goes is replaced, its target untouched", async () => {
    await put(join(base, "elsewhere"), "precious");
    await rm(at(PATHS.unitFile));
    await symlink(join(base, "elsewhere"), at(PATHS.unitFile));
    await install();
    expect((await lstat(at(PATHS.unitFile))).isSymbolicLink()).toBe(false);
    expect(await readFile(join(base, "elsewhere"), "utf8")).toBe("precious");
  });
});

describe("refusals", () => {
  it("a prefix holding something else is refused before anything is written", async () => {
    await put(at("/opt/podwarden/important.txt"), "not ours");
    const before = await snapshot();
    await expect(install()).rejects.toThrow(/is not a podwarden install/);
    expect(await snapshot()).toEqual(before);
  });

  it("a source without a required production package is refused before anything is written", async () => {
    await rm(join(source, "node_modules/@s"), { recursive: true });
    const before = await snapshot();
    await expect(install()).rejects.toThrow(/node_modules\/@s\/c is missing: run npm ci/);
    expect(await snapshot()).toEqual(before);
  });
});

describe("uninstall", () => {
  it("removes the unit and the prefix; keeps config, env file, drop-ins and data (and says so)", async () => {
    await install();
    await put(at(`${PATHS.dropInDir}/override.conf`), "[Service]\n");
    await put(at(`${PATHS.persistRoot}/valkey/dump.rdb`), "data");
    said = [];
    await uninstall();
    await expect(lstat(at(PATHS.unitFile))).rejects.toThrow();
    await expect(lstat(at("/opt/podwarden"))).rejects.toThrow();
    for (const p of [PATHS.config, PATHS.envFile, `${PATHS.dropInDir}/override.conf`, `${PATHS.persistRoot}/valkey/dump.rdb`]) expect((await lstat(at(p))).isFile(), p).toBe(true);
    expect(said.filter((l) => l.startsWith("keep "))).toEqual([
      `keep ${PATHS.dropInDir}/override.conf: a drop-in: yours, kept`,
      `keep ${PATHS.config}: your config`,
      `keep ${PATHS.envFile}: the pod's secrets`,
      `keep ${PATHS.persistRoot}: the containers' data`,
    ]);
  });

  it("--dry-run changes nothing", async () => {
    await install();
    const before = await snapshot();
    await uninstall(true);
    expect(await snapshot()).toEqual(before);
  });
});
