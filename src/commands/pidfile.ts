// The daemon's pid file, so that `podwarden reload` can find the daemon of a pod.
// Under systemd it lives in $RUNTIME_DIRECTORY (RuntimeDirectory=podwarden), else /run/podwarden.

import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

export const pidfilePath = (env: Readonly<Record<string, string | undefined>>, pod: string): string =>
  join(env.RUNTIME_DIRECTORY ?? "/run/podwarden", `${pod}.pid`);

export const writePidfile = async (path: string): Promise<void> => {
  await mkdir(join(path, ".."), { recursive: true, mode: 0o755 });
  await writeFile(path, `${process.pid}\n`, { mode: 0o644 });
};

export const removePidfile = (path: string): Promise<void> => rm(path, { force: true });

/** The pid of a live daemon, or undefined when there is none (stale files count as none). */
export const livePid = async (path: string): Promise<number | undefined> => {
  const text = await readFile(path, "utf8").catch(() => undefined);
  const pid = Number(text?.trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
};
