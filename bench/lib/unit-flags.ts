// The Node.js flags the systemd unit gives the daemon (its ExecStart=): the bench runs the
// daemon as the unit does, so its CPU and memory figures are the ones a user gets.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "../../test/support/podman-harness.js";

/** The words between the node binary and dist/cli.js in the shipped unit's ExecStart=. */
export const unitNodeFlags = (unitFile = join(REPO, "systemd/opencode-memory-pod.service")): string[] => {
  const line = readFileSync(unitFile, "utf8")
    .split("\n")
    .find((l) => l.startsWith("ExecStart="));
  if (line === undefined) throw new Error(`${unitFile}: no ExecStart= line`);
  const argv = line.slice("ExecStart=".length).trim().split(/\s+/);
  const script = argv.findIndex((a) => a.endsWith("/dist/cli.js"));
  if (script < 1) throw new Error(`${unitFile}: ExecStart= does not run dist/cli.js with node`);
  return argv.slice(1, script);
};
