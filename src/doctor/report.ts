// What a host check found, and what the findings add up to: one line per check, the exit
// code, and the problems that must stop `up` (and hold `run`) because retrying cannot fix them.

import { ConfigError, EXIT, HostNotReadyError } from "../lib/errors.js";

export type CheckStatus = "ok" | "warn" | "error";

/** Which exit code an error stands for: Podman unavailable (69), host not ready (72), bad config (78). */
export type CheckKind = "podman" | "host" | "config";

export interface Check {
  /** What was checked: socket, runtime, config, env-file, persist-root, port 4096, image REF. */
  readonly name: string;
  readonly status: CheckStatus;
  /** What was found. */
  readonly detail: string;
  /** A few words for status lines (systemd's STATUS=), when the detail is long. */
  readonly cause?: string;
  /** What to do (warnings and errors). */
  readonly fix?: string;
  /** Errors: what the error stands for (default host). */
  readonly kind?: CheckKind;
  /** Errors: retrying cannot fix it, so `up` stops at once and `run` waits until it passes. */
  readonly blocking?: boolean;
  /** Config errors: the field at fault (pod.persistRoot). */
  readonly field?: string;
}

const KIND_EXIT: Readonly<Record<CheckKind, number>> = { config: EXIT.badConfig, podman: EXIT.podmanUnavailable, host: EXIT.host };

/**
 * 0 when nothing is an error (warnings allowed). Otherwise a config error wins (fix the file
 * first), then an absent Podman, then the host: the order in which `up` meets them.
 */
export const exitCodeFor = (checks: readonly Check[]): number => {
  const kinds = new Set(checks.filter((c) => c.status === "error").map((c) => c.kind ?? "host"));
  for (const kind of ["config", "podman", "host"] as const) if (kinds.has(kind)) return KIND_EXIT[kind];
  return EXIT.ok;
};

export const blockingErrors = (checks: readonly Check[]): Check[] => checks.filter((c) => c.status === "error" && c.blocking === true);

/** "error runtime        catatonit missing: ... ; fix: apt-get install catatonit" */
export const formatCheck = (c: Check, nameWidth = 14): string =>
  `${c.status.padEnd(5)} ${c.name.padEnd(nameWidth)} ${c.detail}${c.fix !== undefined && c.status !== "ok" ? `; fix: ${c.fix}` : ""}`;

export const formatChecks = (checks: readonly Check[]): string => {
  const width = Math.max(14, ...checks.map((c) => c.name.length));
  return checks.map((c) => formatCheck(c, width)).join("\n");
};

/** The one-line summary of a blocking problem: "runtime: catatonit missing ...; fix: ...". */
export const problemLine = (c: Check): string => `${c.name}: ${c.detail}${c.fix !== undefined ? `; fix: ${c.fix}` : ""}`;

/** Config errors among the blocking problems, as the ConfigError (exit 78) that names the field. */
export const configErrorOf = (blocking: readonly Check[], source: string): ConfigError | undefined => {
  const config = blocking.filter((c) => c.kind === "config");
  if (config.length === 0) return undefined;
  return new ConfigError(config.map((c) => ({ file: source, path: c.field ?? "", message: `${c.detail}; fix: ${c.fix ?? "see podwarden doctor"}` })));
};

/** What `up` exits with when something blocks: the config error (78), else host not ready (72). */
export const blockingError = (blocking: readonly Check[], source: string): ConfigError | HostNotReadyError =>
  configErrorOf(blocking, source) ??
  new HostNotReadyError(`host not ready (podwarden doctor shows every check):\n${blocking.map((c) => `  ${problemLine(c)}`).join("\n")}`);
