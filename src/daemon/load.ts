// The first two pieces of every command that touches the pod: the config with its logger, and
// a runtime on the Podman socket. Nothing touches Podman before the config is valid.

import { existsSync } from "node:fs";
import type { HttpSettings } from "../config/http.js";
import type { JobsSettings } from "../config/jobs.js";
import { loadConfig } from "../config/load.js";
import type { PodSpec, Secrets } from "../domain/spec.js";
import { logDestination } from "../observability/destination.js";
import { SecretScrubber, createLogger, type Logger } from "../observability/logger.js";
import { PodmanRuntime, type PodmanRuntimeOptions } from "../runtime/podman-runtime.js";
import type { ContainerRuntime } from "../runtime/port.js";
import { discoverSocket, socketCandidates } from "../runtime/socket.js";
import type { GlobalOptions } from "./options.js";

export const HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

export interface Loaded {
  readonly spec: PodSpec;
  readonly secrets: Secrets;
  readonly http: HttpSettings;
  readonly jobSettings: JobsSettings;
  readonly warnings: readonly string[];
  readonly logger: Logger;
  readonly scrubber: SecretScrubber;
}

/** Loads and validates the config (nothing touches Podman before this succeeds). */
export const load = async (opts: GlobalOptions): Promise<Loaded> => {
  const { spec, secrets, warnings, http, jobs: jobSettings } = await loadConfig(opts.config);
  const scrubber = new SecretScrubber([...secrets.values(), ...(http.token ? [http.token] : [])]);
  const logger = createLogger({
    level: opts.logLevel,
    scrubber,
    destination: logDestination(opts),
  });
  for (const w of warnings) logger.warn({ config: spec.source }, w);
  return { spec, secrets, warnings, logger, scrubber, http, jobSettings };
};

/**
 * `patient`: the daemon waits for a socket that is not there yet (Podman may start after
 * it) instead of failing; commands fail at once with exit 69.
 */
export const createRuntime = (
  opts: GlobalOptions,
  patient = false,
  onApiCall?: PodmanRuntimeOptions["onApiCall"],
): { runtime: ContainerRuntime; socket: string } => {
  const sources = { flag: opts.socket, env: opts.env, uid: process.getuid?.() ?? 0, exists: existsSync };
  const socket = patient ? (socketCandidates(sources).find((c) => existsSync(c.path)) ?? socketCandidates(sources)[0]!) : discoverSocket(sources);
  return { runtime: new PodmanRuntime({ socketPath: socket.path, hostCaBundle: HOST_CA_BUNDLE, ...(onApiCall ? { onApiCall } : {}) }), socket: socket.path };
};
