// The Node.js flags and the environment the systemd unit gives the daemon (its ExecStart= and
// Environment= lines): the bench runs the daemon as the unit does, so its CPU and memory
// figures are the ones a user gets, and the build makes the code cache for these flags.

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..");

/** The words between the node binary and dist/cli.js in the shipped unit's ExecStart=. */
const UNIT = join(REPO, "systemd/opencode-memory-pod.service");
const unitLines = (unitFile: string): string[] => readFileSync(unitFile, "utf8").split("\n");

export const unitNodeFlags = (unitFile = UNIT): string[] => {
  const line = unitLines(unitFile).find((l) => l.startsWith("ExecStart="));
  if (line === undefined) throw new Error(`${unitFile}: no ExecStart= line`);
  const argv = line.slice("ExecStart=".length).trim().split(/\s+/);
  const script = argv.findIndex((a) => a.endsWith("/dist/cli.js"));
  if (script < 1) throw new Error(`${unitFile}: ExecStart= does not run dist/cli.js with node`);
  return argv.slice(1, script);
};

/**
 * The unit's Environment= variables for the process itself (MALLOC_ARENA_MAX, NODE_ENV), not
 * podwarden's own PODWARDEN_* settings, which the bench gives as arguments.
 */
export const unitEnvironment = (unitFile = UNIT): Record<string, string> =>
  Object.fromEntries(
    unitLines(unitFile)
      .filter((l) => l.startsWith("Environment="))
      .map((l) => l.slice("Environment=".length).trim())
      .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)] as [string, string])
      .filter(([k]) => k !== "" && !k.startsWith("PODWARDEN_")),
  );
