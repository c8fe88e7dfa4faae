// Reloading the config of a running daemon (SIGHUP, `podwarden reload` through the control
// socket, POST /reload with the token): a bad file throws ConfigError and changes nothing.

import { realpath } from "node:fs/promises";
import { loadConfig } from "../config/load.js";
import { persistedPaths } from "../domain/disk.js";
import type { PodSpec } from "../domain/spec.js";
import type { Clock } from "../lib/clock.js";
import { ConfigError, UsageError, errorMessage, issueLines } from "../lib/errors.js";
import type { Logger } from "../observability/logger.js";
import { startPeriodsS, type Metrics } from "../observability/metrics.js";
import { createProber } from "../probes/prober.js";
import type { ContainerRuntime } from "../runtime/port.js";
import type { Reconciler } from "../supervisor/reconciler.js";
import type { Supervisor } from "../supervisor/supervisor.js";
import type { Loaded } from "./load.js";

export interface ReloadResult {
  readonly changed: readonly string[];
  readonly podChanged: boolean;
}

export interface Reloader {
  /** Re-reads the config file; a bad one throws ConfigError and changes nothing. Logs the outcome. */
  reload(): Promise<ReloadResult>;
  /** `podwarden reload -c FILE` names the file it checked: the daemon re-reads its own, which must be that one. */
  reloadFile(config: string | undefined): Promise<ReloadResult>;
  /** Calls `listener` after every reload, applied or rejected; returns the unsubscribe function. */
  onReload(listener: () => void): () => void;
  /** The config's warnings as of the last reload applied (at first: those of the config loaded). */
  currentWarnings(): readonly string[];
}

export interface ReloadDeps {
  readonly config: string;
  readonly loaded: Pick<Loaded, "spec" | "secrets" | "warnings" | "scrubber">;
  readonly logger: Logger;
  readonly runtime: ContainerRuntime;
  readonly clock: Clock;
  readonly reconciler: Pick<Reconciler, "reconfigure">;
  readonly supervisor: Pick<Supervisor, "kick">;
  readonly metrics: Pick<Metrics, "setContainers">;
}

export const reloader = (deps: ReloadDeps): Reloader => {
  const { loaded, logger, runtime, clock, reconciler, supervisor, metrics } = deps;
  let current: PodSpec = loaded.spec;
  let warnings = loaded.warnings;
  const secretValues = new Set(loaded.secrets.values());
  const apply = async (): Promise<ReloadResult> => {
    const next = await loadConfig(deps.config);
    if (next.spec.name !== current.name) {
      throw new ConfigError([
        { file: next.spec.source, path: "pod.name", message: `changed from ${current.name} to ${next.spec.name}: a running daemon keeps its pod; restart it to move` },
      ]);
    }
    // Values of older env files may still be in flight in messages: keep scrubbing them too.
    for (const v of next.secrets.values()) secretValues.add(v);
    loaded.scrubber.set([...secretValues]);
    for (const w of next.warnings) logger.warn({ config: next.spec.source }, w);
    warnings = next.warnings;
    metrics.setContainers(next.spec.containers.map((c) => c.name), [...persistedPaths(next.spec).keys()], startPeriodsS(next.spec.containers));
    const result = reconciler.reconfigure({
      spec: next.spec,
      secrets: next.secrets,
      prober: createProber({ spec: next.spec, secrets: next.secrets, runtime, clock }),
    });
    current = next.spec;
    supervisor.kick();
    return result;
  };
  const listeners = new Set<() => void>();
  const log = logger.child({ component: "daemon" });
  const reload = async (): Promise<ReloadResult> => {
    log.info({ config: deps.config }, "reloading the config");
    try {
      const r = await apply();
      log.info({ changed: r.changed, podChanged: r.podChanged }, r.changed.length || r.podChanged ? "config reloaded" : "config reloaded: nothing changed");
      return r;
    } catch (err) {
      const issues = err instanceof ConfigError ? issueLines(err.issues) : [errorMessage(err)];
      log.error({ issues }, "config reload rejected; the pod is left as it is");
      throw err;
    } finally {
      for (const l of listeners) l();
    }
  };
  return {
    reload,
    reloadFile: async (config) => {
      const real = (p: string): Promise<string> => realpath(p).catch(() => p);
      if (config !== undefined && (await real(config)) !== (await real(current.source))) {
        throw new UsageError(`the daemon of pod ${current.name} runs with ${current.source} and reloads that file: edit it (it may extend ${config}), or restart the daemon with --config ${config}`);
      }
      return reload();
    },
    onReload: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    currentWarnings: () => warnings,
  };
};
