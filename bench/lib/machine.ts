// What the figures were measured on: machine, versions, and how busy the machine was.

import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { availableParallelism, cpus, loadavg, release, totalmem } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { REPO, SOCKET, podman } from "../../test/support/podman-harness.js";

const exec = promisify(execFile);

export const loadAverage = (): string =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(" / ");

const quiet = async (f: () => Promise<string>): Promise<string> => f().then((s) => s.trim(), () => "?");

/** Lines for the report's header. */
export const machineLines = async (): Promise<string[]> => {
  const pkg = JSON.parse(await readFile(join(REPO, "package.json"), "utf8")) as { version: string };
  const commit = await quiet(async () => (await exec("git", ["-C", REPO, "rev-parse", "--short", "HEAD"])).stdout);
  const dirty = await quiet(async () => ((await exec("git", ["-C", REPO, "status", "--porcelain", "--", "src"])).stdout.trim() ? " (src modified)" : ""));
  const podmanVersion = await quiet(() => podman("version", "--format", "{{.Server.Version}}"));
  const compose = await quiet(async () => (await exec("dpkg-query", ["-W", "-f", "${Version}", "podman-compose"])).stdout);
  const others = await quiet(async () => String((await podman("ps", "-q")).split("\n").filter(Boolean).length));
  return [
    `- CPU: ${availableParallelism()} × ${cpus()[0]?.model ?? "?"}; memory ${(totalmem() / 2 ** 30).toFixed(1)} GiB; kernel ${release()}`,
    `- Podman ${podmanVersion} (API service on ${SOCKET}, runtime runc, cgroup v1 with the cgroupfs manager); podman-compose ${compose} (Debian)`,
    `- Node ${process.version}; podwarden ${pkg.version} at ${commit}${dirty}`,
    `- containers already running on the host when the run began (other users of this machine): ${others}`,
  ];
};
