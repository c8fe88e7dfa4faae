// Runs a container's declared probe and reports the result. Native probes (redis, http,
// tcp) dial the pod's published host port from the host; exec probes run inside the
// container through the runtime (libpod healthcheck endpoint).

import type { ProbeResult } from "../domain/history.js";
import type { ObservedContainer } from "../domain/observed.js";
import type { ContainerSpec, PodSpec, ProbeSpec, Secrets } from "../domain/spec.js";
import { untilAborted } from "../lib/abort.js";
import type { Clock } from "../lib/clock.js";
import { errorMessage } from "../lib/errors.js";
import type { ContainerRuntime } from "../runtime/port.js";
import { probeHttp } from "./http.js";
import { probeRedis } from "./redis.js";
import { probeTcp, type Target } from "./tcp.js";

/** Runs the probe once; an aborted `signal` (the daemon stopping) fails it at once (a native probe's connection is closed then too). */
export type Prober = (container: ContainerSpec, observed: ObservedContainer, signal?: AbortSignal) => Promise<ProbeResult>;

export interface ProberDeps {
  readonly spec: PodSpec;
  readonly secrets: Secrets;
  readonly runtime: Pick<ContainerRuntime, "healthcheck">;
  readonly clock: Clock;
  /** Host the published ports are reached on. */
  readonly host?: string;
}

export const hostPortFor = (spec: PodSpec, containerPort: number): number =>
  spec.ports.find((p) => p.container === containerPort && p.protocol === "tcp")?.host ?? containerPort;

const runOnce = async (deps: ProberDeps, probe: ProbeSpec, observed: ObservedContainer, signal: AbortSignal | undefined): Promise<string> => {
  if (probe.kind === "exec") {
    const r = await untilAborted(deps.runtime.healthcheck(observed.id, probe.timeoutMs), signal);
    if (!r.ok) throw new Error(r.message);
    return r.message;
  }
  const target: Target = { host: deps.host ?? "127.0.0.1", port: hostPortFor(deps.spec, probe.port) };
  switch (probe.kind) {
    case "tcp":
      return probeTcp(target, probe.timeoutMs, signal);
    case "redis": {
      const password = probe.passwordKey === undefined ? undefined : deps.secrets.get(probe.passwordKey);
      return probeRedis(target, probe.timeoutMs, password, signal);
    }
    case "http": {
      const password = probe.auth ? deps.secrets.get(probe.auth.passwordKey) : undefined;
      const username =
        (probe.auth?.usernameKey === undefined ? undefined : deps.secrets.get(probe.auth.usernameKey)) ??
        probe.auth?.defaultUsername ??
        "";
      return probeHttp(target, probe.path, probe.timeoutMs, password === undefined ? undefined : { username, password }, signal);
    }
  }
};

export const createProber =
  (deps: ProberDeps): Prober =>
  async (container, observed, signal) => {
    const probe = container.probe;
    const started = deps.clock.now();
    if (!probe) return { ok: true, ms: 0, at: started, message: "no probe: running counts as ready" };
    try {
      const message = await runOnce(deps, probe, observed, signal);
      const at = deps.clock.now();
      return { ok: true, ms: at - started, at, message };
    } catch (err) {
      const at = deps.clock.now();
      return { ok: false, ms: at - started, at, message: errorMessage(err) };
    }
  };
