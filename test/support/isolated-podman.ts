// A second Podman API service of its own, to take a prerequisite away without touching the
// shared one other tests use: its own socket, storage (vfs, so no overlay mounts to undo), run
// root, tmp_dir (exit files, events), file locks (not the shared-memory locks of the host's
// service) and CNI config directory. CONTAINERS_CONF replaces every other containers.conf, and
// helper_binaries_dir is an empty directory of its own with PATH=/usr/sbin: Podman finds no
// catatonit, exactly like a fresh Debian host without it. Linking catatonit into that directory
// gives it back (Podman looks the binary up each time it builds its pause image).

import { execFile, spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);

export interface IsolatedPodman {
  readonly dir: string;
  readonly socket: string;
  /** Podman's helper_binaries_dir: empty (no catatonit) until `giveCatatonit`. */
  readonly helpers: string;
  /** GET on the service's API; the parsed JSON body. */
  get<T>(path: string): Promise<T>;
  /** Links the host's catatonit into the helper directory: the fix, applied. */
  giveCatatonit(): Promise<void>;
  /** Pod and container names in its storage (infra containers included). */
  leftovers(): Promise<{ pods: string[]; containers: string[] }>;
  /** Removes whatever pods are left, stops the service, deletes its storage. */
  stop(): Promise<void>;
}

const call = (socketPath: string, method: string, path: string): Promise<{ status: number; body: string }> =>
  new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method, timeout: 30_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer`)));
    req.on("error", reject);
    req.end();
  });

/** The host's hard limits, capped as .ci/setup-host.sh does (Podman's defaults exceed them here). */
const ulimits = async (): Promise<string> => {
  const { stdout } = await exec("bash", ["-c", "ulimit -Hn; ulimit -Hu"]);
  const [n, u] = stdout.trim().split("\n").map((v) => (v === "unlimited" ? Infinity : Number(v)));
  const nofile = Math.min(n ?? 1_048_576, 1_048_576);
  const nproc = Math.min(u ?? 4096, 4096);
  return `default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]`;
};

export const startIsolatedPodman = async (): Promise<IsolatedPodman> => {
  const limits = await ulimits();
  const dir = await mkdtemp(join(tmpdir(), "pw-isolated-podman-"));
  const [root, runroot, tmp, helpers, net] = ["root", "runroot", "tmp", "helpers", "net"].map((d) => join(dir, d)) as [string, string, string, string, string];
  for (const d of [root, runroot, tmp, helpers, net]) await mkdir(d, { recursive: true });
  const conf = join(dir, "containers.conf");
  await writeFile(
    conf,
    [
      "[containers]",
      limits,
      "[engine]",
      'runtime = "runc"',
      `helper_binaries_dir = ["${helpers}"]`,
      `tmp_dir = "${tmp}"`,
      'lock_type = "file"',
      'events_logger = "file"',
      "[network]",
      `network_config_dir = "${net}"`,
      "",
    ].join("\n"),
  );
  const socket = join(dir, "podman.sock");
  const log = join(dir, "service.log");
  const fd = openSync(log, "a");
  const child: ChildProcess = spawn(
    "/usr/bin/podman",
    ["--root", root, "--runroot", runroot, "--storage-driver", "vfs", "system", "service", "--time=0", `unix://${socket}`],
    { env: { PATH: "/usr/sbin", CONTAINERS_CONF: conf }, detached: true, stdio: ["ignore", fd, fd] },
  );
  closeSync(fd);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const get = async <T>(path: string): Promise<T> => {
    const r = await call(socket, "GET", path);
    if (r.status !== 200) throw new Error(`GET ${path}: HTTP ${r.status}: ${r.body}`);
    return JSON.parse(r.body) as T;
  };
  const leftovers = async () => ({
    pods: (await get<{ Name: string }[]>("/v4.0.0/libpod/pods/json")).map((p) => p.Name),
    containers: (await get<{ Names: string[] }[]>("/v4.0.0/libpod/containers/json?all=true")).flatMap((c) => c.Names),
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const pods = await leftovers().then((l) => l.pods, () => [] as string[]);
      for (const p of pods) await call(socket, "DELETE", `/v4.0.0/libpod/pods/${p}?force=true&timeout=0`).catch(() => undefined);
      process.kill(-child.pid!, "SIGTERM");
      const timer = setTimeout(() => child.exitCode === null && process.kill(-child.pid!, "SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    // vfs makes no mounts; anything mounted under the directory all the same is let go first.
    const mounts = (await readFile("/proc/self/mountinfo", "utf8")).split("\n").map((l) => l.split(" ")[4]).filter((m): m is string => m?.startsWith(dir) === true);
    for (const m of mounts.reverse()) await exec("umount", ["-l", m]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  for (let i = 0; ; i++) {
    const up = await call(socket, "GET", "/_ping").then((r) => r.status === 200, () => false);
    if (up) break;
    if (i > 100 || child.exitCode !== null) {
      const text = await readFile(log, "utf8").catch(() => "");
      await stop();
      throw new Error(`the isolated Podman service did not answer: ${text.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    dir,
    socket,
    helpers,
    get,
    giveCatatonit: () => symlink("/usr/bin/catatonit", join(helpers, "catatonit")),
    leftovers,
    stop,
  };
};
