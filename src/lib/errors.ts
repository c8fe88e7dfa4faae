// Typed errors with stable codes. Each maps to a process exit code (DESIGN.md §4).

export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  podmanUnavailable: 69,
  /** The host is not ready for Podman (EX_OSFILE): a missing binary, a path that cannot work. Retrying will not help. */
  host: 72,
  /**
   * Another podwarden (a `run` daemon, an `up` or a `down`) holds this pod's lock (EX_CANTCREAT:
   * the lock cannot be had). Not 75: that one means "busy for a moment, try again", and scripts
   * retry it; a daemon that supervises the pod stays until someone stops it.
   */
  locked: 73,
  badConfig: 78,
} as const;

export type ErrorCode =
  | "E_CONFIG"
  | "E_USAGE"
  | "E_PODMAN_UNAVAILABLE"
  | "E_PODMAN_API"
  | "E_HOST"
  | "E_IMAGE"
  | "E_TIMEOUT"
  | "E_DEPENDENCY"
  | "E_CONFLICT"
  | "E_ABORTED"
  | "E_NOT_READY"
  | "E_BUSY"
  | "E_LOCKED"
  | "E_BACKUP"
  | "E_RESTORE"
  | "E_UPDATE"
  | "E_NO_DAEMON"
  | "E_HANDOVER"
  | "E_INSTALL"
  | "E_INTERNAL";

export class PodwardenError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: number;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; exitCode?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = options?.exitCode ?? EXIT.failure;
  }
}

/** One problem found in a config file: which file, which field (dotted path), what is wrong. */
export interface ConfigIssue {
  readonly file: string;
  readonly path: string;
  readonly message: string;
}

export class ConfigError extends PodwardenError {
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[]) {
    super("E_CONFIG", formatIssues(issues), { exitCode: EXIT.badConfig });
    this.issues = issues;
  }
}

/** "invalid configuration (2 problems)": the headline of a ConfigError. */
export const issuesHeadline = (issues: readonly ConfigIssue[]): string => `invalid configuration (${issues.length} ${issues.length === 1 ? "problem" : "problems"})`;

/** One "file: field: what is wrong" line per issue (also the `issues` field of JSON log lines). */
export const issueLines = (issues: readonly ConfigIssue[]): string[] => issues.map((i) => `${i.file}: ${i.path || "(root)"}: ${i.message}`);

export const formatIssues = (issues: readonly ConfigIssue[]): string => `${issuesHeadline(issues)}:\n${issueLines(issues).map((l) => `  ${l}`).join("\n")}`;

export class UsageError extends PodwardenError {
  constructor(message: string) {
    super("E_USAGE", message, { exitCode: EXIT.usage });
  }
}

export class PodmanUnavailableError extends PodwardenError {
  constructor(message: string, cause?: unknown) {
    super("E_PODMAN_UNAVAILABLE", message, { cause, exitCode: EXIT.podmanUnavailable });
  }
}

/** A host prerequisite is missing (see `podwarden doctor`): the message names the cause and the fix. */
export class HostNotReadyError extends PodwardenError {
  constructor(message: string) {
    super("E_HOST", message, { exitCode: EXIT.host });
  }
}

export class PodmanApiError extends PodwardenError {
  readonly status: number | undefined;
  readonly operation: string;
  constructor(operation: string, message: string, status?: number, cause?: unknown) {
    super("E_PODMAN_API", `${operation}: ${message}`, { cause });
    this.status = status;
    this.operation = operation;
  }
}

export const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));
