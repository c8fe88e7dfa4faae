// How a command declares itself: its summary, its options (the parseArgs spec, the help line and
// the default in one entry) and the exit codes it may end with. From the declaration come its
// --help, the check that every option given is one it takes, and the typed `ctx.options` it
// receives. The declarations (declarations.ts) are light: --help never loads a command.

import { parseArgs, type ParseArgsConfig } from "node:util";
import { EXIT, UsageError } from "../lib/errors.js";
import { PATHS } from "../domain/host-paths.js";
import type { CommandContext } from "./context.js";

interface OptionBase {
  /** A one-letter alias: -c for --config. */
  readonly short?: string;
  /** What it does, for --help; each "\n" starts a continuation line. */
  readonly help: string;
}
/** `--json`: false unless given. */
export interface FlagOption extends OptionBase {
  readonly type: "boolean";
}
/** `--tail N`: the value, else `default`, else undefined. */
export interface ValueOption extends OptionBase {
  readonly type: "string";
  /** The value's name in the help (FILE, DUR). */
  readonly arg: string;
  readonly multiple?: false;
  readonly default?: string;
}
/** `--workspace A --workspace B`: every value given, in order (none: []). */
export interface ListOption extends OptionBase {
  readonly type: "string";
  readonly arg: string;
  readonly multiple: true;
}
export type OptionDecl = FlagOption | ValueOption | ListOption;
export type OptionTable = Readonly<Record<string, OptionDecl>>;

/** What an exit code means, for a command's --help. 0, 1 and 2 apply to every command. */
export const EXIT_MEANING = {
  podman: [EXIT.podmanUnavailable, "Podman unavailable"],
  daemon: [EXIT.podmanUnavailable, "no daemon answers (the control socket, or /status)"],
  host: [EXIT.host, "host not ready (a missing binary, a path that cannot work)"],
  locked: [EXIT.locked, "another podwarden holds the pod (a daemon supervises it, or an up/down is at work)"],
  busy: [75, "busy, or the pod not ready (try again)"],
  config: [EXIT.badConfig, "bad config"],
} as const satisfies Record<string, readonly [number, string]>;
export type ExitKey = keyof typeof EXIT_MEANING;

export interface CommandDecl<O extends OptionTable = OptionTable> {
  readonly name: string;
  /** One line, for `podwarden --help` and the head of its own --help. */
  readonly summary: string;
  /** What follows `podwarden <name>` on its usage line, before [options] (e.g. "<container>"). */
  readonly usage?: string;
  /** Besides the general ones (GENERAL: --log-level, --log-format, --help, --version). */
  readonly options: O;
  /** The exit codes besides 0, 1 and 2 it may end with. */
  readonly exits: readonly ExitKey[];
}

/** A declaration, with its option table's literal types kept (they type `ctx.options`). */
export const declareCommand = <const O extends OptionTable>(decl: CommandDecl<O>): CommandDecl<O> => decl;

/** Every command takes these; their values go to ctx.global, never to ctx.options. */
export const GENERAL = {
  "log-level": { type: "string", arg: "LVL", default: "info", help: "trace, debug, info (default), warn, error" },
  "log-format": { type: "string", arg: "FMT", help: "json (default for run) or pretty (default otherwise)" },
  help: { type: "boolean", short: "h", help: "this help" },
  version: { type: "boolean", short: "V", help: "print the version" },
} as const satisfies OptionTable;

/** Options several commands take, declared once: a command lists the ones it takes (and may reword the help). */
export const SHARED = {
  config: { type: "string", short: "c", arg: "FILE", help: `pod config (default ${PATHS.config}, or $PODWARDEN_CONFIG)` },
  socket: {
    type: "string",
    arg: "PATH",
    help: "Podman API socket (default: $CONTAINER_HOST, $DOCKER_HOST,\n/run/podman/podman.sock, then the rootless socket)",
  },
  json: { type: "boolean", help: "machine-readable output on stdout" },
  timeout: { type: "string", arg: "DUR", help: "give up after DUR (e.g. 90s, 15m)" },
} as const satisfies OptionTable;

/** Resolved into ctx.global (with $PODWARDEN_CONFIG and the socket search), so not in ctx.options. */
const TO_GLOBAL: ReadonlySet<string> = new Set(["config", "socket"]);
type ToGlobal = "config" | "socket";

type Camel<S extends string> = S extends `${infer Head}-${infer Tail}` ? `${Head}${Capitalize<Camel<Tail>>}` : S;
type ValueOf<D extends OptionDecl> = D extends FlagOption ? boolean : D extends ListOption ? readonly string[] : D extends { readonly default: string } ? string : string | undefined;

/** The typed options a command receives: `--storage-class` becomes `storageClass`. */
export type OptionsOf<O extends OptionTable> = { readonly [K in keyof O & string as K extends ToGlobal ? never : Camel<K>]: ValueOf<O[K]> };

/** The context a declared command receives: `(ctx: ContextOf<typeof RENDER>)`. */
export type ContextOf<D extends CommandDecl> = CommandContext<OptionsOf<D["options"]>>;

