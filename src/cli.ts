#!/usr/bin/env node
// Entry point: parse argv, dispatch to a command, set the exit code. Errors carry their
// own exit codes (lib/errors.ts); anything else is a failure (1).

import { parseArgs } from "node:util";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { GlobalOptions } from "./main.js";
import { EXIT, PodwardenError, UsageError, errorMessage } from "./lib/errors.js";
import { COMMANDS, type Command, type CommandContext } from "./commands/index.js";
import { logFailure } from "./commands/failure.js";

const DEFAULT_CONFIG = "/etc/podwarden/opencode-memory-pod.yaml";

const version = (): string => {
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL("../package.json", import.meta.url)), "utf8")) as { version: string };
  return pkg.version;
};

/** One entry per option: its help lines. A command's --help shows the ones it takes. */
const OPTION_HELP: Readonly<Record<string, string>> = {
  config: `  -c, --config FILE     pod config (default ${DEFAULT_CONFIG}, or $PODWARDEN_CONFIG)`,
  socket: `      --socket PATH     Podman API socket (default: $CONTAINER_HOST, $DOCKER_HOST,
                        /run/podman/podman.sock, then the rootless socket)`,
  timeout: "      --timeout DUR     up/down: give up after DUR (e.g. 90s, 15m; default up 15m, down 5m)",
  json: "      --json            machine-readable output on stdout",
  url: "      --url URL         status: the daemon's address (default http://127.0.0.1:9090, or the config's http section with --config)",
  follow: "  -f, --follow          logs: keep streaming",
  since: "      --since DUR       logs: only the last DUR (e.g. 10m)",
  tail: "      --tail N          logs: only the last N lines",
  from: "      --from FILE       auth import: the auth.json to copy from (default ~/.local/share/opencode/auth.json)",
  provider: "      --provider NAME   auth import: the provider entry (default github-copilot)",
  "doppler-secret": `      --doppler-secret NAME [--doppler-project P] [--doppler-config C]
                        auth import: push the entry to Doppler instead (value on stdin)`,
  domain: "      --domain D        render flux: workspaces at <ws>.opencode.D",
  workspace: `      --workspace NAME=REPO_URL[#BRANCH]
                        render flux: a workspace (repeat for more)`,
  out: "      --out DIR         render flux: write kubernetes/apps/opencode/ under DIR (default: stdout)",
  image: `      --image REF       render flux: the OpenCode image from a registry, pinned by version tag
                        or digest (default: the config's if a cluster can pull it, else the stock
                        ghcr.io/anomalyco/opencode 1.x; localhost/, :latest and a stock image
                        outside 1.x are refused)`,
  pull: "      --pull            render flux: fast-forward each workspace's branch at every later start (AUTO-01)",
  "depends-on": `      --depends-on A,B  render flux: the Flux Kustomizations the workspaces wait for
                        (default external-secrets-stores,cert-manager; "" for none)`,
  gateway: "      --gateway NS/NAME[:SECTION]  render flux: the Gateway (default network/envoy-external:https)",
  store: "      --store NAME      render flux: the Doppler ClusterSecretStore (default doppler)",
  "storage-class": "      --storage-class NAME  render: PVC storage class (flux default ceph-block)",
  issuer: "      --issuer NAME     render flux: the ClusterIssuer (default letsencrypt-production)",
  backup: "      --backup          render flux: a VolSync ReplicationSource per PVC",
  "with-memory": "      --with-memory     render flux: Valkey, FalkorDB and the Agent in each workspace's pod",
  check: "      --check           update: only say which containers have a new image",
  unit: `      --unit NAME       restart-daemon: the daemon's systemd unit (default opencode-memory-pod.service);
                        --timeout: how long a signalled daemon may take to exit (default 3m)`,
  prefix: "      --prefix DIR      install, uninstall: where podwarden goes (default /opt/podwarden)",
  local: "      --local           install: the config extends config/local.yaml (images built here, no registry)",
  "no-start": "      --no-start        install: enable the service but do not start it",
  "dry-run": "      --dry-run         install, uninstall: print every step, change nothing",
  root: "      --root DIR        install, uninstall: write under DIR instead of / (tests, packaging); no systemctl",
  "log-level": "      --log-level LVL   trace, debug, info (default), warn, error",
  "log-format": "      --log-format FMT  json (default for run) or pretty (default otherwise)",
  help: "  -h, --help            this help",
  version: "  -V, --version         print the version",
};

const EXIT_HELP = `Exit codes: 0 ok, 1 failure, 2 usage, 69 Podman (or, for backup/restore/update/reload,
the daemon) unavailable, 72 host not ready (doctor, up), 73 another podwarden holds the
pod (run, up, down: a daemon supervises it, or an up/down is at work; the message names
it), 75 busy or pod not ready (try again), 78 bad config.
`;

const HELP = `podwarden — supervises the opencode-memory-pod Podman pod

Usage: podwarden <command> [options]      podwarden <command> --help: that command's options

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(15)} ${c.summary}`)
  .join("\n")}

Options:
${Object.values(OPTION_HELP).join("\n")}

${EXIT_HELP}`;

/** `podwarden <command> --help`: what it does and the options it takes. */
const commandHelp = (name: string, command: Command): string =>
  `podwarden ${name} — ${command.summary}

Options:
${[...command.options, "log-level", "log-format", "help"]
  .map((o) => OPTION_HELP[o])
  .filter((l) => l !== undefined)
  .join("\n")}

