// The alternatives to podwarden, rendered from the same PodSpec so that every way of
// starting the pod runs the same images, commands, environment, mounts and ports:
//   - the floor's plan (libpod JSON made by podwarden's own translation, secrets as plain env);
//   - the seed's systemd unit as a shell script (pod create, then `podman run -d` in order),
//     optionally gated the way a person would gate it (poll `podman healthcheck run` every second);
//   - a compose file for podman-compose with the same services and depends_on.

import { SOCKET } from "../../test/support/podman-harness.js";
import { containerCreateRequest } from "../../src/domain/create-request.js";
import { podmanName, type ContainerSpec, type MountSpec, type PodSpec } from "../../src/domain/spec.js";
import { toSpecGenerator } from "../../src/runtime/podman-runtime.js";
import { stringify } from "yaml";
import { EXEC_CHECKS, presentMounts, secretEnvOf, type BenchRun } from "../lib/bench-run.js";

export interface FloorPlan {
  readonly socket: string;
  /** libpod pods/create body. */
  readonly pod: Record<string, unknown>;
  readonly containers: readonly { readonly name: string; readonly podmanName: string; readonly body: Record<string, unknown> }[];
  readonly spec: PodSpec;
  readonly secrets: readonly (readonly [string, string])[];
  readonly everyMs: number;
}

/**
 * The floor's plan. `restart: "always"` gives the same containers Podman's own restart
 * policy (for the recovery comparison); podwarden's containers have none.
 */
export const floorPlan = async (run: BenchRun, opts: { readonly restart?: "no" | "always"; readonly socket?: string } = {}): Promise<FloorPlan> => {
  const containers = [];
  for (const c of run.spec.containers) {
    const req = containerCreateRequest(run.spec, c);
    const body = toSpecGenerator(req, await presentMounts(c));
    containers.push({
      name: c.name,
      podmanName: req.name,
      body: { ...body, env: { ...req.env, ...secretEnvOf(c, run.secrets) }, restart_policy: opts.restart ?? "no" },
    });
  }
  return {
    socket: opts.socket ?? SOCKET,
    pod: {
      name: run.pod,
      labels: { "io.podwarden.pod": run.pod },
      portmappings: run.spec.ports.map((p) => ({ host_port: p.host, container_port: p.container, protocol: p.protocol })),
      ...(run.spec.dns ? { dns_server: run.spec.dns } : {}),
    },
    containers,
    spec: run.spec,
    secrets: [...run.secrets.entries()],
    everyMs: 10,
  };
};

export const shQuote = (v: string): string => (/^[\w@%+=:,./-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`);
const shell = (argv: readonly string[]): string => argv.map(shQuote).join(" ");

const volume = (m: MountSpec): string => `${m.source}:${m.target}${m.readOnly ? ":ro" : ""}`;

/** `podman run` options shared by the script and compose: env, env file, mounts. */
const runOptions = async (run: BenchRun, c: ContainerSpec): Promise<string[]> => [
  ...Object.entries(c.env).flatMap(([k, v]) => ["-e", `${k}=${v}`]),
  ...(c.secretEnv === "all" || c.secretEnv.length > 0 ? ["--env-file", run.envFile] : []),
  ...(await presentMounts(c)).flatMap((m) => ["-v", volume(m)]),
  ...(c.entrypoint ? ["--entrypoint", JSON.stringify(c.entrypoint)] : []),
  ...(c.workdir ? ["--workdir", c.workdir] : []),
  ...(c.user ? ["--user", c.user] : []),
];

const execCheck = (name: string): readonly string[] => {
  const check = EXEC_CHECKS[name];
  if (!check) throw new Error(`no health check for ${name}`);
  return check;
};

/**
 * The seed unit's ExecStartPre/ExecStart lines as one bash script: `podman pod create`, then
 * `podman run -d` for each container in order, with the health checks the seed declares
 * (extended to all four). `gated`: after each run, `podman healthcheck run` every second
 * until it passes, as a person would write to get the ordering the seed asks for.
 */
export const seedScript = async (run: BenchRun, opts: { readonly gated: boolean }): Promise<string> => {
  const lines = [
    "#!/bin/bash",
    `# The seed's unit as a script${opts.gated ? ", gated on each container's health check (polled every second)" : " (no gating)"}.`,
    "set -euo pipefail",
    shell([
      "podman",
      "pod",
      "create",
      "--name",
      run.pod,
      ...run.spec.ports.flatMap((p) => ["-p", `${p.host}:${p.container}`]),
      ...(run.spec.dns ?? []).flatMap((d) => ["--dns", d]),
    ]),
  ];
  for (const c of run.spec.containers) {
    const name = podmanName(run.pod, c.name);
    lines.push(
      shell([
        "podman",
        "run",
        "-d",
        "--pod",
        run.pod,
        "--name",
        name,
        "--health-cmd",
        shell(execCheck(c.name)),
        ...(await runOptions(run, c)),
        c.image,
        ...(c.command ?? []),
      ]) + " >/dev/null",
    );
    if (opts.gated) lines.push(`until podman healthcheck run ${shQuote(name)} >/dev/null 2>&1; do sleep 1; done`);
  }
  return `${lines.join("\n")}\n`;
};

/** Which container listens on which of the pod's ports (compose has no pod: each service publishes its own). */
export const SERVICE_PORTS: Readonly<Record<string, readonly number[]>> = {
  valkey: [6380],
  falkordb: [6379, 3000],
  datadog: [8126],
  opencode: [4096],
};

/** A compose file with the same services, ports, health checks and depends_on (podman-compose 1.0.3). */
export const composeFile = async (run: BenchRun): Promise<string> => {
  const services: Record<string, unknown> = {};
  for (const c of run.spec.containers) {
    const ports = (SERVICE_PORTS[c.name] ?? []).map((cp) => {
      const p = run.spec.ports.find((x) => x.container === cp);
      if (!p) throw new Error(`port ${cp} of ${c.name} is not published`);
      return `${p.host}:${p.container}`;
    });
    const mounts = await presentMounts(c);
    services[c.name] = {
      image: c.image,
      container_name: podmanName(run.pod, c.name),
      ...(c.command ? { command: [...c.command] } : {}),
      ...(c.entrypoint ? { entrypoint: [...c.entrypoint] } : {}),
      ...(Object.keys(c.env).length > 0 ? { environment: { ...c.env } } : {}),
      ...(c.secretEnv === "all" || c.secretEnv.length > 0 ? { env_file: [run.envFile] } : {}),
      ...(mounts.length > 0 ? { volumes: mounts.map(volume) } : {}),
      ...(ports.length > 0 ? { ports } : {}),
      healthcheck: { test: ["CMD-SHELL", shell(execCheck(c.name))] },
      ...(c.dependsOn.length > 0 ? { depends_on: c.dependsOn.map((d) => d.name) } : {}),
    };
  }
  return stringify({ version: "3", services });
};
