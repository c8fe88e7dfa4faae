// systemctl, spawned: the few calls `restart-daemon`, `install` and `uninstall` make. Never
// throws: a missing systemctl or a host without systemd as PID 1 is an exit code and a reason.

import { execFile } from "node:child_process";

export interface SystemctlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export type Systemctl = (args: readonly string[]) => Promise<SystemctlResult>;

export const systemctl: Systemctl = (args) =>
  new Promise((resolve) => {
    execFile("systemctl", ["--no-pager", ...args], (err, stdout, stderr) => {
      const errno = (err as NodeJS.ErrnoException | null)?.code;
      if (errno === "ENOENT") resolve({ code: 127, stdout: "", stderr: "systemctl is not installed" });
      else resolve({ code: err ? (typeof errno === "number" ? errno : 1) : 0, stdout: String(stdout), stderr: String(stderr).trim() });
    });
  });

/** The unit's main pid, or undefined (no such unit, not running, no systemd). */
export const mainPid = async (run: Systemctl, unit: string): Promise<number | undefined> => {
  const r = await run(["show", "-p", "MainPID", "--value", unit]);
  const pid = Number(r.stdout.trim());
  return r.code === 0 && Number.isInteger(pid) && pid > 0 ? pid : undefined;
};

/** A unit name as systemd spells one ("name.service"); a bare name gets ".service". Undefined if it is not one. */
export const serviceName = (name: string): string | undefined => {
  const full = name.endsWith(".service") ? name : `${name}.service`;
  return /^[A-Za-z0-9:_.\\@-]{1,240}\.service$/.test(full) && !full.startsWith("-") ? full : undefined;
};

/** The systemd service whose cgroup holds the pid ("x.service" in /proc/<pid>/cgroup), if any. */
export const serviceOfCgroup = (procCgroup: string): string | undefined => {
  for (const line of procCgroup.split("\n")) {
    const path = line.split(":").slice(2).join(":");
    const service = path.split("/").reverse().find((part) => part.endsWith(".service"));
    if (service) return service;
  }
  return undefined;
};

/**
 * The config file a unit's daemon runs with: PODWARDEN_CONFIG in the unit's environment as
 * systemd has it loaded (a drop-in may change it), or undefined (no such unit, not absolute).
 */
export const unitConfig = async (run: Systemctl, unit: string): Promise<string | undefined> => {
  const r = await run(["show", "-p", "Environment", "--value", unit]);
  if (r.code !== 0) return undefined;
  const value = r.stdout
    .trim()
    .split(/\s+/)
    .findLast((a) => a.startsWith("PODWARDEN_CONFIG="))
    ?.slice("PODWARDEN_CONFIG=".length);
  return value?.startsWith("/") ? value : undefined;
};
