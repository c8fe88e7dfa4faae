// A command's failure told as one JSON log line, for commands whose log is JSON (`run` under
// systemd, and ExecReload's `reload --log-format json`): the journal then gets no plain-text
// line, and a bad config shows with its priority and every issue as an array.

import type { Writable } from "node:stream";
import { ConfigError, EXIT, PodwardenError, errorMessage, issueLines, issuesHeadline } from "../lib/errors.js";
import { createLogger } from "../observability/logger.js";
import { logDestination, type LogTarget } from "../observability/destination.js";

export interface FailureRecord {
  /** fatal for the daemon (it does not run), error for the other commands. */
  readonly level: "fatal" | "error";
  readonly fields: {
    readonly command: string;
    readonly code: string;
    readonly exitCode: number;
    readonly issues?: readonly string[];
    readonly stack?: string;
  };
  readonly msg: string;
}

export const failureRecord = (command: string, err: unknown): FailureRecord => {
  const level = command === "run" ? "fatal" : "error";
  if (err instanceof ConfigError) {
    return { level, fields: { command, code: err.code, exitCode: err.exitCode, issues: issueLines(err.issues) }, msg: issuesHeadline(err.issues) };
  }
  if (err instanceof PodwardenError) return { level, fields: { command, code: err.code, exitCode: err.exitCode }, msg: err.message };
  const stack = err instanceof Error ? err.stack : undefined;
  return {
    level,
    fields: { command, code: "E_INTERNAL", exitCode: EXIT.failure, ...(stack ? { stack } : {}) },
    msg: `unexpected error: ${errorMessage(err)}`,
  };
};

/**
 * Writes the failure as a JSON line where the command logs; returns the exit code. With
 * `--json`, stdout also gets the usual `{ok: false, code, error}` result.
 */
export const logFailure = (global: LogTarget, command: string, err: unknown, json: { readonly out: Writable } | undefined): number => {
  const r = failureRecord(command, err);
  if (json) json.out.write(`${JSON.stringify({ ok: false, code: r.fields.code, error: r.msg })}\n`);
  // Not the user's --log-level: it may be the very thing that is wrong, and a failure always shows.
  createLogger({ level: "info", destination: logDestination(global) })[r.level](r.fields, r.msg);
  return r.fields.exitCode;
};
