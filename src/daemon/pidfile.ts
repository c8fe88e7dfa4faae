// The daemon's pid file, so that `podwarden reload` (when the control socket does not answer)
// and `restart-daemon` can find the daemon of a pod. Under systemd it lives in
// $RUNTIME_DIRECTORY (RuntimeDirectory=podwarden), else /run/podwarden. A pid alone is not
// trusted: the file also holds the process's start time, and a pid whose process started at
// another time (the pid was reused) or is not a podwarden `run` counts as no daemon.

import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { processArgv, startTicks } from "../lib/proc.js";


/** $RUNTIME_DIRECTORY (RuntimeDirectory=podwarden under systemd), else /run/podwarden. */
export const runtimeDir = (env: Readonly<Record<string, string | undefined>>): string => env.RUNTIME_DIRECTORY ?? "/run/podwarden";

export const pidfilePath = (env: Readonly<Record<string, string | undefined>>, pod: string): string => join(runtimeDir(env), `${pod}.pid`);

/** The daemon's control socket (mode 0600): `backup`, `restore`, `update` and `reload` ask the daemon through it. */
export const controlSocketPath = (env: Readonly<Record<string, string | undefined>>, pod: string): string => join(runtimeDir(env), `${pod}.sock`);

/** Whether an argv is podwarden's daemon: a podwarden entry point (dist/cli.js, the bin) running `run`. */
export const isDaemonArgv = (argv: readonly string[]): boolean => {
  const entry = argv.findIndex((a) => /(^|\/)(podwarden|cli\.js)$/.test(a));
  return entry >= 0 && argv.slice(entry + 1).includes("run");
};

/** The pid, the config file the daemon runs with (so `reload` can check it names the same), its start time. */
export const writePidfile = async (path: string, config: string): Promise<void> => {
  await mkdir(join(path, ".."), { recursive: true, mode: 0o755 });
  const ticks = await startTicks(process.pid);
  await writeFile(path, `${process.pid}\n${config}\n${ticks ?? ""}\n`, { mode: 0o644 });
};

export const removePidfile = (path: string): Promise<void> => rm(path, { force: true });

export interface LiveDaemon {
  readonly pid: number;
  readonly config: string | undefined;
}

/**
 * The live daemon's pid and config file, or undefined when there is none: no file, a pid that
 * is gone, a process that started at another time than the one recorded (the pid was reused),
 * or one that is not `podwarden run`.
 */
export const liveDaemon = async (path: string): Promise<LiveDaemon | undefined> => {
  const [first, second, third] = (await readFile(path, "utf8").catch(() => "")).split("\n");
  const pid = Number(first?.trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const recorded = third?.trim() ? Number(third.trim()) : undefined;
  const ticks = await startTicks(pid);
  if (ticks === undefined || (recorded !== undefined && recorded !== ticks)) return undefined;
  if (!isDaemonArgv(await processArgv(pid))) return undefined;
  return { pid, config: second?.trim() || undefined };
};
