// The runtime-neutral description of what podwarden asks Podman to create. It is rendered
// from the spec alone (pure), hashed for drift detection, and translated to libpod JSON
// by runtime/. Secret VALUES never appear here: only secret names, which carry a hash
// of their content so that a changed value changes the spec hash.

import { LABELS, podmanName, type ContainerSpec, type MountSpec, type PodSpec } from "./spec.js";

export interface PodCreateRequest {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly ports: PodSpec["ports"];
}

export interface ContainerCreateRequest {
  readonly name: string;
  readonly pod: string;
  readonly image: string;
  readonly command?: readonly string[];
  readonly entrypoint?: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Environment variable -> Podman secret name. */
  readonly secretEnv: Readonly<Record<string, string>>;
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
});

/** Keys of the env file a container receives as secrets. */
export const secretKeysFor = (c: ContainerSpec, available: Iterable<string>): string[] =>
  c.secretEnv === "all" ? [...available].sort() : [...c.secretEnv];

/**
 * The create request without the spec-hash label. `secretNames` maps env key -> secret name
 * (see spec-hash.ts secretName); the caller computes it from the secrets' contents.
 */
export const containerCreateRequest = (
  spec: PodSpec,
  c: ContainerSpec,
  secretNames: Readonly<Record<string, string>>,
): ContainerCreateRequest => ({
  name: podmanName(spec.name, c.name),
  pod: spec.name,
  image: c.image,
  ...(c.command ? { command: c.command } : {}),
  ...(c.entrypoint ? { entrypoint: c.entrypoint } : {}),
  env: c.env,
  secretEnv: secretNames,
  mounts: c.mounts,
  labels: { ...managedLabels(spec.name), [LABELS.container]: c.name },
  stopTimeoutS: c.stopTimeoutS,
  ...(c.workdir ? { workdir: c.workdir } : {}),
  ...(c.user ? { user: c.user } : {}),
  ...(c.probe?.kind === "exec" ? { healthcheck: { command: c.probe.command, timeoutMs: c.probe.timeoutMs } } : {}),
});
