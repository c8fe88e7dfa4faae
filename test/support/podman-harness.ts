// End-to-end harness: a unique pod name, host ports and data root per run, a config
// derived from config/local.yaml with `extends`, the real CLI as a child process, and
// cleanup of everything labelled with the run's pod name.

import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { openSync, closeSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
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

/**
 * The kernel's range for the local ports of outgoing connections (ip_local_port_range). A pod's
 * host port must lie outside it: the probes of a run (every 10 ms, four ports) leave thousands of
 * connections in TIME_WAIT on ports from this range, and while one holds a port Podman cannot
 * publish it ("cannot listen on the TCP port: ... address already in use"), though a test bind
 * (with SO_REUSEADDR, as Node binds) succeeds.
 */
const ephemeralPorts = async (): Promise<readonly [number, number]> => {
  const text = await readFile("/proc/sys/net/ipv4/ip_local_port_range", "utf8").catch(() => "32768 60999");
  const [lo, hi] = text.trim().split(/\s+/).map(Number);
  return [lo ?? 32_768, hi ?? 60_999];
};

/** Five consecutive free host ports in a random block of 10000-65529 outside the ephemeral range. */
const freePorts = async (): Promise<number[]> => {
  const [lo, hi] = await ephemeralPorts();
  const blocks: number[] = [];
  for (let base = 10_000; base + CONTAINER_PORTS.length <= 65_535; base += 10) {
    if (base + CONTAINER_PORTS.length - 1 < lo || base > hi) blocks.push(base);
  }
  for (let attempt = 0; attempt < 50 && blocks.length > 0; attempt++) {
    const base = blocks[Math.floor(Math.random() * blocks.length)]!;
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
  /** A per-run RUNTIME_DIRECTORY (for the daemon's pid file); see `runEnv`. */
  readonly runtimeDir: string;
}

export interface RunOptions {
  /** Extra YAML appended to the generated config (e.g. a `containers:` override). */
  readonly extraYaml?: string;
  /** Start of the pod name (default pw-e2e; the benchmark uses its own). */
  readonly prefix?: string;
  /** The config the run's config extends (default config/local.yaml). */
  readonly base?: string;
  /** Where the run's directory is made (default the OS temp directory). */
  readonly parent?: string;
  /**
   * The path the config names as pod.envFile (default the run's own env file). The env file
   * is still written to `envFile` in the run's directory; the caller puts it at this path.
   */
  readonly envFileAt?: string;
}

export const createRun = async (opts: RunOptions = {}): Promise<E2eRun> => {
  const id = randomBytes(3).toString("hex");
  const pod = `${opts.prefix ?? "pw-e2e"}-${id}`;
  const dir = await mkdtemp(join(opts.parent ?? tmpdir(), `${pod}-`));
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
      `extends: ${opts.base ?? LOCAL_CONFIG}`,
      "pod:",
      `  name: ${pod}`,
      `  ports: [${CONTAINER_PORTS.map((c) => `"${hostPort[c]}:${c}"`).join(", ")}]`,
      `  envFile: ${opts.envFileAt ?? envFile}`,
      `  persistRoot: ${persistRoot}`,
      // OpenCode looks things up on the internet at start; tests keep every lookup on this host.
      "  dns: [127.0.0.1]",
      opts.extraYaml ?? "",
    ].join("\n"),
  );
  return { pod, dir, config, envFile, password, persistRoot, hostPort, runtimeDir: join(dir, "runtime") };
};

/** The environment that points the daemon and `podwarden reload` at the run's own pid file. */
export const runEnv = (run: E2eRun): Record<string, string> => ({ RUNTIME_DIRECTORY: run.runtimeDir });

export interface CliOptions {
  /** Added to (and overriding) this process's environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** Options for node itself, before the CLI (e.g. --cpu-prof, which NODE_OPTIONS does not take). */
  readonly nodeArgs?: readonly string[];
}

const childEnv = (opts: CliOptions): NodeJS.ProcessEnv => (opts.env ? { ...process.env, ...opts.env } : process.env);

/** Runs the real CLI to completion. */
export const cli = (args: readonly string[], timeoutMs = 600_000, opts: CliOptions = {}): Promise<CliResult> =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"], env: childEnv(opts) });
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

/**
 * Starts the CLI in the background (for `run`); lines are collected as they come, from
 * stderr (where the daemon logs) and stdout.
 */
