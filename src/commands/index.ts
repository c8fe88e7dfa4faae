// The command table the CLI dispatches on.

import type { Writable } from "node:stream";
import type { GlobalOptions } from "../main.js";

export interface CommandContext {
  readonly global: GlobalOptions;
  readonly args: readonly string[];
  readonly json: boolean;
  /** status: the daemon's base URL (--url). */
  readonly url: string | undefined;
  /** update --check: only say what an update would find. */
  readonly check: boolean;
  readonly timeout: string | undefined;
  readonly logs: { readonly follow: boolean; readonly since: string | undefined; readonly tail: string | undefined };
  readonly auth: {
    readonly from: string | undefined;
    readonly provider: string | undefined;
    readonly dopplerSecret: string | undefined;
    readonly dopplerProject: string | undefined;
    readonly dopplerConfig: string | undefined;
  };
  /** render kube / render flux. */
  readonly render: {
    readonly domain: string | undefined;
    readonly workspaces: readonly string[];
    readonly out: string | undefined;
    readonly image: string | undefined;
    readonly gateway: string | undefined;
    readonly store: string | undefined;
    readonly storageClass: string | undefined;
    readonly issuer: string | undefined;
    readonly backup: boolean;
    readonly withMemory: boolean;
    /** render flux --pull: AUTO-01 for every workspace. */
    readonly pull: boolean;
    /** render flux --depends-on A,B: the Flux Kustomizations the workspaces wait for ("" = none). */
    readonly dependsOn?: string;
  };
  /** restart-daemon, install, uninstall. */
  readonly service: {
    readonly unit: string | undefined;
    readonly prefix: string | undefined;
    readonly root: string | undefined;
    readonly local: boolean;
    readonly dryRun: boolean;
    readonly noStart: boolean;
  };
  readonly version: string;
  readonly out: Writable;
  readonly err: Writable;
}

export interface Command {
  readonly summary: string;
  /** The options it takes (besides --log-level, --log-format, --help): others are a usage error. */
  readonly options: readonly string[];
  /** Loaded on use, so `--help` and quick commands do not pay for dockerode and fastify. */
  load(): Promise<(ctx: CommandContext) => Promise<number>>;
}

export const COMMANDS: Readonly<Record<string, Command>> = {
  run: { summary: "run the supervisor in the foreground (what the systemd unit starts)", options: ["config", "socket"], load: async () => (await import("./run.js")).run },
  up: { summary: "bring the pod up in dependency order; exit 0 once every container is ready", options: ["config", "socket", "timeout", "json"], load: async () => (await import("./up.js")).up },
  down: { summary: "stop the containers in reverse order and remove the pod (data stays)", options: ["config", "socket", "timeout", "json"], load: async () => (await import("./down.js")).down },
  doctor: { summary: "check the host (Podman, runtime, env file, persistRoot, ports, images): one line per check with the fix", options: ["config", "socket", "json"], load: async () => (await import("./doctor.js")).doctor },
  validate: { summary: "check the config and env file; exit 0, or 78 naming every problem", options: ["config", "json"], load: async () => (await import("./validate.js")).validate },
  status: { summary: "show the running daemon's view of the pod (table, or --json); exit 0 when ready", options: ["config", "url", "json"], load: async () => (await import("./status.js")).status },
  logs: { summary: "a container's logs: podwarden logs <container> [-f] [--since 10m] [--tail 100]", options: ["config", "socket", "follow", "since", "tail"], load: async () => (await import("./logs.js")).logs },
  reload: { summary: "check the config, then have the running daemon apply it (SIGHUP)", options: ["config", "json"], load: async () => (await import("./reload.js")).reload },
  auth: { summary: "auth import: copy a provider's login (Copilot) into the pod's persisted auth.json, or to Doppler", options: ["config", "json", "from", "provider", "doppler-secret", "doppler-project", "doppler-config"], load: async () => (await import("./auth.js")).auth },
  render: { summary: "render kube | render flux --domain D --workspace NAME=REPO_URL: the pod as Kubernetes YAML or a Flux tree", options: ["config", "domain", "workspace", "out", "image", "gateway", "store", "storage-class", "issuer", "backup", "with-memory", "pull", "depends-on"], load: async () => (await import("./render.js")).render },
  backup: { summary: "backup now | backup list: have the daemon write a consistent archive of every persisted directory, or list them", options: ["config", "json"], load: async () => (await import("./backup.js")).backup },
  restore: { summary: "restore ARCHIVE: verify it, stop the affected containers, swap their data, start in order, wait until ready", options: ["config", "json"], load: async () => (await import("./restore.js")).restore },
  update: { summary: "update [--check] [CONTAINER]: move to new images (pull or rebuild), rolling back any that does not stay ready", options: ["config", "check", "json"], load: async () => (await import("./update.js")).update },
  "restart-daemon": { summary: "replace the running daemon without restarting any container (the upgrade path; systemctl restart restarts the pod)", options: ["config", "unit", "timeout", "json"], load: async () => (await import("./restart-daemon.js")).restartDaemon },
  install: { summary: "install podwarden as the opencode-memory-pod service (as root; again to upgrade); --dry-run shows every step", options: ["local", "prefix", "no-start", "dry-run", "json", "root"], load: async () => (await import("./install.js")).install },
  uninstall: { summary: "stop and remove the service and /opt/podwarden; keeps the config, the env file and all data", options: ["prefix", "dry-run", "json", "root"], load: async () => (await import("./install.js")).uninstall },
  images: { summary: "pull or build every image the pod needs that is missing, with progress", options: ["config", "socket", "json"], load: async () => (await import("./images.js")).images },
};