${EXIT_HELP}`;

/** The command word of an argv that did not parse (for the one-line usage error). */
const commandWord = (argv: readonly string[]): string | undefined => argv.find((a) => !a.startsWith("-") && COMMANDS[a] !== undefined);

const usageError = (name: string | undefined, message: string): number => {
  const where = name ? `podwarden ${name}` : "podwarden";
  process.stderr.write(`${where}: ${message}\nsee ${where} --help\n`);
  return EXIT.usage;
};

const OPTIONS = {
  config: { type: "string", short: "c" },
  socket: { type: "string" },
  timeout: { type: "string" },
  follow: { type: "boolean", short: "f", default: false },
  since: { type: "string" },
  tail: { type: "string" },
  from: { type: "string" },
  provider: { type: "string" },
  "doppler-secret": { type: "string" },
  "doppler-project": { type: "string" },
  "doppler-config": { type: "string" },
  json: { type: "boolean", default: false },
  url: { type: "string" },
  check: { type: "boolean", default: false },
  unit: { type: "string" },
  prefix: { type: "string" },
  root: { type: "string" },
  local: { type: "boolean", default: false },
  "dry-run": { type: "boolean", default: false },
  "no-start": { type: "boolean", default: false },
  domain: { type: "string" },
  workspace: { type: "string", multiple: true },
  out: { type: "string" },
  image: { type: "string" },
  gateway: { type: "string" },
  store: { type: "string" },
  "storage-class": { type: "string" },
  issuer: { type: "string" },
  backup: { type: "boolean", default: false },
  "with-memory": { type: "boolean", default: false },
  pull: { type: "boolean", default: false },
  "depends-on": { type: "string" },
  "log-level": { type: "string", default: "info" },
  "log-format": { type: "string" },
  help: { type: "boolean", short: "h", default: false },
  version: { type: "boolean", short: "V", default: false },
} as const;

/** Options every command takes. */
const GENERAL: ReadonlySet<string> = new Set(["log-level", "log-format", "help", "version"]);
/** parseArgs fills in defaults; an option left at its default was not given. */
const isDefault = (name: string, value: unknown): boolean => {
  const spec = OPTIONS[name as keyof typeof OPTIONS] as { default?: unknown } | undefined;
  return value === undefined || (spec !== undefined && "default" in spec && spec.default === value);
};

export const main = async (argv: readonly string[]): Promise<number> => {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    return usageError(commandWord(argv), errorMessage(err));
  }
  const { values, positionals } = parsed;
  if (values.version) {
    process.stdout.write(`${version()}\n`);
    return EXIT.ok;
  }
  const [name, ...rest] = positionals;
  if (name === undefined || name === "help") {
    const about = rest[0] === undefined ? undefined : COMMANDS[rest[0]];
    if (name === "help" && about) {
      process.stdout.write(commandHelp(rest[0]!, about));
      return EXIT.ok;
    }
    process.stdout.write(HELP);
    return name === undefined && !values.help ? EXIT.usage : EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) return usageError(undefined, `unknown command '${name}' (podwarden --help lists them)`);
  if (values.help) {
    process.stdout.write(commandHelp(name, command));
    return EXIT.ok;
  }
  const stray = Object.keys(values).filter((o) => o in OPTION_HELP && !GENERAL.has(o) && !command.options.includes(o) && !isDefault(o, values[o as keyof typeof values]));
  if (stray.length > 0) return usageError(name, `${name} does not take --${stray.join(", --")}`);
  // Every command logs to stderr (stdout is for results). The daemon's log is JSON (the
  // journal keeps it, each line with its priority), or pretty on a terminal; others pretty.
  const logTo = "stderr";
  const logFormat = values["log-format"] ?? (name === "run" && !process.stderr.isTTY ? "json" : "pretty");
  if (logFormat !== "json" && logFormat !== "pretty") {
    process.stderr.write(`podwarden: --log-format must be json or pretty, not '${logFormat}'\n`);
    return EXIT.usage;
  }
  // An empty $PODWARDEN_CONFIG counts as unset.
  const envConfig = process.env.PODWARDEN_CONFIG || undefined;
  const global: GlobalOptions = {
    config: values.config ?? envConfig ?? DEFAULT_CONFIG,
    configGiven: values.config !== undefined || envConfig !== undefined,
    socket: values.socket,
    logLevel: values["log-level"],
    logFormat,
    logTo,
    env: process.env,
    version: version(),
  };
  const ctx: CommandContext = {
    global,
    args: rest,
    json: values.json,
    url: values.url,
    check: values.check,
    timeout: values.timeout,
    logs: { follow: values.follow, since: values.since, tail: values.tail },
    auth: {
      from: values.from,
      provider: values.provider,
      dopplerSecret: values["doppler-secret"],
      dopplerProject: values["doppler-project"],
      dopplerConfig: values["doppler-config"],
    },
    render: {
      domain: values.domain,
      workspaces: values.workspace ?? [],
      out: values.out,
      image: values.image,
      gateway: values.gateway,
      store: values.store,
      storageClass: values["storage-class"],
      issuer: values.issuer,
      backup: values.backup,
      withMemory: values["with-memory"],
      pull: values.pull,
      dependsOn: values["depends-on"],
    },
    service: {
      unit: values.unit,
      prefix: values.prefix,
      root: values.root,
      local: values.local,
      dryRun: values["dry-run"],
      noStart: values["no-start"],
    },
    version: version(),
    out: process.stdout,
    err: process.stderr,
  };
  try {
    return await (await command.load())(ctx);
  } catch (err) {
    if (logFormat === "json") return logFailure(global, name, err, values.json ? { out: process.stdout } : undefined);
    if (err instanceof UsageError) return usageError(name, err.message);
    if (err instanceof PodwardenError) {
      if (values.json) process.stdout.write(`${JSON.stringify({ ok: false, code: err.code, error: err.message })}\n`);
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

const isEntry = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === (await import("node:fs")).realpathSync(process.argv[1]);
if (isEntry) {
  quietOnBrokenPipe();
  process.exitCode = await main(process.argv.slice(2));
}