export const spawnCli = (args: readonly string[], opts: CliOptions = {}): { child: ChildProcess; lines: string[]; exited: Promise<number | null> } => {
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), CLI, ...args], { stdio: ["ignore", "pipe", "pipe"], env: childEnv(opts) });
  const lines: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    let partial = "";
    stream.on("data", (d: Buffer) => {
      const parts = (partial + d.toString()).split("\n");
      partial = parts.pop() ?? "";
      lines.push(...parts);
    });
  }
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
  readonly State: { Status: string; Running: boolean; StartedAt: string; FinishedAt: string; ExitCode: number; Pid: number };
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

// ---- the daemon as a child process, read through its JSON log ---------------------------

/** One line of the daemon's pino log (stderr, JSON). `time` is epoch ms. */
export interface LogEntry {
  readonly time: number;
  readonly level: number;
  readonly msg: string;
  readonly container?: string;
  readonly [field: string]: unknown;
}

/** The JSON log entries among `lines` (anything else, e.g. a stack trace, is skipped). */
export const parseLog = (lines: readonly string[]): LogEntry[] =>
  lines.flatMap((l) => {
    if (!l.startsWith("{")) return [];
    try {
      const j = JSON.parse(l) as Partial<LogEntry> | null;
      return j && typeof j.msg === "string" && typeof j.time === "number" ? [j as LogEntry] : [];
    } catch {
      return [];
    }
  });

/** A predicate for `waitForLog`/`filter`: this message, and these fields with these values. */
export const logIs =
  (msg: string, fields: Readonly<Record<string, unknown>> = {}) =>
  (e: LogEntry): boolean =>
    e.msg === msg && Object.entries(fields).every(([k, v]) => e[k] === v);

