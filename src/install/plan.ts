// `podwarden install` and `uninstall` as plans: pure functions from the options and what is
// already on the machine (a Survey) to the list of steps, each printable (`--dry-run`) and
// carried out by apply.ts. Nothing a user changed is overwritten: the config, the env file
// and drop-ins are kept when they exist; the unit file is podwarden's and is replaced.

import { posix } from "node:path";
import { PodwardenError } from "../lib/errors.js";
import { DEFAULT_PREFIX, PATHS, UNIT } from "../domain/host-paths.js";
import { collate } from "../domain/collate.js";

const SHIPPED_NODE = "/usr/bin/node";

/**
 * What the prefix gets from the source tree besides the production node_modules: the unit's
 * Documentation= points at README.md, the configs' image builds at ../Dockerfile.opencode,
 * the alert rules' runbook_url at docs/alerts.md, `render flux --with-alerts` reads monitoring/.
 */
export const PACKAGE_ENTRIES = ["dist", "package.json", "package-lock.json", "config", "systemd", "README.md", "Dockerfile.opencode", "docs", "monitoring"] as const;

export class InstallError extends PodwardenError {
  constructor(message: string, exitCode?: number) {
    super("E_INSTALL", message, exitCode === undefined ? undefined : { exitCode });
  }
}

/** Characters a path may have to be written into a unit file unquoted and unescaped. */
const SAFE_PATH = /^\/[A-Za-z0-9._+@/-]*$/;

/**
 * A path from the command line, checked: absolute, plain characters, no "." or ".." segments
 * and no empty ones; `minDepth` segments at least (a prefix may not be "/" or "/opt").
 * Returns it without a trailing slash.
 */
export const checkedPath = (what: string, value: string, minDepth: number): string => {
  const p = value.length > 1 ? value.replace(/\/+$/, "") : value;
  const segments = p.split("/").slice(1);
  const why = !p.startsWith("/")
    ? "must be absolute"
    : !SAFE_PATH.test(p)
      ? "may only contain letters, digits and . _ + @ - /"
      : segments.some((s) => s === "" || s === "." || s === "..") && p !== "/"
        ? "may not contain empty, . or .. segments"
        : (p === "/" ? 0 : segments.length) < minDepth
          ? `is too close to / (at least ${minDepth} levels, like ${DEFAULT_PREFIX})`
          : undefined;
  if (why) throw new InstallError(`${what} ${JSON.stringify(value)} ${why}`, 2);
  return p;
};

/** The package-lock.json entries installed in production: not `dev`, with checked paths. */
export interface LockPackage {
  /** "node_modules/pino", "node_modules/@scope/x/node_modules/y". */
  readonly path: string;
  readonly optional: boolean;
}

const NAME = "(?:@[A-Za-z0-9][\\w.~-]*/)?[A-Za-z0-9][\\w.~-]*";
const LOCK_PATH = new RegExp(`^node_modules/${NAME}(?:/node_modules/${NAME})*$`);

export const productionPackages = (lock: unknown): LockPackage[] => {
  const packages = (lock as { packages?: unknown } | null)?.packages;
  const version = (lock as { lockfileVersion?: unknown } | null)?.lockfileVersion;
  if (typeof version !== "number" || version < 2 || typeof packages !== "object" || packages === null) {
    throw new InstallError("package-lock.json has no `packages` map (lockfileVersion 2 or 3 needed): run npm install with npm 7 or later");
  }
  const out: LockPackage[] = [];
  for (const [path, entry] of Object.entries(packages as Record<string, unknown>)) {
    if (path === "") continue;
    const e = (entry ?? {}) as { dev?: unknown; optional?: unknown; link?: unknown };
    if (e.dev === true) continue;
    if (!LOCK_PATH.test(path) || path.split("/").some((s) => s === "." || s === "..")) throw new InstallError(`package-lock.json: odd package path ${JSON.stringify(path)}`);
    if (e.link === true) throw new InstallError(`package-lock.json: ${path} is a link (a workspace); install does not copy links`);
    out.push({ path, optional: e.optional === true });
  }
  return out.sort((a, b) => collate(a.path, b.path));
};

/** The shipped unit with the prefix and Node's path of this machine (identical for the defaults). */
export const renderUnit = (shipped: string, prefix: string, node: string): string => shipped.replaceAll(DEFAULT_PREFIX, prefix).replaceAll(SHIPPED_NODE, node);

export type ConfigVariant = "seed" | "local";
const VARIANT_FILE: Record<ConfigVariant, string> = { seed: "opencode-memory-pod.yaml", local: "local.yaml" };

/**
 * The config install writes: it extends the shipped one (replaced on upgrade, its relative
 * paths resolving in <prefix>/config/), and holds the user's changes. The example lines are
 * valid YAML once uncommented (a test checks it).
 */
