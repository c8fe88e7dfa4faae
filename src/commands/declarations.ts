// What each command is and takes: its summary, its usage, its options and the exit codes it may
// end with (see options.ts for the shape). Light on purpose: `--help` and the option check read
// this, and a command's implementation (index.ts imports it lazily) types its context from it:
// `export const logs = async (ctx: ContextOf<typeof LOGS>)`.

import { declareCommand, SHARED, type ExitKey } from "./options.js";

const { config, socket, json } = SHARED;

/** up and down: the pod's own lifecycle, through Podman and the pod lock. */
const lifecycle = (timeoutDefault: string) => ({ config, socket, timeout: { ...SHARED.timeout, help: `give up after DUR (e.g. 90s, 15m; default ${timeoutDefault})` }, json });
const LIFECYCLE_EXITS: readonly ExitKey[] = ["podman", "host", "locked", "config"];
/** The commands that ask the running daemon (its control socket). */
const ASK_EXITS: readonly ExitKey[] = ["daemon", "busy", "config"];

export const RUN = declareCommand({
  name: "run",
  summary: "run the supervisor in the foreground (what the systemd unit starts)",
  options: { config, socket },
  exits: LIFECYCLE_EXITS,
});

export const UP = declareCommand({
  name: "up",
  summary: "bring the pod up in dependency order; exit 0 once every container is ready",
  options: lifecycle("15m"),
  exits: LIFECYCLE_EXITS,
});

export const DOWN = declareCommand({
  name: "down",
  summary: "stop the containers in reverse order and remove the pod (data stays)",
  options: lifecycle("5m"),
  exits: LIFECYCLE_EXITS,
});

export const DOCTOR = declareCommand({
  name: "doctor",
  summary: "check the host (Podman, runtime, env file, persistRoot, ports, images): one line per check with the fix",
  options: { config, socket, json },
  exits: ["podman", "host", "config"],
});

export const VALIDATE = declareCommand({ name: "validate", summary: "check the config and env file; exit 0, or 78 naming every problem", options: { config, json }, exits: ["config"] });

export const STATUS = declareCommand({
  name: "status",
  summary: "show the running daemon's view of the pod (table, or --json); exit 0 when ready",
  options: {
    config: { ...config, help: "read the daemon's address from this config's http section" },
    url: { type: "string", arg: "URL", help: "the daemon's address (default http://127.0.0.1:9090, or the config's http section with --config)" },
    json,
  },
  exits: ["daemon", "config"],
});

export const LOGS = declareCommand({
  name: "logs",
  summary: "a container's logs: podwarden logs <container> [-f] [--since 10m] [--tail 100]",
  usage: "<container>",
  options: {
    config,
    socket,
    follow: { type: "boolean", short: "f", help: "keep streaming" },
    since: { type: "string", arg: "DUR", help: "only the last DUR (e.g. 10m)" },
    tail: { type: "string", arg: "N", help: "only the last N lines" },
  },
  exits: ["podman", "config"],
});

export const RELOAD = declareCommand({ name: "reload", summary: "check the config, then have the running daemon apply it (SIGHUP)", options: { config, json }, exits: ASK_EXITS });

export const AUTH = declareCommand({
  name: "auth",
  summary: "auth import: copy a provider's login (Copilot) into the pod's persisted auth.json, or to Doppler",
  usage: "import",
  options: {
    config,
    json,
    from: { type: "string", arg: "FILE", help: "the auth.json to copy from (default ~/.local/share/opencode/auth.json)" },
    provider: { type: "string", arg: "NAME", help: "the provider entry (default github-copilot)" },
    "doppler-secret": { type: "string", arg: "NAME", help: "push the entry to this Doppler secret instead (value on stdin)" },
    "doppler-project": { type: "string", arg: "P", help: "with --doppler-secret: the Doppler project" },
    "doppler-config": { type: "string", arg: "C", help: "with --doppler-secret: the Doppler config" },
  },
  exits: ["config"],
});

