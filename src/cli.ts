// The command line: parse argv, dispatch to a command, return its exit code (src/entry.ts runs
// it). Errors carry their own exit codes (lib/errors.ts); anything else is a failure (1).

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { GlobalOptions } from "./daemon/options.js";
import { EXIT, PodwardenError, UsageError, errorMessage } from "./lib/errors.js";
import { COMMANDS, DECLARATIONS, type BaseContext } from "./commands/index.js";
import { commandHelp, foreignOption, GENERAL, optionHelp, parseCommandLine, readOptions, SHARED } from "./commands/options.js";
import { logFailure } from "./commands/failure.js";
import { PATHS } from "./domain/host-paths.js";

/** podwarden's version, from the first package.json up from this file (src/, dist/chunks/ or dist/fast/). */
const version = (): string => {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    try {
      return (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string }).version;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" || dirname(dir) === dir) throw err;
    }
  }
};

const EXIT_HELP = `Exit codes: 0 ok, 1 failure, 2 usage, 69 Podman (or, for backup/restore/update/reload,
the daemon) unavailable, 72 host not ready (doctor, up), 73 another podwarden holds the
pod (run, up, down: a daemon supervises it, or an up/down is at work; the message names
it), 75 busy or pod not ready (try again), 78 bad config.
`;

const HELP = `podwarden — supervises the opencode-memory-pod Podman pod

Usage: podwarden <command> [options]      podwarden <command> --help: that command's options

Commands:
${DECLARATIONS.map((c) => `  ${c.name.padEnd(15)} ${c.summary}`).join("\n")}

Options (each command's --help lists the ones it takes):
${[...Object.entries(SHARED), ...Object.entries(GENERAL)].map(([name, d]) => optionHelp(name, d)).join("\n")}

${EXIT_HELP}`;

/** The command word of an argv that did not parse (for the one-line usage error). */
const commandWord = (argv: readonly string[]): string | undefined => argv.find((a) => !a.startsWith("-") && COMMANDS[a] !== undefined);

const text = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);

const usageError = (name: string | undefined, message: string): number => {
  const where = name ? `podwarden ${name}` : "podwarden";
  process.stderr.write(`${where}: ${message}\nsee ${where} --help\n`);
  return EXIT.usage;
};

export const main = async (argv: readonly string[]): Promise<number> => {
  let line;
  try {
    line = parseCommandLine(argv, DECLARATIONS);
  } catch (err) {
    return usageError(commandWord(argv), errorMessage(err));
  }
  const { values, name, args } = line;
  const general = readOptions(GENERAL, values);
  if (general.version) {
    process.stdout.write(`${version()}\n`);
    return EXIT.ok;
  }
  if (name === undefined || name === "help") {
    const about = args[0] === undefined ? undefined : COMMANDS[args[0]];
    if (name === "help" && about) {
      process.stdout.write(commandHelp(about));
      return EXIT.ok;
    }
    process.stdout.write(HELP);
    return name === undefined && !general.help ? EXIT.usage : EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) return usageError(undefined, `unknown command '${name}' (podwarden --help lists them)`);
  if (general.help) {
    process.stdout.write(commandHelp(command));
    return EXIT.ok;
  }
  const foreign = foreignOption(line, command, DECLARATIONS);
  if (foreign !== undefined) return usageError(name, foreign);
  // Every command logs to stderr (stdout is for results). The daemon's log is JSON (the
  // journal keeps it, each line with its priority), or pretty on a terminal; others pretty.
  const logTo = "stderr";
  const logFormat = general.logFormat ?? (name === "run" && !process.stderr.isTTY ? "json" : "pretty");
  if (logFormat !== "json" && logFormat !== "pretty") {
    process.stderr.write(`podwarden: --log-format must be json or pretty, not '${logFormat}'\n`);
    return EXIT.usage;
  }
  const config = text(values.config);
  // An empty $PODWARDEN_CONFIG counts as unset.
  const envConfig = process.env.PODWARDEN_CONFIG || undefined;
  // Read once: from dist/fast/ the package file is two directories up.
  const ownVersion = version();
  const global: GlobalOptions = {
    config: config ?? envConfig ?? PATHS.config,
    configGiven: config !== undefined || envConfig !== undefined,
    socket: text(values.socket),
    logLevel: general.logLevel,
    logFormat,
    logTo,
    env: process.env,
    version: ownVersion,
  };
  const ctx: BaseContext = { global, args, version: ownVersion, out: process.stdout, err: process.stderr };
  const json = values.json === true;
  try {
    return await command.run(ctx, values);
  } catch (err) {
    if (logFormat === "json") return logFailure(global, name, err, json ? { out: process.stdout } : undefined);
    if (err instanceof UsageError) return usageError(name, err.message);
    if (err instanceof PodwardenError) {
      if (json) process.stdout.write(`${JSON.stringify({ ok: false, code: err.code, error: err.message })}\n`);
      process.stderr.write(`podwarden ${name}: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`podwarden ${name}: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return EXIT.failure;
  }
};

/**
 * Whoever reads stdout stopped reading (`podwarden validate | head -1`): what is left to say
 * has no reader, so leave at once and quietly, as a program killed by SIGPIPE would (Node
 * ignores SIGPIPE and reports EPIPE instead). On stderr a broken pipe is ignored: the command
 * (the daemon, above all) carries on without its log.
 */
export const quietOnBrokenPipe = (exit: (code: number) => void = (code) => process.exit(code)): void => {
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code !== "EPIPE") throw err;
    exit(typeof process.exitCode === "number" ? process.exitCode : EXIT.ok);
  });
  process.stderr.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code !== "EPIPE") throw err;
  });
};