export const renderConfig = (prefix: string, variant: ConfigVariant): string => `# podwarden's config for ${UNIT}, written by \`podwarden install\`, which never
# overwrites it: your changes go here. It extends the config shipped in ${prefix}/config/, which an
# upgrade replaces (paths there resolve against that folder: images/, ../Dockerfile.opencode).
# Maps merge over the shipped file; a list or a value replaces it. Check a change with
#   podwarden validate --config ${PATHS.config}
# and apply it with \`systemctl reload opencode-memory-pod\` (containers whose spec changed are
# recreated, nothing else).
extends: ${prefix}/config/${VARIANT_FILE[variant]}

# Examples: uncomment and change.
#
# pod:
#   envFile: /etc/podwarden/opencode.env       # /run is emptied at boot; keep secrets elsewhere
#   persistRoot: /srv/pod-data                 # then add ReadWritePaths=/srv/pod-data in a drop-in
#   ports: ["14096:4096", 6379, 6380, 3000, 8126]
#
# http:
#   port: 9091                                 # 9090 is also Prometheus's default
#
# containers:
#   datadog:
#     env:
#       DD_ENV: production
#
# jobs:
#   backup:
#     schedule: "30 3 * * *"                   # cron, host time
#     dir: /persist/backups/opencode-memory-pod  # under the unit's ReadWritePaths
#     keep: 7
`;

/** The env file skeleton (mode 0600): a generated OpenCode password and the Agent's key to fill in. */
export const renderEnvFile = (password: string): string => `# Secrets of the OpenCode memory pod (pod.envFile): KEY=VALUE lines, root-only (mode 0600).
# Written by \`podwarden install\`, which never overwrites it. /run is emptied at boot: have a
# service write it before ${UNIT} starts (the seed's onepassword-secrets.service
# does), or move it (pod.envFile in ${PATHS.config}).
#
# HTTP basic auth of the OpenCode server (user "opencode"); generated at install.
OPENCODE_SERVER_PASSWORD=${password}
# The Datadog Agent exits without a key (OpenCode keeps running; /status warns):
#DD_API_KEY=
`;

export interface InstallOptions {
  readonly prefix: string;
  readonly variant: ConfigVariant;
  /** enable, but do not start (or hand over to) the service. */
  readonly noStart: boolean;
  /** Files go under this directory (tests, packaging); systemctl and the config check are not run. */
  readonly rooted: boolean;
}

export type PrefixState = "absent" | "empty" | "podwarden" | "other";

/** What is on the machine already (read by survey.ts). */
export interface Survey {
  /** The package this podwarden runs from. */
  readonly source: string;
  /** Running from the prefix itself: nothing to copy. */
  readonly sourceIsPrefix: boolean;
  readonly prefixState: PrefixState;
  /** Production packages present in the source's node_modules (relative paths). */
  readonly packages: readonly string[];
  /** The source's systemd/<unit>. */
  readonly shippedUnit: string;
  /** The installed unit file's text, if there is one. */
  readonly installedUnit: string | undefined;
  /** Files in the unit's drop-in directory. */
  readonly dropIns: readonly string[];
  readonly configExists: boolean;
  readonly envFileExists: boolean;
  readonly envDirExists: boolean;
  readonly persistRootExists: boolean;
  readonly stateDirExists: boolean;
  /** The unit is running (active, activating, reloading). */
  readonly unitActive: boolean;
  /** Node's path for ExecStart=. */
  readonly node: string;
}

export type Step =
  | { readonly op: "copy"; readonly from: string; readonly to: string; readonly entries: readonly string[]; readonly packages: readonly string[]; readonly replaces: boolean }
  | { readonly op: "write"; readonly path: string; readonly mode: number; readonly content: string; readonly note: string; readonly exclusive: boolean; readonly secret?: boolean }
  | { readonly op: "mkdir"; readonly path: string; readonly mode: number; readonly note?: string }
  | { readonly op: "keep"; readonly path: string; readonly note: string }
  | { readonly op: "skip"; readonly what: string; readonly note: string }
  | { readonly op: "remove"; readonly path: string; readonly note: string }
  | { readonly op: "validate"; readonly config: string }
  | { readonly op: "systemctl"; readonly args: readonly string[]; readonly note?: string }
  | { readonly op: "handover"; readonly unit: string };

const dropInSteps = (s: Survey): Step[] => s.dropIns.map((f) => ({ op: "keep", path: posix.join(PATHS.dropInDir, f), note: "a drop-in: yours, kept" }));

const packageStep = (o: InstallOptions, s: Survey): Step => {
  if (s.sourceIsPrefix) return { op: "skip", what: `copy to ${o.prefix}`, note: "running from the install prefix: nothing to copy" };
  if (s.prefixState === "other") throw new InstallError(`${o.prefix} exists and is not a podwarden install (no package.json named podwarden): choose another --prefix, or empty it`);
  return { op: "copy", from: s.source, to: o.prefix, entries: [...PACKAGE_ENTRIES], packages: s.packages, replaces: s.prefixState === "podwarden" };
};

const unitStep = (o: InstallOptions, s: Survey): Step => {
  const content = renderUnit(s.shippedUnit, o.prefix, s.node);
  if (s.installedUnit === content) return { op: "keep", path: PATHS.unitFile, note: "unchanged" };
  const note =
    s.installedUnit === undefined
      ? "new"
      : "replaced: it differed from this version's unit, which is podwarden's (your changes belong in drop-ins: systemctl edit opencode-memory-pod)";
  return { op: "write", path: PATHS.unitFile, mode: 0o644, content, note, exclusive: false };
};

