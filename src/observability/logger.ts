// The one pino() call. Known secret-bearing keys are redacted by path, and every line is
// scrubbed of the env file's secret values before it is written, whatever key holds them:
// an error logged under `err` is serialized into the line first (type, message, stack, code
// and its other fields, each cause nested under `cause`), so the scrub covers all of it.

import { pino, type DestinationStream, type Logger as PinoLogger } from "pino";
import { withPriority } from "./journal.js";

export type Logger = PinoLogger;

export interface LoggerOptions {
  readonly level?: string;
  /** Values that must never be written (the env file's values). */
  readonly scrubber?: SecretScrubber;
  readonly destination?: DestinationStream;
}

const REDACT_PATHS = [
  "password",
  "*.password",
  "secrets",
  "*.secrets",
  "env",
  "*.env",
  "authorization",
  "*.authorization",
  "headers.authorization",
  "token",
  "*.token",
];

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * The secret values to scrub, replaceable at run time (a reloaded env file brings new ones).
 */
export class SecretScrubber {
  #scrub: (line: string) => string;
  constructor(values: readonly string[] = []) {
    this.#scrub = makeScrubber(values);
  }
  set(values: readonly string[]): void {
    this.#scrub = makeScrubber(values);
  }
  scrub = (line: string): string => this.#scrub(line);
}

/** Replaces every occurrence of a secret value (and its JSON-escaped form) with [REDACTED]. */
export const makeScrubber = (values: readonly string[]): ((line: string) => string) => {
  const forms = new Set<string>();
  for (const v of values) {
    if (v.length < 4) continue; // too short to scrub without mangling ordinary text
    forms.add(v);
    forms.add(JSON.stringify(v).slice(1, -1));
  }
  if (forms.size === 0) return (line) => line;
  const pattern = new RegExp(
    [...forms]
      .sort((a, b) => b.length - a.length)
      .map(escapeRegExp)
      .join("|"),
    "g",
  );
  return (line) => line.replace(pattern, "[REDACTED]");
};

/**
 * JSON lines to a file descriptor (stderr: the daemon's goes to the journal under systemd).
 * `journal`: the fd is the journal's stream, so each line starts with its priority ("<3>{...}").
 */
export const jsonDestination = (fd: 1 | 2, journal = false): DestinationStream => {
  const out = pino.destination({ fd, sync: true });
  return journal ? { write: (line: string) => out.write(withPriority(line)) } : out;
};

export const createLogger = (options: LoggerOptions = {}): Logger => {
  const scrub = options.scrubber?.scrub ?? ((line: string) => line);
  return pino(
    {
      name: "podwarden",
      level: options.level ?? "info",
      redact: { paths: REDACT_PATHS, censor: "[REDACTED]" },
      // Causes as objects of their own (their codes kept), not glued into one message: our
      // errors already repeat their cause's message in their own.
      serializers: { err: pino.stdSerializers.errWithCause },
      hooks: { streamWrite: scrub },
    },
    options.destination ?? jsonDestination(2),
  );
};
