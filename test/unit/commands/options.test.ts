// Each command's declaration: its --help lists exactly its options and exit codes, an option
// another command owns is refused naming the owner, and the values parsed reach the command
// typed and defaulted (commands/options.ts, commands/index.ts).

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { COMMANDS, DECLARATIONS } from "../../../src/commands/index.js";
import { commandHelp, declareCommand, EXIT_MEANING, foreignOption, GENERAL, parseCommandLine, parseSpec, readOptions, SHARED, type CommandDecl } from "../../../src/commands/options.js";
import { LOGS, RENDER } from "../../../src/commands/declarations.js";
import { UsageError } from "../../../src/lib/errors.js";

/** The long names of the options a help text lists, in order. */
const listedOptions = (help: string): string[] => {
  const section = help.split("\nOptions:\n")[1]?.split("\n\n")[0] ?? "";
  return [...section.matchAll(/^ {2}(?:-\w, | {4})--([a-z-]+)/gm)].map((m) => m[1]!);
};

/** The exit codes a help text lists. */
const listedExits = (help: string): number[] => [...(help.split("\nExit codes:\n")[1] ?? "").matchAll(/^ {2}(\d+) /gm)].map((m) => Number(m[1]));

const line = (argv: readonly string[]) => parseCommandLine(argv, DECLARATIONS);
const foreign = (argv: readonly string[]) => {
  const parsed = line(argv);
  return foreignOption(parsed, COMMANDS[parsed.name!]!, DECLARATIONS);
};

describe("a command's --help", () => {
  it.each(DECLARATIONS.map((c) => [c.name, c] as const))("%s --help lists exactly its options, then --log-level, --log-format, --help", (_name, command) => {
    expect(listedOptions(commandHelp(command))).toEqual([...Object.keys(command.options), "log-level", "log-format", "help"]);
  });

  it.each(DECLARATIONS.map((c) => [c.name, c] as const))("%s --help has its usage line and exactly its exit codes", (name, command) => {
    const help = commandHelp(command);
    expect(help.split("\n")[0]).toBe(`podwarden ${name} — ${command.summary}`);
    expect(help).toMatch(new RegExp(`^Usage: podwarden ${name} .*\\[options\\]$`, "m"));
    expect(listedExits(help)).toEqual([0, 1, 2, ...command.exits.map((k) => EXIT_MEANING[k][0])]);
  });

  it("names the value an option takes and continues long help lines in the help column", () => {
    const help = commandHelp(RENDER);
    expect(help).toContain("      --workspace NAME=REPO_URL[#BRANCH]\n                        flux: a workspace (repeat for more)\n");
    expect(help).toContain("  -c, --config FILE     pod config");
    expect(help).toContain("      --image REF       flux: the OpenCode image from a registry, pinned by version tag\n                        or digest");
    expect(commandHelp(LOGS)).toContain("  -f, --follow          keep streaming\n");
  });

  it("status, validate and uninstall do not list exit codes that do not apply to them", () => {
    expect(listedExits(commandHelp(COMMANDS.validate!))).toEqual([0, 1, 2, 78]);
    expect(listedExits(commandHelp(COMMANDS.uninstall!))).toEqual([0, 1, 2]);
    expect(commandHelp(COMMANDS.status!)).toContain("69  no daemon answers");
    expect(commandHelp(COMMANDS.up!)).toContain("73  another podwarden holds the pod");
  });
});

