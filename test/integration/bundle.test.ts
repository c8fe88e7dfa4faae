// The product is the esbuild bundle (scripts/bundle.ts): built here into a temporary package
// with no node_modules beside it, it must still run, the daemon included, up to serving HTTP.
// So nothing it loads comes from node_modules (unix-dgram, under systemd, excepted), and the
// transports it leaves out (ssh2, grpc-js, protobufjs) can be neither in it nor loaded by it.

import { spawn } from "node:child_process";
import { builtinModules } from "node:module";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Metafile } from "esbuild";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { EXTERNAL, NEVER_BUNDLED, bundle } from "../../scripts/bundle.js";
import { FAST_COMMANDS, cacheKey, cachePath } from "../../src/lib/code-cache.js";
import { freePort } from "../support/podman-harness.js";

const REPO = join(import.meta.dirname, "../..");

let dir: string;
let pkg: string;
let meta: Metafile;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pw-bundle-"));
  pkg = join(dir, "pkg");
  meta = await bundle(join(pkg, "dist"));
  for (const entry of ["package.json", "config", "Dockerfile.opencode"]) await cp(join(REPO, entry), join(pkg, entry), { recursive: true });
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const outputs = (): [string, Metafile["outputs"][string]][] => Object.entries(meta.outputs).filter(([path]) => /\.c?js$/.test(path));

/** The package a bundled input file belongs to ("src" for podwarden's own). */
const packageOf = (input: string): string => input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//)?.[1] ?? (input.startsWith("src/") ? "src" : input);

/** What `podwarden <command>` loads: dist/cli.js, the command's chunk and every chunk they import statically. */
const loadedBy = (command: string): Set<string> => {
  const byPath = new Map(outputs());
  const runChunk = [...byPath.keys()].find((p) => new RegExp(`/chunks/${command}-[^/]+\\.js$`).test(p));
  expect(runChunk, `the ${command} command has a chunk of its own`).toBeDefined();
  const seen = new Set<string>();
  const todo = [...byPath.keys()].filter((p) => p.endsWith("/dist/cli.js")).concat(runChunk!);
  while (todo.length > 0) {
    const path = todo.pop()!;
    if (seen.has(path)) continue;
    seen.add(path);
    for (const i of byPath.get(path)!.imports) if (!i.external && i.kind === "import-statement") todo.push(i.path);
  }
  return new Set([...seen].flatMap((p) => Object.keys(byPath.get(p)!.inputs)));
};

/** Runs the bundled CLI from the temporary package (cwd: its directory) to its exit. */
const runBundle = (args: readonly string[]): Promise<{ code: number | null; out: string }> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(pkg, "dist/cli.js"), ...args], { cwd: pkg, env: { PATH: process.env.PATH ?? "" }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const take = (d: Buffer): void => void (out += d.toString());
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, out }));
  });

