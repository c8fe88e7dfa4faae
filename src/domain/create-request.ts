// The runtime-neutral description of what podwarden asks Podman to create. It is rendered
// from the spec alone (pure), hashed for drift detection, and translated to libpod JSON
// by runtime/. Secret VALUES never appear here: only a secret's name, which carries a
// keyed hash of its content (spec-hash.ts secretName) so that a changed value changes the
// spec hash, while nobody without the key can test a guessed value against it.
//
// Why a file and not Podman's env secrets: Podman 4 copies `secret_env` values into
// Config.Env, where `podman inspect` shows them once the container has started. A secret
// mounted as a file does not leak, so each container gets one file of `export` lines at
// SECRET_ENV_PATH, and its command runs under a tiny /bin/sh wrapper that sources it.

import { LABELS, podmanName, type ContainerSpec, type MountSpec, type PodSpec } from "./spec.js";

export interface PodCreateRequest {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly ports: PodSpec["ports"];
  readonly dns?: readonly string[];
}

export interface ContainerCreateRequest {
  readonly name: string;
  readonly pod: string;
  readonly image: string;
  readonly command?: readonly string[];
  readonly entrypoint?: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** The Podman secret holding this container's env-file keys, mounted at SECRET_ENV_PATH. */
  readonly secretFile?: { readonly secret: string; readonly keys: readonly string[] };
  readonly mounts: readonly MountSpec[];
  readonly labels: Readonly<Record<string, string>>;
  readonly stopTimeoutS: number;
  readonly workdir?: string;
  readonly user?: string;
  /** Exec probe, registered as the container's health check so `podman ps` stays truthful. */
  readonly healthcheck?: { readonly command: readonly string[]; readonly timeoutMs: number };
}

export const managedLabels = (pod: string): Record<string, string> => ({
  [LABELS.managed]: "true",
  [LABELS.pod]: pod,
});

export const podCreateRequest = (spec: PodSpec): PodCreateRequest => ({
  name: spec.name,
  labels: managedLabels(spec.name),
  ports: spec.ports,
  ...(spec.dns ? { dns: spec.dns } : {}),
});

/**
 * Autodiscovery labels the Datadog Agent reads from the container (it sees them through
 * the Podman socket): its logs get a source and a service, and the pod as an env tag.
 */
export const datadogLabels = (pod: string, container: string): Record<string, string> => ({
  "com.datadoghq.ad.logs": JSON.stringify([{ source: container, service: container }]),
  "com.datadoghq.tags.service": container,
  "com.datadoghq.tags.env": pod,
});

export const SECRET_ENV_PATH = "/run/secrets/podwarden.env";
export const SECRET_ENV_TARGET = "podwarden.env";

const shQuote = (value: string): string => `'${value.replace(/'/g, `'\\''`)}'`;

/** The secret file's content: one `export KEY='value'` line per key, safe for any value. */
export const renderSecretFile = (keys: readonly string[], values: ReadonlyMap<string, string>): string =>
  keys.map((k) => `export ${k}=${shQuote(values.get(k) ?? "")}\n`).join("");

/** Runs `argv` after sourcing the secret file; argv stays visible, values do not. */
export const wrapWithSecretEnv = (argv: readonly string[]): { entrypoint: string[]; command: string[] } => ({
  entrypoint: ["/bin/sh", "-c", `. ${SECRET_ENV_PATH} && exec "$@"`, "podwarden-env"],
  command: [...argv],
});

/**
 * The create request without the spec-hash label. `secret` names the Podman secret with
 * this container's env-file keys (see spec-hash.ts secretName), if it has any.
 */
export const containerCreateRequest = (
  spec: PodSpec,
  c: ContainerSpec,
  secret?: { readonly secret: string; readonly keys: readonly string[] },
): ContainerCreateRequest => ({
  name: podmanName(spec.name, c.name),
  pod: spec.name,
  image: c.image,
  ...(c.command ? { command: c.command } : {}),
  ...(c.entrypoint ? { entrypoint: c.entrypoint } : {}),
  env: c.env,
  ...(secret && secret.keys.length > 0 ? { secretFile: secret } : {}),
  mounts: c.mounts,
  labels: { ...managedLabels(spec.name), [LABELS.container]: c.name, ...datadogLabels(spec.name, c.name) },
  stopTimeoutS: c.stopTimeoutS,
  ...(c.workdir ? { workdir: c.workdir } : {}),
  ...(c.user ? { user: c.user } : {}),
  ...(c.probe?.kind === "exec" ? { healthcheck: { command: c.probe.command, timeoutMs: c.probe.timeoutMs } } : {}),
});
