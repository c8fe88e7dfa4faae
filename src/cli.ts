#!/usr/bin/env node
// Entry point: parse argv, dispatch to a command, set the exit code. Errors carry their
// own exit codes (lib/errors.ts); anything else is a failure (1).

import { parseArgs } from "node:util";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { GlobalOptions } from "./main.js";
import { EXIT, PodwardenError, UsageError, errorMessage } from "./lib/errors.js";
import { COMMANDS, type CommandContext } from "./commands/index.js";

const DEFAULT_CONFIG = "/etc/podwarden/opencode-memory-pod.yaml";

const version = (): string => {
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL("../package.json", import.meta.url)), "utf8")) as { version: string };
  return pkg.version;
};

const HELP = `podwarden — supervises the opencode-memory-pod Podman pod

Usage: podwarden <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  .join("\n")}

Options:
  -c, --config FILE     pod config (default ${DEFAULT_CONFIG}, or $PODWARDEN_CONFIG)
      --socket PATH     Podman API socket (default: $CONTAINER_HOST, $DOCKER_HOST,
                        /run/podman/podman.sock, then the rootless socket)
      --timeout DUR     up/down: give up after DUR (e.g. 90s, 15m; default up 15m, down 5m)
      --json            machine-readable output on stdout
  -f, --follow          logs: keep streaming
      --since DUR       logs: only the last DUR (e.g. 10m)
      --tail N          logs: only the last N lines
      --from FILE       auth import: the auth.json to copy from (default ~/.local/share/opencode/auth.json)
      --provider NAME   auth import: the provider entry (default github-copilot)
      --doppler-secret NAME [--doppler-project P] [--doppler-config C]
                        auth import: push the entry to Doppler instead (value on stdin)
      --domain D        render flux: workspaces at <ws>.opencode.D
      --workspace NAME=REPO_URL[#BRANCH]
                        render flux: a workspace (repeat for more)
      --out DIR         render flux: write kubernetes/apps/opencode/ under DIR (default: stdout)
      --image REF       render flux: the OpenCode image from a registry, pinned by version tag
                        or digest (default: the config's, if it is one; localhost/ and :latest
                        are refused)
      --gateway NS/NAME[:SECTION]  render flux: the Gateway (default network/envoy-external:https)
      --store NAME      render flux: the Doppler ClusterSecretStore (default doppler)
      --storage-class NAME  render: PVC storage class (flux default ceph-block)
      --issuer NAME     render flux: the ClusterIssuer (default letsencrypt-production)
      --backup          render flux: a VolSync ReplicationSource per PVC
      --with-memory     render flux: Valkey, FalkorDB and the Agent in each workspace's pod
      --check           update: only say which containers have a new image
      --log-level LVL   trace, debug, info (default), warn, error
      --log-format FMT  json (default for run) or pretty (default otherwise)
  -h, --help            this help
  -V, --version         print the version

Exit codes: 0 ok, 1 failure, 2 usage, 69 Podman (or, for backup/restore/update,
the daemon) unavailable, 72 host not ready (doctor, up), 75 busy or pod not ready
(try again), 78 bad config.
`;

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
  check: { type: "boolean", default: false },
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
  "log-level": { type: "string", default: "info" },
  "log-format": { type: "string" },
  help: { type: "boolean", short: "h", default: false },
  version: { type: "boolean", short: "V", default: false },
} as const;

export const main = async (argv: readonly string[]): Promise<number> => {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    process.stderr.write(`podwarden: ${errorMessage(err)}\n\n${HELP}`);
    return EXIT.usage;
  }
  const { values, positionals } = parsed;
  if (values.version) {
    process.stdout.write(`${version()}\n`);
    return EXIT.ok;
  }
  const [name, ...rest] = positionals;
  if (values.help || name === undefined || name === "help") {
    process.stdout.write(HELP);
    return name === undefined && !values.help ? EXIT.usage : EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`podwarden: unknown command '${name}'\n\n${HELP}`);
    return EXIT.usage;
  }
  // The daemon logs to stdout (journald keeps it): JSON, or pretty on a terminal. Other
  // commands keep stdout for their results and log to stderr, pretty.
  const logTo = name === "run" ? "stdout" : "stderr";
  const logFormat = values["log-format"] ?? (name === "run" && !process.stdout.isTTY ? "json" : "pretty");
  if (logFormat !== "json" && logFormat !== "pretty") {
    process.stderr.write(`podwarden: --log-format must be json or pretty, not '${logFormat}'\n`);
    return EXIT.usage;
  }
  const global: GlobalOptions = {
    config: values.config ?? process.env.PODWARDEN_CONFIG ?? DEFAULT_CONFIG,
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
    },
    version: version(),
    out: process.stdout,
    err: process.stderr,
  };
  try {
    return await (await command.load())(ctx);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`podwarden ${name}: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof PodwardenError) {
      if (values.json) process.stdout.write(`${JSON.stringify({ ok: false, code: err.code, error: err.message })}\n`);
      process.stderr.write(`podwarden ${name}: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`podwarden ${name}: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return EXIT.failure;
  }
};

const isEntry = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === (await import("node:fs")).realpathSync(process.argv[1]);
if (isEntry) {
  process.exitCode = await main(process.argv.slice(2));
}
