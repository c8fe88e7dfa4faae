// A human-readable destination for pino lines, used by the short-lived CLI commands
// (up, down, images). The daemon (`run`) keeps JSON lines for the journal.

import type { Writable } from "node:stream";

const LEVELS: Record<number, string> = { 10: "trace", 20: "debug", 30: "info", 40: "WARN", 50: "ERROR", 60: "FATAL" };
const HIDDEN = new Set(["level", "time", "pid", "hostname", "name", "msg"]);

/**
 * A serialized error (pino's `err`: type, message, stack, code...) as one short phrase: its code
 * and message. The stack stays in the JSON lines; a person at a terminal wants the cause.
 */
const errorPhrase = (value: unknown): unknown => {
  if (typeof value !== "object" || value === null || typeof (value as { message?: unknown }).message !== "string") return value;
  const { message, code } = value as { message: string; code?: unknown };
  return typeof code === "string" && !message.startsWith(code) ? `${code}: ${message}` : message;
};

const field = (key: string, value: unknown): string => {
  const v = key === "err" ? errorPhrase(value) : value;
  return `${key}=${typeof v === "string" && !/\s/.test(v) ? v : JSON.stringify(v)}`;
};

export const formatLine = (line: string): string => {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const time = new Date(typeof rec.time === "number" ? rec.time : Date.now()).toISOString().slice(11, 23);
  const level = LEVELS[rec.level as number] ?? String(rec.level);
  const who = typeof rec.container === "string" ? `${rec.container}: ` : "";
  const rest = Object.entries(rec)
    .filter(([k]) => !HIDDEN.has(k) && k !== "container")
    .map(([k, v]) => field(k, v))
    .join(" ");
  return `${time} ${level.padEnd(5)} ${who}${String(rec.msg ?? "")}${rest ? `  ${rest}` : ""}\n`;
};

export const prettyDestination = (out: Writable) => ({
  write(line: string): void {
    out.write(formatLine(line.trimEnd()));
  },
});