describe("the bundle", () => {
  it("holds none of the transports podwarden never uses", () => {
    const packages = new Set(Object.keys(meta.inputs).map(packageOf));
    for (const p of NEVER_BUNDLED) expect(packages.has(p), p).toBe(false);
    // The packages that pull them in are there: only the requires were cut.
    expect(packages.has("dockerode")).toBe(true);
    expect(packages.has("docker-modem")).toBe(true);
  });

  it("imports nothing from outside itself but Node's built-ins", () => {
    const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
    const outside = outputs().flatMap(([, o]) => o.imports.filter((i) => i.external && !builtins.has(i.path)).map((i) => i.path));
    expect(outside).toEqual([]);
    // unix-dgram, the one package left outside, is required by name at run time (sd-notify.ts).
    expect(EXTERNAL).toEqual(["unix-dgram"]);
  });

  it("loads for `run` none of the other commands' code, render, install or the backup archive code", () => {
    const loaded = [...loadedBy("run")];
    const src = loaded.filter((i) => i.startsWith("src/"));
    expect(src).toContain("src/commands/run.ts");
    expect(src).toContain("src/daemon/daemon.ts");
    const others = ["render", "install", "doctor", "validate", "status", "logs", "auth", "backup", "restore", "update", "images", "restart-daemon", "up", "down", "reload"];
    for (const c of others) expect(src, `src/commands/${c}.ts`).not.toContain(`src/commands/${c}.ts`);
    expect(src.filter((i) => i.startsWith("src/render/") || i.startsWith("src/install/"))).toEqual([]);
    expect(src).not.toContain("src/jobs/archive.ts");
    expect(src).not.toContain("src/jobs/tar.ts");
    expect(loaded.filter((i) => i.includes("kubernetes-models"))).toEqual([]);
  });

  it("loads for `up` and `down` neither the HTTP server (fastify) nor the jobs or systemd code", () => {
    for (const command of ["up", "down"]) {
      const loaded = [...loadedBy(command)];
      expect(loaded.filter((i) => i.includes("node_modules/fastify/") || i.includes("node_modules/find-my-way/")), command).toEqual([]);
      const src = loaded.filter((i) => i.startsWith("src/"));
      expect(src).toContain("src/daemon/daemon.ts");
      expect(src.filter((i) => i.startsWith("src/http/") || i.startsWith("src/jobs/") || i.startsWith("src/systemd/")), command).toEqual([]);
      expect(src).not.toContain("src/daemon/run-daemon.ts");
    }
  });

  it("gives run, up and down a CommonJS bundle each with that command's code and no other command's", () => {
    for (const command of FAST_COMMANDS) {
      const [, out] = outputs().find(([path]) => path.endsWith(`/dist/fast/${command}.cjs`))!;
      const src = Object.keys(out.inputs).filter((i) => i.startsWith("src/"));
      expect(src).toContain(`src/commands/${command}.ts`);
      const others = ["run", "up", "down", "render", "install", "doctor", "validate", "status", "logs", "auth", "backup", "restore", "update", "images", "restart-daemon", "reload"].filter((c) => c !== command);
      for (const c of others) expect(src, `${command}: src/commands/${c}.ts`).not.toContain(`src/commands/${c}.ts`);
      expect(src.filter((i) => i.startsWith("src/render/") || i.startsWith("src/install/")), command).toEqual([]);
    }
  });

  it("holds a code cache for each of them that this node takes (no flags), and none that it refuses", async () => {
    const check = [
      'import { readFileSync } from "node:fs"; import { Script } from "node:vm";',
      "const [file, cache] = process.argv.slice(1);",
      'const script = new Script(readFileSync(file, "latin1"), { filename: file, cachedData: readFileSync(cache) });',
      "process.stdout.write(String(script.cachedDataRejected));",
    ].join("\n");
    for (const command of FAST_COMMANDS) {
      const file = join(pkg, "dist/fast", `${command}.cjs`);
      const cache = cachePath(file, cacheKey(process.version, [], undefined));
      const out = await new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, ["--input-type=module", "-e", check, file, cache], { env: { PATH: process.env.PATH ?? "" }, stdio: ["ignore", "pipe", "inherit"] });
        let text = "";
        child.stdout.on("data", (d: Buffer) => void (text += d.toString()));
        child.on("error", reject);
        child.on("exit", () => resolve(text));
      });
      expect(out, command).toBe("false");
    }
  });

  it("runs without node_modules: --version, validate and render", async () => {
    const version = await runBundle(["--version"]);
    expect(version).toEqual({ code: 0, out: `${JSON.parse(await readFile(join(REPO, "package.json"), "utf8")).version}\n` });
    const envFile = join(dir, "opencode.env");
    await writeFile(envFile, "OPENCODE_SERVER_PASSWORD=bundle-test-password\n", { mode: 0o600 });
    const config = join(dir, "pod.yaml");
    await writeFile(config, `extends: ${join(pkg, "config/local.yaml")}\npod:\n  name: pw-bundle-test\n  envFile: ${envFile}\n  persistRoot: ${join(dir, "persist")}\n`);
    const validate = await runBundle(["validate", "-c", config]);
    expect(validate.out).toContain("start order: valkey -> falkordb -> datadog -> opencode");
    expect(validate.code).toBe(0);
    const render = await runBundle(["render", "kube", "-c", config]);
    expect(render.out).toContain("kind: Deployment");
    expect(render.code).toBe(0);
  }, 60_000);

  it("starts the daemon without node_modules, up to serving HTTP (Podman absent: it waits for it)", async () => {
    const port = await freePort();
    const envFile = join(dir, "daemon.env");
    await writeFile(envFile, "OPENCODE_SERVER_PASSWORD=bundle-test-password\n", { mode: 0o600 });
    const config = join(dir, "daemon.yaml");
    await writeFile(config, `extends: ${join(pkg, "config/local.yaml")}\npod:\n  name: pw-bundle-daemon\n  envFile: ${envFile}\n  persistRoot: ${join(dir, "persist")}\nhttp:\n  port: ${port}\n`);
    const runtimeDir = join(dir, "runtime");
    await mkdir(runtimeDir, { recursive: true });
    const child = spawn(process.execPath, [join(pkg, "dist/cli.js"), "run", "-c", config, "--socket", join(dir, "no-podman.sock")], {
      cwd: pkg,
      env: { PATH: process.env.PATH ?? "", RUNTIME_DIRECTORY: runtimeDir },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let out = "";
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    try {
      await vi.waitFor(() => expect(out).toContain("reconcile pass failed"), { timeout: 30_000, interval: 100 });
      expect(out).toContain("serving /status, /metrics, /healthz, /readyz");
      expect(out).toContain("Podman API socket unreachable");
      const status = await fetch(`http://127.0.0.1:${port}/status`);
      expect(status.status).toBe(503);
      expect(((await status.json()) as { pod: { name: string } }).pod.name).toBe("pw-bundle-daemon");
      expect(out).not.toMatch(/Cannot find (module|package)|ERR_MODULE_NOT_FOUND|bundle leaves out/);
    } finally {
      child.kill("SIGKILL");
    }
  }, 60_000);
});