const camel = (name: string): string => name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());

/** The declared options' values from a parse (or a test), each given or at its default. */
export const readOptions = <O extends OptionTable>(options: O, values: Readonly<Record<string, unknown>>): OptionsOf<O> => {
  const read: Record<string, unknown> = {};
  for (const [name, d] of Object.entries(options)) {
    if (TO_GLOBAL.has(name)) continue;
    read[camel(name)] = values[name] ?? (d.type === "boolean" ? false : d.multiple ? [] : d.default);
  }
  return read as OptionsOf<O>;
};

type ParseSpec = NonNullable<ParseArgsConfig["options"]>;

/**
 * One parseArgs spec for every option any command takes, so a command line parses whatever
 * its command (`-c FILE up` and `up -c FILE` alike); which options the command takes is checked
 * after. An option two commands declare must parse the same way in both.
 */
export const parseSpec = (commands: readonly CommandDecl[]): ParseSpec => {
  const spec: ParseSpec = {};
  const seen = new Map<string, string>();
  for (const [owner, options] of [["general", GENERAL] as const, ...commands.map((c) => [c.name, c.options] as const)]) {
    for (const [name, d] of Object.entries(options)) {
      const shape = { type: d.type, ...(d.short ? { short: d.short } : {}), ...(d.type === "string" && d.multiple ? { multiple: true } : {}) };
      const first = seen.get(name);
      if (first !== undefined && JSON.stringify(spec[name]) !== JSON.stringify(shape)) {
        throw new Error(`--${name} is declared differently by ${first} and ${owner}`);
      }
      seen.set(name, first ?? owner);
      spec[name] = shape;
    }
  }
  return spec;
};

/** "a", "a and b", "a, b and c". */
const listed = (names: readonly string[]): string => (names.length < 2 ? names.join("") : `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`);

export interface CommandLine {
  /** The first word that is not an option: the command (or "help"), if any. */
  readonly name: string | undefined;
  /** The words after it. */
  readonly args: readonly string[];
  /** Every option's value as given (camel-cased by readOptions, not here). */
  readonly values: Readonly<Record<string, unknown>>;
  /** The options given, by name, with how they were spelled (-f or --follow). */
  readonly given: readonly { readonly name: string; readonly spelled: string }[];
}

/** Parses argv against every command's options; an unknown option or a missing value is a UsageError. */
export const parseCommandLine = (argv: readonly string[], commands: readonly CommandDecl[]): CommandLine => {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: parseSpec(commands), allowPositionals: true, strict: true, tokens: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const [name, ...args] = parsed.positionals;
  const given = parsed.tokens.flatMap((t) => (t.kind === "option" ? [{ name: t.name, spelled: t.rawName }] : []));
  return { name, args, values: parsed.values, given };
};

/**
 * The first option given that `command` does not take, as a usage message naming the
 * command(s) that do: "--with-memory is an option of render, not down".
 */
export const foreignOption = (line: CommandLine, command: CommandDecl, commands: readonly CommandDecl[]): string | undefined => {
  const stray = line.given.find((o) => !(o.name in command.options) && !(o.name in GENERAL));
  if (stray === undefined) return undefined;
  const owners = commands.filter((c) => stray.name in c.options).map((c) => c.name);
  return `${stray.spelled} is an option of ${listed(owners)}, not ${command.name}`;
};

const COLUMN = 24;

/** An option's help: "  -c, --config FILE" and its text from column 24 (or below, when the left side is long). */
export const optionHelp = (name: string, d: OptionDecl): string => {
  const left = `  ${d.short ? `-${d.short}, ` : "    "}--${name}${d.type === "string" ? ` ${d.arg}` : ""}`;
  const [first = "", ...more] = d.help.split("\n");
  const indent = " ".repeat(COLUMN);
  const head = left.length <= COLUMN - 2 ? `${left.padEnd(COLUMN)}${first}` : `${left}\n${indent}${first}`;
  return [head, ...more.map((l) => `${indent}${l}`)].join("\n");
};

/** The general options a command's --help lists (--version is accepted but belongs to `podwarden --help`). */
const GENERAL_IN_HELP = ["log-level", "log-format", "help"] as const;

/** `podwarden <command> --help`: what it does, its usage line, its options, its exit codes. */
export const commandHelp = (command: CommandDecl): string => {
  const options = [...Object.entries(command.options), ...GENERAL_IN_HELP.map((n) => [n, GENERAL[n]] as const)];
  const exits = [
    [EXIT.ok, "ok"],
    [EXIT.failure, "failure"],
    [EXIT.usage, "usage"],
    ...command.exits.map((k) => EXIT_MEANING[k]),
  ] as const;
  return `podwarden ${command.name} — ${command.summary}

Usage: podwarden ${command.name}${command.usage ? ` ${command.usage}` : ""} [options]

Options:
${options.map(([name, d]) => optionHelp(name, d)).join("\n")}

Exit codes:
${exits.map(([code, meaning]) => `  ${String(code).padEnd(4)}${meaning}`).join("\n")}
`;
};