describe("options another command owns", () => {
  it("down --with-memory: an option of render, not down", () => {
    expect(foreign(["down", "--with-memory"])).toBe("--with-memory is an option of render, not down");
  });

  it("names every command that owns it, and the option as it was spelled", () => {
    expect(foreign(["up", "--prefix", "/x"])).toBe("--prefix is an option of install and uninstall, not up");
    expect(foreign(["up", "-f"])).toBe("-f is an option of logs, not up");
    expect(foreign(["validate", "--timeout", "5s"])).toBe("--timeout is an option of up, down and restart-daemon, not validate");
    expect(foreign(["install", "--unit", "x.service"])).toBe("--unit is an option of restart-daemon, not install");
    expect(foreign(["-c", "pod.yaml", "images", "--url", "http://x"])).toBe("--url is an option of status, not images");
  });

  it("every option, given to any command that does not take it, is refused naming exactly its owners", () => {
    let checked = 0;
    for (const command of DECLARATIONS) {
      for (const other of DECLARATIONS) {
        for (const [name, d] of Object.entries(other.options)) {
          if (name in command.options) continue;
          const owners = DECLARATIONS.filter((c) => name in c.options).map((c) => c.name);
          const message = foreign([command.name, `--${name}`, ...(d.type === "string" ? ["v"] : [])]);
          expect(message, `${command.name} --${name}`).toMatch(new RegExp(`^--${name} is an option of (.+), not ${command.name}$`));
          expect(message!.replace(/^.* is an option of (.+), not .*$/, "$1").split(/, | and /)).toEqual(owners);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(100);
  });

  it("the general options are every command's: none is foreign", () => {
    for (const command of DECLARATIONS) expect(foreign([command.name, "--log-level", "debug", "--log-format", "json", "-h", "-V"])).toBeUndefined();
  });

  it("a command's own options, before or after its name, are not foreign", () => {
    expect(foreign(["-c", "pod.yaml", "up", "--timeout", "5s", "--json", "--socket", "/s"])).toBeUndefined();
    expect(foreign(["logs", "opencode", "-f", "--tail", "5", "--since", "1m"])).toBeUndefined();
  });
});

describe("a typo or a malformed option", () => {
  it.each([
    [["up", "--timout", "5s"], "--timout"],
    [["render", "flux", "--workspaces", "a=b"], "--workspaces"],
    [["logs", "opencode", "--tial", "5"], "--tial"],
    [["status", "-x"], "-x"],
  ])("%j is a UsageError naming it", (argv, option) => {
    expect(() => line(argv)).toThrow(UsageError);
    expect(() => line(argv)).toThrow(`Unknown option '${option}'`);
  });

  it("an option that needs a value and has none is a UsageError", () => {
    expect(() => line(["logs", "opencode", "--tail"])).toThrow(/--tail/);
    expect(() => line(["up", "--json=yes"])).toThrow(UsageError);
  });
});

describe("the options a command receives", () => {
  it("render flux gets its workspaces in order, its domain and its flags, camel-cased", () => {
    const parsed = line(["render", "flux", "--domain", "example.com", "--workspace", "a=https://x/a.git", "--workspace", "b=https://x/b.git#dev", "--with-memory", "--storage-class", "fast"]);
    expect(parsed.name).toBe("render");
    expect(parsed.args).toEqual(["flux"]);
    expect(readOptions(RENDER.options, parsed.values)).toEqual({
      domain: "example.com",
      workspace: ["a=https://x/a.git", "b=https://x/b.git#dev"],
      out: undefined,
      image: undefined,
      gateway: undefined,
      store: undefined,
      storageClass: "fast",
      issuer: undefined,
      backup: false,
      withMemory: true,
      withAlerts: false,
      pull: false,
      dependsOn: undefined,
    });
  });

  it("logs gets --tail, --since and -f", () => {
    expect(readOptions(LOGS.options, line(["logs", "opencode", "--tail", "100", "-f"]).values)).toEqual({ follow: true, since: undefined, tail: "100" });
    expect(readOptions(LOGS.options, line(["logs", "opencode", "--since", "10m"]).values)).toEqual({ follow: false, since: "10m", tail: undefined });
  });

  it("holds only its own options: --config and --socket go to ctx.global, other commands' options are absent", () => {
    const options = readOptions(LOGS.options, line(["-c", "pod.yaml", "logs", "x", "--socket", "/s", "--tail", "3"]).values);
    expect(Object.keys(options).sort()).toEqual(["follow", "since", "tail"]);
  });

  it("an option left out has its declared default: false, [], the default value or undefined", () => {
    const decl = declareCommand({
      name: "t",
      summary: "",
      options: { flag: { type: "boolean", help: "" }, list: { type: "string", arg: "X", multiple: true, help: "" }, level: { type: "string", arg: "L", default: "info", help: "" }, plain: { type: "string", arg: "P", help: "" } },
      exits: [],
    });
    expect(readOptions(decl.options, {})).toEqual({ flag: false, list: [], level: "info", plain: undefined });
    expect(readOptions(GENERAL, {})).toEqual({ logLevel: "info", logFormat: undefined, help: false, version: false });
  });
});

describe("the declarations", () => {
  it("two commands that declare the same option parse it the same way, or the table is refused", () => {
    expect(() => parseSpec(DECLARATIONS)).not.toThrow();
    const flag = declareCommand({ name: "a", summary: "", options: { json: { type: "string", arg: "X", help: "" } }, exits: [] });
    expect(() => parseSpec([COMMANDS.up!, flag])).toThrow("--json is declared differently by up and a");
    const short = declareCommand({ name: "b", summary: "", options: { config: { ...SHARED.config, short: "C" } }, exits: [] });
    expect(() => parseSpec([COMMANDS.up!, short])).toThrow("--config is declared differently by up and b");
  });

  it("reuse the shared --config, --socket and --json as declared (only the help may differ)", () => {
    const spec = (d: object) => JSON.stringify({ ...d, help: undefined });
    for (const command of DECLARATIONS) {
      for (const name of ["config", "socket", "json", "timeout"] as const) {
        const own = (command.options as CommandDecl["options"])[name];
        if (own) expect(spec(own), `${command.name} --${name}`).toBe(spec(SHARED[name]));
      }
    }
  });

  it("the dispatch table imports only declarations; each implementation is imported when its command runs", () => {
    const source = readFileSync(fileURLToPath(new URL("../../../src/commands/index.ts", import.meta.url)), "utf8");
    const staticImports = [...source.matchAll(/^import .* from "\.\/([\w.-]+)\.js";$/gm)].map((m) => m[1]!);
    expect(staticImports.filter((m) => !["context", "options", "declarations"].includes(m))).toEqual([]);
    const dynamicImports = [...source.matchAll(/import\("\.\/([\w.-]+)\.js"\)/g)].map((m) => m[1]!);
    expect(new Set(dynamicImports).size).toBe(DECLARATIONS.length - 1); // install and uninstall share install.js
  });
});