export const RENDER = declareCommand({
  name: "render",
  summary: "render kube | render flux --domain D --workspace NAME=REPO_URL: the pod as Kubernetes YAML or a Flux tree",
  usage: "kube | flux",
  options: {
    config,
    domain: { type: "string", arg: "D", help: "flux: workspaces at <ws>.opencode.D" },
    workspace: { type: "string", arg: "NAME=REPO_URL[#BRANCH]", multiple: true, help: "flux: a workspace (repeat for more)" },
    out: { type: "string", arg: "DIR", help: "flux: write kubernetes/apps/opencode/ under DIR (default: stdout)" },
    image: {
      type: "string",
      arg: "REF",
      help: "flux: the OpenCode image from a registry, pinned by version tag\nor digest (default: the config's if a cluster can pull it, else the stock\nghcr.io/anomalyco/opencode 1.x; localhost/, :latest and a stock image\noutside 1.x are refused)",
    },
    gateway: { type: "string", arg: "NS/NAME[:SECTION]", help: "flux: the Gateway (default network/envoy-external:https)" },
    store: { type: "string", arg: "NAME", help: "flux: the Doppler ClusterSecretStore (default doppler)" },
    "storage-class": { type: "string", arg: "NAME", help: "PVC storage class (flux default ceph-block)" },
    issuer: { type: "string", arg: "NAME", help: "flux: the ClusterIssuer (default letsencrypt-production)" },
    backup: { type: "boolean", help: "flux: a VolSync ReplicationSource per PVC" },
    "with-memory": { type: "boolean", help: "flux: Valkey, FalkorDB and the Agent in each workspace's pod" },
    "with-alerts": { type: "boolean", help: "flux: podwarden's alert rules as a PrometheusRule (Prometheus Operator)" },
    pull: { type: "boolean", help: "flux: fast-forward each workspace's branch at every later start" },
    "depends-on": { type: "string", arg: "A,B", help: "flux: the Flux Kustomizations the workspaces wait for\n(default external-secrets-stores,cert-manager; \"\" for none)" },
  },
  exits: ["config"],
});

export const BACKUP = declareCommand({
  name: "backup",
  summary: "backup now | backup list: have the daemon write a consistent archive of every persisted directory, or list them",
  usage: "now | list",
  options: { config, json },
  exits: ASK_EXITS,
});

export const RESTORE = declareCommand({
  name: "restore",
  summary: "restore ARCHIVE: verify it, stop the affected containers, swap their data, start in order, wait until ready",
  usage: "ARCHIVE",
  options: { config, json },
  exits: ASK_EXITS,
});

export const UPDATE = declareCommand({
  name: "update",
  summary: "update [--check] [CONTAINER]: move to new images (pull or rebuild), rolling back any that does not stay ready",
  usage: "[CONTAINER]",
  options: { config, check: { type: "boolean", help: "only say which containers have a new image" }, json },
  exits: ASK_EXITS,
});

export const RESTART_DAEMON = declareCommand({
  name: "restart-daemon",
  summary: "replace the running daemon without restarting any container (the upgrade path; systemctl restart restarts the pod)",
  options: {
    config,
    unit: { type: "string", arg: "NAME", help: "the daemon's systemd unit (default opencode-memory-pod.service)" },
    timeout: { ...SHARED.timeout, help: "how long a signalled daemon may take to exit (default 3m)" },
    json,
  },
  exits: ["daemon", "config"],
});

/** install and uninstall. */
const service = {
  prefix: { type: "string", arg: "DIR", help: "where podwarden goes (default /opt/podwarden)" },
  "dry-run": { type: "boolean", help: "print every step, change nothing" },
  json,
  root: { type: "string", arg: "DIR", help: "write under DIR instead of / (tests, packaging); no systemctl" },
} as const;

export const INSTALL = declareCommand({
  name: "install",
  summary: "install podwarden as the opencode-memory-pod service (as root; again to upgrade); --dry-run shows every step",
  options: {
    local: { type: "boolean", help: "the config extends config/local.yaml (images built here, no registry)" },
    "no-start": { type: "boolean", help: "enable the service but do not start it" },
    ...service,
  },
  exits: ["config"],
});

export const UNINSTALL = declareCommand({
  name: "uninstall",
  summary: "stop and remove the service and /opt/podwarden; keeps the config, the env file and all data",
  options: service,
  exits: [],
});

export const IMAGES = declareCommand({ name: "images", summary: "pull or build every image the pod needs that is missing, with progress", options: { config, socket, json }, exits: ["podman", "config"] });
