// What /proc tells about a process: its argv and its start time (which, with its pid, names
// one process even after the pid is reused); and about this one, its file descriptors.

import { readdirSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";

/**
 * The start time of a process (field 22 of /proc/<pid>/stat, clock ticks since boot), or
 * undefined when there is no such process. The command name (field 2) may hold spaces and
 * parentheses: the fields are counted after its last ")".
 */
export const parseStartTicks = (stat: string): number | undefined => {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[19]);
  return Number.isSafeInteger(ticks) && ticks >= 0 ? ticks : undefined;
};

export const startTicks = async (pid: number): Promise<number | undefined> =>
  parseStartTicks(await readFile(`/proc/${pid}/stat`, "utf8").catch(() => ""));

/** A process's argv (empty when it is gone or cannot be read). */
export const processArgv = async (pid: number): Promise<string[]> =>
  (await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).split("\0").filter((a) => a !== "");

/** How many file descriptors this process holds open (NaN when /proc cannot be read). */
export const ownOpenFds = (): number => {
  try {
    // Less the one the listing itself holds open while it runs.
    return readdirSync("/proc/self/fd").length - 1;
  } catch {
    return Number.NaN;
  }
};

/** This process's soft limit on open file descriptors (NaN when /proc cannot be read or says unlimited). */
export const ownMaxFds = (): number => {
  try {
    const line = readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
    return Number(line?.split(/\s{2,}/)[1] ?? Number.NaN);
  } catch {
    return Number.NaN;
  }
};
