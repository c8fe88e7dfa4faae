// `podwarden install` of this built checkout into a temporary root (--root: files only, no
// systemctl): the installed copy runs from its own production node_modules (nothing of the
// checkout's dev tree), its unit passes systemd-analyze verify, and a second install and an
// uninstall keep what is the user's. The real systemctl side runs in the real-systemd e2e.

import { execFile, spawn } from "node:child_process";
import { access, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli } from "../support/podman-harness.js";

const exec = promisify(execFile);
const PREFIX = "/opt/podwarden";
const UNIT = "/etc/systemd/system/opencode-memory-pod.service";
const CONFIG = "/etc/podwarden/opencode-memory-pod.yaml";
const ENV = "/run/secrets/opencode.env";

let root: string;
const at = (p: string) => join(root, p);
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "pw-install-e2e-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Node running a file with no NODE_PATH, so modules resolve only from the installed tree. */
const node = (args: readonly string[], cwd = "/"): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    const env = { ...process.env };
    delete env.NODE_PATH;
    const child = spawn(process.execPath, [...args], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });

describe("podwarden install --root", () => {
  it("--dry-run --json lists the steps and writes nothing", async () => {
    const r = await cli(["install", "--root", root, "--local", "--dry-run", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { ok: boolean; dryRun: boolean; steps: { op: string; path?: string; args?: string[] }[] };
    expect(out).toMatchObject({ ok: true, dryRun: true, root, prefix: PREFIX });
    expect(out.steps.map((s) => s.op)).toEqual(["copy", "write", "write", "mkdir", "write", "mkdir", "validate", "systemctl", "systemctl"]);
    expect(out.steps.at(-1)!.args).toEqual(["enable", "--now", "opencode-memory-pod.service"]);
    expect(await readdir(root)).toEqual([]);
  });

  it("installs the checkout: the package with its production modules, the unit, the config, the env file", async () => {
    const r = await cli(["install", "--root", root, "--local"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`skipped (--root ${root}): run systemctl enable --now opencode-memory-pod.service`);
    for (const f of ["dist/cli.js", "package.json", "package-lock.json", "config/local.yaml", "config/images/opencode", "systemd/opencode-memory-pod.service", "README.md", "Dockerfile.opencode", "node_modules/unix-dgram"]) {
      await access(at(join(PREFIX, f)));
    }
    await expect(access(at(join(PREFIX, "node_modules/vitest")))).rejects.toThrow();
    await expect(access(at(join(PREFIX, "src")))).rejects.toThrow();
    expect(await readFile(at(CONFIG), "utf8")).toContain(`\nextends: ${PREFIX}/config/local.yaml\n`);
    expect((await stat(at(ENV))).mode & 0o777).toBe(0o600);
    expect(await readFile(at(ENV), "utf8")).toMatch(/^OPENCODE_SERVER_PASSWORD=[\w-]{24}$/m);
    expect(r.stdout + r.stderr).not.toContain((await readFile(at(ENV), "utf8")).match(/PASSWORD=(.*)/)![1]);
  });

  it("the installed copy works on its own: every module of the daemon loads, validate and render run", async () => {
    const dist = at(join(PREFIX, "dist"));
    // The whole bundle: every chunk (every command's, the daemon's with dockerode, fastify, pino,
    // node-cron and prom-client), and the sd_notify addon as sd-notify.ts requires it, from dist/chunks/.
    const chunks = (await readdir(join(dist, "chunks"))).filter((f) => f.endsWith(".js")).map((f) => join("chunks", f));
    expect(chunks.length).toBeGreaterThan(10);
    const imports = ["daemon.js", ...chunks].map((f) => `await import(${JSON.stringify(join(dist, f))});`).join(" ");
    const loaded = await node(["--input-type=module", "-e", `${imports} const { createRequire } = await import("node:module"); createRequire(${JSON.stringify(`${dist}/chunks/`)})("unix-dgram"); console.log("loaded");`]);
    expect(loaded.stderr).toBe("");
    expect(loaded.stdout.trim()).toBe("loaded");
    const env = join(root, "test.env");
    await writeFile(env, "OPENCODE_SERVER_PASSWORD=install-e2e\nDD_API_KEY=k\n", { mode: 0o600 });
    const top = join(root, "top.yaml");
    await writeFile(top, `extends: ${at(join(PREFIX, "config/local.yaml"))}\npod:\n  envFile: ${env}\n`);
    const v = await node([join(dist, "cli.js"), "validate", "-c", top, "--json"]);
    expect(v.code, v.stderr).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, pod: "opencode-memory-pod" });
    const k = await node([join(dist, "cli.js"), "render", "kube", "-c", top]);
    expect(k.code, k.stderr).toBe(0);
    expect(k.stdout).toMatch(/^kind: (Pod|Deployment)$/m);
  });

  it("the installed unit passes systemd-analyze verify", async () => {
    const unit = await readFile(at(UNIT), "utf8");
    expect(unit).toContain(`ExecStart=${process.execPath} --max-semi-space-size=1 --no-sparkplug --no-memory-reducer ${PREFIX}/dist/cli.js run --config`);
    // Exit 0 (a missing systemd-analyze fails here too), and not a word about our unit.
    const { stderr } = await exec("systemd-analyze", ["verify", at(UNIT)], { env: { ...process.env, SYSTEMD_PAGER: "" } });
    expect(stderr.split("\n").filter((l) => l.includes("opencode-memory-pod"))).toEqual([]);
  });

  it("again (an upgrade): the user's config and env file stay, the package is replaced", async () => {
    await writeFile(at(CONFIG), "extends: /elsewhere.yaml\n# mine\n");
    const envBefore = await readFile(at(ENV), "utf8");
    await writeFile(at(join(PREFIX, "dist/stale.js")), "from the old version");
    const r = await cli(["install", "--root", root]);
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(at(CONFIG), "utf8")).toBe("extends: /elsewhere.yaml\n# mine\n");
    expect(await readFile(at(ENV), "utf8")).toBe(envBefore);
    await expect(access(at(join(PREFIX, "dist/stale.js")))).rejects.toThrow();
    expect(r.stdout).toContain(`keep ${CONFIG}: exists: never overwritten`);
    expect(r.stdout).toContain(`keep ${UNIT}: unchanged`);
  });

  it("uninstall removes the unit and the package, keeps the config, the env file and the data", async () => {
    const r = await cli(["uninstall", "--root", root]);
    expect(r.code, r.stderr).toBe(0);
    await expect(access(at(UNIT))).rejects.toThrow();
    await expect(access(at(PREFIX))).rejects.toThrow();
    for (const p of [CONFIG, ENV, "/persist/containers"]) await access(at(p));
    expect(r.stdout).toContain(`keep ${ENV}: the pod's secrets`);
  });

  it.each([
    [["--prefix", "/"], /--prefix "\/" is too close to \//],
    [["--prefix", "opt/x"], /must be absolute/],
    [["--prefix", "/opt/../etc"], /may not contain empty, \. or \.\. segments/],
    [["--root", "rel"], /--root "rel" must be absolute/],
  ])("refuses %j with exit 2", async (args, message) => {
    const r = await cli(["install", "--root", root, ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it("refuses to install over a directory that is not podwarden's", async () => {
    await exec("mkdir", ["-p", at("/srv/tool")]);
    await writeFile(at("/srv/tool/keep.txt"), "x");
    const r = await cli(["install", "--root", root, "--prefix", "/srv/tool"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("/srv/tool exists and is not a podwarden install");
    expect(await readdir(at("/srv/tool"))).toEqual(["keep.txt"]);
  });
});

