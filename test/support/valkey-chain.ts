// A pod of N small containers from the local Valkey image, each depending on the one before
// (or, `independent`, all started in one pass), for
// the e2e tests of locking and stopping: each waits `delayS` seconds before its server listens
// (a slow start), is probed by an exec probe (valkey-cli ping: no published port needed) and
// has a short stop timeout. The run's config (createRun) extends this file.

import { writeFile } from "node:fs/promises";
import { join } from "node:path";

export const VALKEY_IMAGE = "localhost/podwarden-valkey:local";

export const chainNames = (n: number): string[] => Array.from({ length: n }, (_, i) => `s${String(i + 1).padStart(2, "0")}`);

/** Writes the base config into `dir`; returns its path. */
export const writeValkeyChain = async (
  dir: string,
  opts: { readonly count: number; readonly delayS: number; readonly stopTimeoutS: number; readonly independent?: boolean; readonly startPeriodS?: number },
): Promise<string> => {
  const names = chainNames(opts.count);
  const lines = [
    "pod:",
    "  name: pw-e2e-chain",
    "  envFile: /dev/null",
    "  persistRoot: /nonexistent",
    "containers:",
    ...names.flatMap((n, i) => {
      const port = 7001 + i;
      // exec: valkey is PID 1 once it listens, so SIGTERM stops it at once; during the delay sh
      // is PID 1 and ignores SIGTERM, so a stop takes the whole stop timeout.
      const script = `sleep ${opts.delayS}; exec valkey-server --port ${port} --save '' --appendonly no`;
      return [
        `  ${n}:`,
        `    image: ${VALKEY_IMAGE}`,
        `    command: [sh, -c, ${JSON.stringify(script)}]`,
        `    probe: { exec: [valkey-cli, -p, "${port}", ping], startInterval: 200ms, startPeriod: ${opts.startPeriodS ?? 60}s }`,
        `    stopTimeout: ${opts.stopTimeoutS}s`,
        ...(i > 0 && !opts.independent ? [`    dependsOn: [${names[i - 1]}]`] : []),
      ];
    }),
  ];
  const path = join(dir, "chain-base.yaml");
  await writeFile(path, `${lines.join("\n")}\n`);
  return path;
};
