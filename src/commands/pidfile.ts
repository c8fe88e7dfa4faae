// The daemon's pid file, so that `podwarden reload` can find the daemon of a pod.
// Under systemd it lives in $RUNTIME_DIRECTORY (RuntimeDirectory=podwarden), else /run/podwarden.

import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** $RUNTIME_DIRECTORY (RuntimeDirectory=podwarden under systemd), else /run/podwarden. */
export const runtimeDir = (env: Readonly<Record<string, string | undefined>>): string => env.RUNTIME_DIRECTORY ?? "/run/podwarden";

export const pidfilePath = (env: Readonly<Record<string, string | undefined>>, pod: string): string => join(runtimeDir(env), `${pod}.pid`);

/** The daemon's control socket (mode 0600): `backup`, `restore` and `update` ask the daemon through it. */
export const controlSocketPath = (env: Readonly<Record<string, string | undefined>>, pod: string): string => join(runtimeDir(env), `${pod}.sock`);

/** The pid, then the config file the daemon runs with (so `reload` can check it names the same). */
export const writePidfile = async (path: string, config: string): Promise<void> => {
  await mkdir(join(path, ".."), { recursive: true, mode: 0o755 });
  await writeFile(path, `${process.pid}\n${config}\n`, { mode: 0o644 });
};

export const removePidfile = (path: string): Promise<void> => rm(path, { force: true });

/** The live daemon's pid and config file, or undefined when there is none (stale files count as none). */
export const liveDaemon = async (path: string): Promise<{ pid: number; config: string | undefined } | undefined> => {
  const [first, second] = (await readFile(path, "utf8").catch(() => "")).split("\n");
  const pid = Number(first?.trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return { pid, config: second?.trim() || undefined };
  } catch {
    return undefined;
  }
};
