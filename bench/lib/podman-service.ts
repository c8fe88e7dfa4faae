// A private Podman API service for CPU accounting: the shared service also serves everyone
// else on this machine, so its CPU says nothing about one daemon. This one listens on a
// socket of its own and runs in a cpuacct cgroup (v1) of its own, which its children
// (runc calls; not conmon, which Podman moves into the pod's cgroup) inherit. It shares
// Podman's storage, so it sees and drives the same containers. Stopped by its pid.

import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { mkdir, readFile, rmdir } from "node:fs/promises";
import { join } from "node:path";
import { socketAnswers, waitFor } from "../../test/support/podman-harness.js";
import type { Janitor } from "./bench-run.js";
import { CPUACCT } from "./proc.js";

export interface PrivateService {
  readonly socket: string;
  readonly pid: number;
  /** Its cgroup below the cpuacct hierarchy, e.g. /pw-bench-svc-1234. */
  readonly cgroup: string;
  readonly log: string;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

export const startPrivateService = async (janitor: Janitor, dir: string, tag: string): Promise<PrivateService> => {
  const cgroup = `/${tag}`;
  await mkdir(`${CPUACCT}${cgroup}`);
  const socket = join(dir, `${tag}.sock`);
  const log = join(dir, `${tag}.log`);
  const fd = openSync(log, "a");
  let pid: number;
  try {
    // The shell joins the cgroup, then becomes the service: everything it forks is counted there.
    const child = spawn("sh", ["-c", `echo $$ > ${CPUACCT}${cgroup}/cgroup.procs && exec podman system service --time=0 unix://${socket}`], {
      cwd: "/", // conmon inherits the service's working directory; keep it one that stays
      detached: true,
      stdio: ["ignore", fd, fd],
    });
    child.unref();
    pid = child.pid!;
  } finally {
    closeSync(fd);
  }
  janitor.add(`private Podman service ${pid}`, async () => {
    if (alive(pid)) process.kill(pid, "SIGTERM");
    await waitFor("the private Podman service to exit", () => !alive(pid), 15_000, 50).catch(() => {
      if (alive(pid)) process.kill(pid, "SIGKILL");
    });
    // Its cgroup goes once the last process in it has exited.
    await waitFor(
      `cgroup ${cgroup} to be empty`,
      async () => (await readFile(`${CPUACCT}${cgroup}/cgroup.procs`, "utf8").catch(() => "")).trim() === "",
      10_000,
      100,
    ).catch(() => undefined);
    await rmdir(`${CPUACCT}${cgroup}`);
  });
  await waitFor("the private Podman service to answer", () => socketAnswers(socket), 30_000, 100);
  return { socket, pid, cgroup, log };
};
