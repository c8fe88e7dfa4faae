// The composition root: builds every object the commands need and wires them together.
// Nothing else constructs runtimes, loggers or supervisors.

import { existsSync } from "node:fs";
import { backoffFrom } from "./domain/backoff.js";
import type { PodSpec, Secrets } from "./domain/spec.js";
import { loadConfig } from "./config/load.js";
import { systemClock, type Clock } from "./lib/clock.js";
import { createLogger, type Logger } from "./observability/logger.js";
import { prettyDestination } from "./observability/pretty.js";
import { createProber } from "./probes/prober.js";
import { PodmanRuntime } from "./runtime/podman-runtime.js";
import type { ContainerRuntime } from "./runtime/port.js";
import { discoverSocket } from "./runtime/socket.js";
import { Reconciler } from "./supervisor/reconciler.js";
import { Supervisor } from "./supervisor/supervisor.js";

export interface GlobalOptions {
  readonly config: string;
  readonly socket?: string | undefined;
  readonly logLevel: string;
  readonly logFormat: "json" | "pretty";
  readonly env: Readonly<Record<string, string | undefined>>;
}

export const HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

export interface Loaded {
  readonly spec: PodSpec;
  readonly secrets: Secrets;
  readonly warnings: readonly string[];
  readonly logger: Logger;
}

/** Loads and validates the config (nothing touches Podman before this succeeds). */
export const load = async (opts: GlobalOptions): Promise<Loaded> => {
  const { spec, secrets, warnings } = await loadConfig(opts.config);
  const logger = createLogger({
    level: opts.logLevel,
    secretValues: [...secrets.values()],
    ...(opts.logFormat === "pretty" ? { destination: prettyDestination(process.stderr) } : {}),
  });
  for (const w of warnings) logger.warn({ config: spec.source }, w);
  return { spec, secrets, warnings, logger };
};

export const createRuntime = (opts: GlobalOptions): { runtime: ContainerRuntime; socket: string } => {
  const socket = discoverSocket({ flag: opts.socket, env: opts.env, uid: process.getuid?.() ?? 0, exists: existsSync });
  return { runtime: new PodmanRuntime({ socketPath: socket.path, hostCaBundle: HOST_CA_BUNDLE }), socket: socket.path };
};

export interface Daemon extends Loaded {
  readonly runtime: ContainerRuntime;
  readonly socket: string;
  readonly reconciler: Reconciler;
  readonly supervisor: Supervisor;
  readonly clock: Clock;
}

export const buildDaemon = async (opts: GlobalOptions): Promise<Daemon> => {
  const loaded = await load(opts);
  const { runtime, socket } = createRuntime(opts);
  const clock = systemClock;
  const prober = createProber({ spec: loaded.spec, secrets: loaded.secrets, runtime, clock });
  const reconciler = new Reconciler({
    spec: loaded.spec,
    secrets: loaded.secrets,
    runtime,
    prober,
    clock,
    logger: loaded.logger.child({ component: "reconciler" }),
    backoff: backoffFrom(loaded.spec.restart),
    random: Math.random,
  });
  const supervisor = new Supervisor({ reconciler, clock, logger: loaded.logger, events: runtime });
  return { ...loaded, runtime, socket, reconciler, supervisor, clock };
};