export interface Daemon {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Raw output lines so far (stdout and stderr). */
  readonly lines: string[];
  readonly exited: Promise<number | null>;
  readonly alive: boolean;
  /** A position in the log: pass it as `from` so that only later lines count. */
  mark(): number;
  logs(from?: number): LogEntry[];
  /** The first entry from `from` on that matches; fails early (with the log's tail) if the daemon exits. */
  waitForLog(what: string, match: (e: LogEntry) => boolean, opts?: { readonly from?: number; readonly timeoutMs?: number }): Promise<LogEntry>;
  /** The last `n` raw lines, for failure messages. */
  tail(n?: number): string;
  /** Everything it printed so far (both streams). */
  text(): string;
  /** SIGKILL unless it has exited; resolves once it has. */
  kill(): Promise<void>;
  /** Sends `signal` and waits (up to `timeoutMs`, then SIGKILL) for the exit; resolves to the exit code. */
  stop(signal: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
}

/** `podwarden run -c config [...args]` in the background (args: e.g. ["--log-level", "debug"]). */
export const startDaemon = (config: string, opts: CliOptions & { readonly args?: readonly string[] } = {}): Daemon => {
  const { child, lines, exited } = spawnCli(["run", "-c", config, ...(opts.args ?? [])], opts);
  let code: number | null | undefined;
  void exited.then((c) => (code = c));
  const tail = (n = 40): string => lines.slice(-n).join("\n");
  const daemon: Daemon = {
    child,
    pid: child.pid!,
    lines,
    exited,
    get alive() {
      return code === undefined && child.exitCode === null && child.signalCode === null;
    },
    mark: () => lines.length,
    logs: (from = 0) => parseLog(lines.slice(from)),
    waitForLog: async (what, match, { from = 0, timeoutMs = 120_000 } = {}) => {
      const deadline = Date.now() + timeoutMs;
      let seen = from;
      for (;;) {
        const upTo = lines.length;
        const hit = parseLog(lines.slice(seen, upTo)).find(match);
        if (hit) return hit;
        seen = upTo;
        if (!daemon.alive) throw new Error(`the daemon exited (${String(code ?? child.exitCode ?? child.signalCode)}) while waiting for ${what}; its log ends:\n${tail()}`);
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; the daemon's log ends:\n${tail()}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    tail,
    text: () => lines.join("\n"),
    kill: async () => {
      if (daemon.alive) child.kill("SIGKILL");
      await exited;
    },
    stop: async (signal, timeoutMs = 120_000) => {
      if (daemon.alive) child.kill(signal);
      const timer = setTimeout(() => daemon.alive && child.kill("SIGKILL"), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
  return daemon;
};

// ---- containers and processes ---------------------------------------------------------------

export interface ContainerIdentity {
  readonly id: string;
  readonly startedAt: string;
  readonly running: boolean;
  readonly pid: number;
  readonly exitCode: number;
}

/** Id, StartedAt and state of `<pod>-<name>` for each logical name. */
export const identities = async (pod: string, names: readonly string[]): Promise<Record<string, ContainerIdentity>> =>
  Object.fromEntries(
    await Promise.all(
      names.map(async (n) => {
        const i = await inspect(`${pod}-${n}`);
        return [n, { id: i.Id, startedAt: i.State.StartedAt, running: i.State.Running, pid: i.State.Pid, exitCode: i.State.ExitCode }] as const;
      }),
    ),
  );

/**
 * Sends `signal` to a container's main process from the host (kill -9 of PID 1 is a real
 * crash: the runtime sees the process die). Returns the pid and the time just before the kill.
 */
export const signalMain = async (podmanName: string, signal: NodeJS.Signals): Promise<{ pid: number; at: number }> => {
  const pid = (await inspect(podmanName)).State.Pid;
  if (!(pid > 0)) throw new Error(`${podmanName} has no main process (State.Pid ${pid})`);
  const at = Date.now();
  process.kill(pid, signal);
  return { pid, at };
};

let clockTicks: number | undefined;

/** User + system CPU seconds a process has used so far (from /proc/<pid>/stat). */
export const cpuSeconds = async (pid: number): Promise<number> => {
  clockTicks ??= Number((await exec("getconf", ["CLK_TCK"])).stdout.trim()) || 100;
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // Fields after "(comm)": state is field 3, utime 14, stime 15.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(rest[11]) + Number(rest[12])) / clockTicks;
};

// ---- the Podman API service -------------------------------------------------------------------

export const PODMAN_SERVICE_LOG = "/var/log/podman-service.log";

/** Whether the API socket answers `/_ping`. */
export const socketAnswers = (socketPath = SOCKET, timeoutMs = 2_000): Promise<boolean> =>
  new Promise((resolve) => {
    const req = request({ socketPath, path: "/_ping", method: "GET", timeout: timeoutMs }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode === 200));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
    req.end();
  });

/** Pids of `podman system service` processes (the API service .ci/setup-host.sh starts). */
export const podmanServicePids = async (): Promise<number[]> => {
  const r = await exec("pgrep", ["-f", "^(/usr/bin/)?podman system service"]).catch(() => ({ stdout: "" }));
  return r.stdout
    .split("\n")
    .map(Number)
    .filter((p) => Number.isInteger(p) && p > 0 && p !== process.pid);
};

const alivePid = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Stops the Podman API service (SIGTERM, SIGKILL after 15 s); returns the pids it stopped. */
export const stopPodmanService = async (): Promise<number[]> => {
  const pids = await podmanServicePids();
  for (const p of pids) process.kill(p, "SIGTERM");
  try {
    await waitFor("the Podman service to exit", () => pids.every((p) => !alivePid(p)), 15_000, 50);
  } catch {
    for (const p of pids.filter(alivePid)) process.kill(p, "SIGKILL");
    await waitFor("the Podman service to exit after SIGKILL", () => pids.every((p) => !alivePid(p)), 5_000, 50);
  }
  return pids;
};

/**
 * Starts the Podman API service exactly as .ci/setup-host.sh does (detached, in its own
 * session, logging to /var/log/podman-service.log) unless it already answers; resolves
 * when the socket answers.
 */
export const startPodmanService = async (timeoutMs = 30_000): Promise<void> => {
  if (await socketAnswers()) return;
  if ((await podmanServicePids()).length === 0) {
    await rm(SOCKET, { force: true });
    const log = openSync(PODMAN_SERVICE_LOG, "a");
    try {
      const child = spawn("setsid", ["nohup", "podman", "system", "service", "--time=0", `unix://${SOCKET}`], {
        // Not this process's directory: conmon inherits the service's, and containers fail
        // to start ("Failed to get working directory") once that directory is removed.
        cwd: "/",
        detached: true,
        stdio: ["ignore", log, log],
      });
      child.unref();
    } finally {
      closeSync(log);
    }
  }
  await waitFor("the Podman API socket to answer", () => socketAnswers(), timeoutMs, 100);
};

/** A config fragment adding `crashy`, a container that exits 3 at once, after OpenCode is up, with a short backoff. */
export const crashLoopYaml = (initialMs: number, maxMs: number): string =>
  [
    "defaults:",
    `  restart: { initialDelay: ${initialMs}ms, maxDelay: ${maxMs}ms }`,
    "containers:",
    "  crashy:",
    "    image: localhost/podwarden-valkey:local",
    '    command: [sh, -c, "exit 3"]',
    // Starts once the rest of the pod is ready, so the loop is watched from its first crash.
    "    dependsOn: [opencode]",
  ].join("\n");

/** A free TCP port on 127.0.0.1 (for the daemon's HTTP, Prometheus, ...). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const address = s.address();
      const port = typeof address === "object" && address ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
