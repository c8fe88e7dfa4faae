// End-to-end harness: a unique pod name, host ports and data root per run, a config
// derived from config/local.yaml with `extends`, the real CLI as a child process, and
// cleanup of everything labelled with the run's pod name.

import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const exec = promisify(execFile);
export const REPO = fileURLToPath(new URL("../..", import.meta.url));
export const CLI = join(REPO, "dist/cli.js");
export const LOCAL_CONFIG = join(REPO, "config/local.yaml");
export const SOCKET = "/run/podman/podman.sock";
const CONTAINER_PORTS = [4096, 6379, 6380, 3000, 8126] as const;

const portFree = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });

/** Five consecutive free host ports in a random block of 30000-59999. */
const freePorts = async (): Promise<number[]> => {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 30_000 + Math.floor(Math.random() * 2_999) * 10;
    const ports = CONTAINER_PORTS.map((_, i) => base + i);
    if ((await Promise.all(ports.map(portFree))).every(Boolean)) return ports;
  }
  throw new Error("no free host ports");
};

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface E2eRun {
  readonly pod: string;
  readonly dir: string;
  readonly config: string;
  readonly envFile: string;
  readonly password: string;
  readonly persistRoot: string;
  /** Container port -> host port. */
  readonly hostPort: Readonly<Record<number, number>>;
}

export interface RunOptions {
  /** Extra YAML appended to the generated config (e.g. a `containers:` override). */
  readonly extraYaml?: string;
}

export const createRun = async (opts: RunOptions = {}): Promise<E2eRun> => {
  const id = randomBytes(3).toString("hex");
  const pod = `pw-e2e-${id}`;
  const dir = await mkdtemp(join(tmpdir(), `${pod}-`));
  const ports = await freePorts();
  const hostPort = Object.fromEntries(CONTAINER_PORTS.map((c, i) => [c, ports[i]!]));
  const password = `e2e-pw-${randomBytes(12).toString("hex")}`;
  const envFile = join(dir, "opencode.env");
  await writeFile(envFile, `OPENCODE_SERVER_PASSWORD=${password}\nDD_API_KEY=e2e-dd-${randomBytes(8).toString("hex")}\n`, { mode: 0o600 });
  const persistRoot = join(dir, "persist");
  const config = join(dir, "pod.yaml");
  await writeFile(
    config,
    [
      `extends: ${LOCAL_CONFIG}`,
      "pod:",
      `  name: ${pod}`,
      `  ports: [${CONTAINER_PORTS.map((c) => `"${hostPort[c]}:${c}"`).join(", ")}]`,
      `  envFile: ${envFile}`,
      `  persistRoot: ${persistRoot}`,
      // OpenCode looks things up on the internet at start; tests keep every lookup on this host.
      "  dns: [127.0.0.1]",
      opts.extraYaml ?? "",
    ].join("\n"),
  );
  return { pod, dir, config, envFile, password, persistRoot, hostPort };
};

/** Runs the real CLI to completion. */
export const cli = (args: readonly string[], timeoutMs = 600_000): Promise<CliResult> =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });

/** Starts the CLI in the background (for `run`); lines of stderr are collected as they come. */
export const spawnCli = (args: readonly string[]): { child: ChildProcess; lines: string[]; exited: Promise<number | null> } => {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  let partial = "";
  child.stderr!.on("data", (d: Buffer) => {
    const parts = (partial + d.toString()).split("\n");
    partial = parts.pop() ?? "";
    lines.push(...parts);
  });
  child.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  return { child, lines, exited };
};

export const waitFor = async <T>(what: string, f: () => T | undefined | Promise<T | undefined>, timeoutMs = 120_000, everyMs = 100): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
};

export const podman = async (...args: string[]): Promise<string> => (await exec("podman", args, { maxBuffer: 64 * 1024 * 1024 })).stdout;

export const podExists = async (pod: string): Promise<boolean> =>
  exec("podman", ["pod", "exists", pod]).then(
    () => true,
    () => false,
  );

export interface InspectState {
  readonly Id: string;
  readonly Name: string;
  readonly State: { Status: string; Running: boolean; StartedAt: string; FinishedAt: string; ExitCode: number };
  readonly Config: { Labels: Record<string, string> };
}

export const inspect = async (name: string): Promise<InspectState> => (JSON.parse(await podman("inspect", "--type", "container", name)) as InspectState[])[0]!;

/** Names of the containers labelled with this pod (infra excluded). */
export const managedContainers = async (pod: string): Promise<string[]> =>
  (await podman("ps", "-a", "--filter", `label=io.podwarden.pod=${pod}`, "--format", "{{.Names}}"))
    .split("\n")
    .filter((n) => n && !n.endsWith("-infra"));

/** Removes everything the run created: pod, containers, secrets and the temp dir. */
export const cleanupRun = async (run: E2eRun): Promise<void> => {
  await exec("podman", ["pod", "rm", "-f", "-t", "0", run.pod]).catch(() => undefined);
  const left = await managedContainers(run.pod).catch(() => [] as string[]);
  for (const c of left) await exec("podman", ["rm", "-f", "-t", "0", c]).catch(() => undefined);
  const secrets = (await podman("secret", "ls", "--format", "{{.Name}}").catch(() => "")).split("\n").filter((s) => s.startsWith(`${run.pod}--`));
  for (const s of secrets) await exec("podman", ["secret", "rm", s]).catch(() => undefined);
  await rm(run.dir, { recursive: true, force: true });
};

/** One RESP command to a host port; returns the raw reply. */
export const resp = async (port: number, ...args: string[]): Promise<string> => {
  const { connect } = await import("node:net");
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port });
    let out = "";
    s.setEncoding("utf8");
    s.on("data", (d: string) => {
      out += d;
      if (out.endsWith("\r\n")) {
        s.destroy();
        resolve(out.trim());
      }
    });
    s.on("error", reject);
    s.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`);
  });
};

/** Makes sure the local images exist (builds what is missing; slow only the first time). */
export const ensureImages = async (config: string): Promise<void> => {
  const r = await cli(["images", "-c", config], 1_500_000);
  if (r.code !== 0) throw new Error(`podwarden images failed (${r.code}):\n${r.stderr.slice(-4000)}`);
};
