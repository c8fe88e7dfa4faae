// Child processes timed from spawn to exit, and CPU and memory read from /proc and cgroups.

import { spawn } from "node:child_process";
import { readFile, readdir } from "node:fs/promises";
import { cpuSeconds } from "../../test/support/podman-harness.js";

export interface Timed {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Epoch ms just before spawn, and at exit. */
  readonly startAt: number;
  readonly endAt: number;
}

/** Runs `cmd` to completion; the clock starts just before spawn. */
export const timed = (cmd: string, args: readonly string[], opts: { readonly cwd?: string; readonly timeoutMs?: number } = {}): Promise<Timed> =>
  new Promise((resolve) => {
    const startAt = Date.now();
    // A group of its own, so that a timeout ends what it started too (a script's podman calls).
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], detached: true, ...(opts.cwd ? { cwd: opts.cwd } : {}) });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    }, opts.timeoutMs ?? 300_000);
    // A command that cannot be spawned (not installed) fails like one that exited non-zero.
    child.on("error", (err) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: `${stderr}${cmd}: ${err.message}\n`, startAt, endAt: Date.now() });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, startAt, endAt: Date.now() });
    });
  });

export const mustSucceed = (what: string, r: Timed): Timed => {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}:\n${r.stderr.slice(-3000)}\n${r.stdout.slice(-2000)}`);
  return r;
};

export { cpuSeconds };

/**
 * CPU seconds of a process's threads from their schedstat (nanoseconds on a CPU, user and
 * kernel): /proc/<pid>/stat counts clock ticks (10 ms), too coarse for a daemon that uses about
 * a tenth of a second a minute. Threads that have exited are not counted (node's live as long
 * as the process).
 */
export const threadCpuSeconds = async (pid: number): Promise<number> => {
  let ns = 0;
  for (const task of await readdir(`/proc/${pid}/task`)) {
    const line = await readFile(`/proc/${pid}/task/${task}/schedstat`, "utf8").catch(() => "0");
    ns += Number(line.split(" ")[0]);
  }
  return ns / 1e9;
};

/** Resident and peak resident memory of a process, bytes (VmRSS, VmHWM). */
export const memory = async (pid: number): Promise<{ rss: number; hwm: number }> => {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN) * 1024;
  return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
};

export const CPUACCT = "/sys/fs/cgroup/cpuacct";

/** CPU seconds used by everything that ever ran in a cpuacct cgroup (v1), e.g. /libpod_parent/<pod id>. */
export const cgroupCpuSeconds = async (cgroup: string): Promise<number> =>
  Number((await readFile(`${CPUACCT}${cgroup}/cpuacct.usage`, "utf8")).trim()) / 1e9;
