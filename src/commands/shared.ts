// Small helpers the commands share.

import { parseDuration } from "../config/durations.js";
import { UsageError } from "../lib/errors.js";
import type { Logger } from "../observability/logger.js";
import type { Say } from "../lib/say.js";
import type { CommandContext } from "./context.js";

export const timeoutMs = (ctx: CommandContext<{ readonly timeout: string | undefined }>, fallbackMs: number): number => {
  const { timeout } = ctx.options;
  if (timeout === undefined) return fallbackMs;
  try {
    return parseDuration(timeout);
  } catch (err) {
    throw new UsageError(`--timeout: ${(err as Error).message}`);
  }
};

export const noArgs = (ctx: CommandContext, name: string): void => {
  if (ctx.args.length > 0) throw new UsageError(`${name} takes no arguments (got ${ctx.args.join(" ")})`);
};

export const printJson = (ctx: CommandContext, value: unknown): void => {
  ctx.out.write(`${JSON.stringify(value, null, 2)}\n`);
};

/** Runs `body` with an AbortSignal that fires on SIGINT/SIGTERM. */
export const withInterrupt = async <T>(body: (signal: AbortSignal) => Promise<T>): Promise<T> => {
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    return await body(controller.signal);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
};

/**
 * What a command says: plain lines for people (`info` on stdout, or stderr with --json;
 * `warn` and `error` on stderr), or log lines with their fields when the command's log is JSON (the unit's
 * ExecReload=, a script), so the journal gets JSON with priorities only.
 */
export const sayer = (ctx: CommandContext<{ readonly json: boolean }>, logger: Logger): Say => {
  if (ctx.global.logFormat === "json") {
    return { info: (f, text) => logger.info(f, text), warn: (f, text) => logger.warn(f, text), error: (f, text) => logger.error(f, text) };
  }
  const line = (to: CommandContext["out"]) => (_f: Record<string, unknown>, text: string) => void to.write(`${text}\n`);
  // With --json, stdout carries only the result.
  return { info: line(ctx.options.json ? ctx.err : ctx.out), warn: line(ctx.err), error: line(ctx.err) };
};