export const planInstall = (o: InstallOptions, s: Survey, password: string): Step[] => {
  const steps: Step[] = [packageStep(o, s), unitStep(o, s), ...dropInSteps(s)];
  steps.push(
    s.configExists
      ? { op: "keep", path: PATHS.config, note: "exists: never overwritten" }
      : { op: "write", path: PATHS.config, mode: 0o644, content: renderConfig(o.prefix, o.variant), note: `extends ${o.prefix}/config/${VARIANT_FILE[o.variant]}`, exclusive: true },
  );
  if (s.envFileExists) steps.push({ op: "keep", path: PATHS.envFile, note: "exists: never overwritten" });
  else {
    if (!s.envDirExists) steps.push({ op: "mkdir", path: posix.dirname(PATHS.envFile), mode: 0o700 });
    steps.push({ op: "write", path: PATHS.envFile, mode: 0o600, content: "", note: "a generated OPENCODE_SERVER_PASSWORD; add DD_API_KEY", exclusive: true, secret: true });
  }
  if (!s.persistRootExists) steps.push({ op: "mkdir", path: PATHS.persistRoot, mode: 0o755, note: "pod.persistRoot: the containers' data" });
  steps.push({ op: "validate", config: PATHS.config }, { op: "systemctl", args: ["daemon-reload"] });
  if (o.noStart) steps.push({ op: "systemctl", args: ["enable", UNIT], note: "--no-start: enabled for the next boot, not started" });
  else if (s.unitActive) steps.push({ op: "systemctl", args: ["enable", UNIT] }, { op: "handover", unit: UNIT });
  else steps.push({ op: "systemctl", args: ["enable", "--now", UNIT], note: "starts the pod: it returns once every container is ready" });
  // The password is only in the content, which is never printed.
  return steps.map((step) => (step.op === "write" && step.secret ? { ...step, content: renderEnvFile(password) } : step));
};

export const planUninstall = (o: Pick<InstallOptions, "prefix">, s: Survey): Step[] => {
  if (s.prefixState === "other") throw new InstallError(`${o.prefix} is not a podwarden install (no package.json named podwarden): not removing it`);
  const steps: Step[] = [];
  if (s.installedUnit !== undefined || s.unitActive) {
    steps.push(
      { op: "systemctl", args: ["disable", "--now", UNIT], note: "stops the pod: the daemon stops every container in reverse order and removes the pod (data stays)" },
      { op: "remove", path: PATHS.unitFile, note: "the unit" },
      { op: "systemctl", args: ["daemon-reload"] },
    );
  } else steps.push({ op: "skip", what: PATHS.unitFile, note: "not installed" });
  steps.push(...dropInSteps(s));
  steps.push(s.prefixState === "absent" ? { op: "skip", what: o.prefix, note: "not there" } : { op: "remove", path: o.prefix, note: "podwarden itself" });
  const kept: [boolean, string, string][] = [
    [s.configExists, PATHS.config, "your config"],
    [s.envFileExists, PATHS.envFile, "the pod's secrets"],
    [s.persistRootExists, PATHS.persistRoot, "the containers' data"],
    [s.stateDirExists, PATHS.stateDir, "job state (image pins)"],
  ];
  for (const [exists, path, note] of kept) if (exists) steps.push({ op: "keep", path, note });
  return steps;
};

const octal = (mode: number): string => mode.toString(8).padStart(4, "0");

/** One line per step, as --dry-run and the run itself print them. */
export const describeStep = (step: Step): string => {
  switch (step.op) {
    case "copy":
      return `copy ${step.from} -> ${step.to}${step.replaces ? " (replacing the installed version)" : ""}: ${step.entries.join(", ")}, node_modules (${step.packages.length} production packages)`;
    case "write":
      return `write ${step.path} (${octal(step.mode)}): ${step.note}`;
    case "mkdir":
      return `mkdir ${step.path} (${octal(step.mode)})${step.note ? `: ${step.note}` : ""}`;
    case "keep":
      return `keep ${step.path}: ${step.note}`;
    case "skip":
      return `skip ${step.what}: ${step.note}`;
    case "remove":
      return `remove ${step.path}: ${step.note}`;
    case "validate":
      return `check ${step.config} (podwarden validate)`;
    case "systemctl":
      return `run systemctl ${step.args.join(" ")}${step.note ? `: ${step.note}` : ""}`;
    case "handover":
      return `run podwarden restart-daemon --unit ${step.unit}: ${step.unit} is running, so the new daemon replaces the old one and adopts the running containers (none is restarted)`;
  }
};

/** A step as --json shows it: file contents are left out (the env file holds a password). */
export const stepJson = (step: Step): Record<string, unknown> => {
  const fields = Object.entries(step).filter(([k]) => k !== "content" && k !== "secret");
  return { ...Object.fromEntries(fields), ...("mode" in step ? { mode: octal(step.mode) } : {}), text: describeStep(step) };
};
