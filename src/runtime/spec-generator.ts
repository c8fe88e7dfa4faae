// PURE: podwarden's runtime-neutral create requests -> the JSON bodies libpod's create
// endpoints take (POST /libpod/pods/create, POST /libpod/containers/create). No I/O: what
// it needs from the host (the mounts present, the image's argv) is passed in. Golden files
// pin its output for the shipped pod (test/unit/runtime/spec-generator.test.ts).

import { SECRET_ENV_TARGET, wrapWithSecretEnv, type ContainerCreateRequest, type PodCreateRequest } from "../domain/create-request.js";
import type { ImageArgv } from "./port.js";

const NS_PER_MS = 1_000_000;

/** What the container would run: the spec's entrypoint/command over the image's (Docker semantics). */
export const effectiveArgv = (req: ContainerCreateRequest, image: ImageArgv): string[] =>
  req.entrypoint
    ? [...req.entrypoint, ...(req.command ?? [])]
    : [...(image.entrypoint ?? []), ...(req.command ?? image.cmd ?? [])];

/** Owner of the secret file: the container's numeric user, else root. */
const secretOwner = (user: string | undefined): { UID: number; GID: number } => {
  const [uid, gid] = (user ?? "").split(":");
  const num = (v: string | undefined): number => (v !== undefined && /^\d+$/.test(v) ? Number(v) : 0);
  return { UID: num(uid), GID: num(gid ?? uid) };
};

/** The pod create request as libpod's PodSpecGenerator JSON. */
export const toPodSpecGenerator = (req: PodCreateRequest): Record<string, unknown> => ({
  name: req.name,
  labels: req.labels,
  portmappings: req.ports.map((p) => ({ host_port: p.host, container_port: p.container, protocol: p.protocol })),
  ...(req.dns ? { dns_server: req.dns } : {}),
});

/**
 * Translates the runtime-neutral create request into libpod's SpecGenerator JSON.
 * `imageArgv` is needed only when the request has a secret file (its command is wrapped).
 */
export const toSpecGenerator = (
  req: ContainerCreateRequest,
  presentMounts: ContainerCreateRequest["mounts"],
  imageArgv?: ImageArgv,
): Record<string, unknown> => ({
  name: req.name,
  pod: req.pod,
  image: req.image,
  ...(req.secretFile
    ? {
        ...wrapWithSecretEnv(effectiveArgv(req, imageArgv ?? { entrypoint: null, cmd: null })),
        secrets: [{ Source: req.secretFile.secret, Target: SECRET_ENV_TARGET, Mode: 0o400, ...secretOwner(req.user) }],
      }
    : {
        ...(req.command ? { command: req.command } : {}),
        ...(req.entrypoint ? { entrypoint: req.entrypoint } : {}),
      }),
  env: req.env,
  labels: req.labels,
  restart_policy: "no",
  stop_timeout: req.stopTimeoutS,
  ...(req.workdir ? { work_dir: req.workdir } : {}),
  ...(req.user ? { user: req.user } : {}),
  mounts: presentMounts.map((m) => ({
    type: "bind",
    source: m.source,
    destination: m.target,
    options: ["rbind", m.readOnly ? "ro" : "rw"],
  })),
  ...(req.healthcheck
    ? {
        healthconfig: {
          Test: ["CMD", ...req.healthcheck.command],
          // Podman's own timer never fires here: podwarden runs the check on demand.
          Interval: 0,
          Timeout: req.healthcheck.timeoutMs * NS_PER_MS,
          Retries: 1,
          StartPeriod: 0,
        },
      }
    : {}),
});
