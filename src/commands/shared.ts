// Small helpers the commands share.

import { parseDuration } from "../config/durations.js";
import { UsageError } from "../lib/errors.js";
import type { CommandContext } from "./index.js";

export const timeoutMs = (ctx: CommandContext, fallbackMs: number): number => {
  if (ctx.timeout === undefined) return fallbackMs;
  try {
    return parseDuration(ctx.timeout);
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
