// The desired state of the pod, rendered from the spec alone (pure): each container's create
// request with its spec-hash label, the secret file it needs, and the pod's own request.
// Jobs bend it for a while through Overrides: held and suspended containers (for plan()) and
// image pins (here).

import { containerCreateRequest, podCreateRequest, renderSecretFile, type ContainerCreateRequest, type PodCreateRequest } from "./create-request.js";
import { secretKeysFor } from "./secret-env.js";
import { secretName, specHash } from "./spec-hash.js";
import type { ImagePin } from "./jobs.js";
import { LABELS, type PodSpec, type Secrets } from "./spec.js";

/** What jobs change about the pod for a while, in one value. */
export interface Overrides {
  /** Hands off: a job (a backup pausing it) has the container; no probes, verdicts or actions. */
  readonly held: ReadonlySet<string>;
  /** Kept stopped (a restore swaps their data). */
  readonly suspended: ReadonlySet<string>;
  /** Images run in place of the spec's (updates, rollbacks). */
  readonly pins: ReadonlyMap<string, ImagePin>;
}

export const NO_OVERRIDES: Overrides = { held: new Set(), suspended: new Set(), pins: new Map() };

export interface DesiredContainer {
  readonly request: ContainerCreateRequest;
  /** The secret file to create before the container: [name, content]. */
  readonly secret: readonly [string, string] | undefined;
}

export interface Desired {
  readonly containers: ReadonlyMap<string, DesiredContainer>;
  /** Spec hash per logical container name. */
  readonly hashes: ReadonlyMap<string, string>;
  readonly pod: PodCreateRequest;
  readonly podHash: string;
  /** Names of the secrets the desired containers use (older ones can be pruned). */
  readonly secretNames: ReadonlySet<string>;
}

const withHash = <T extends ContainerCreateRequest | PodCreateRequest>(req: T): T => ({ ...req, labels: { ...req.labels, [LABELS.specHash]: specHash(req) } });

/**
 * Renders every container's create request once; the spec-hash label goes on last, over
 * everything else (a secret's name carries a keyed hash of its content, so a changed value
 * changes the hash). `key` is the secret-naming key: the same key keeps names, and so hashes, stable.
 */
export const renderDesired = (spec: PodSpec, secrets: Secrets, pins: ReadonlyMap<string, ImagePin>, key: Uint8Array): Desired => {
  const containers = new Map<string, DesiredContainer>();
  for (const declared of spec.containers) {
    const pin = pins.get(declared.name);
    const c = pin && pin.ref === declared.image ? { ...declared, image: pin.image } : declared;
    const keys = secretKeysFor(c, secrets.keys());
    const content = renderSecretFile(keys, secrets);
    const secret = keys.length > 0 ? ([secretName(key, spec.name, c.name, content), content] as const) : undefined;
    const request = withHash(containerCreateRequest(spec, c, secret ? { secret: secret[0], keys } : undefined));
    containers.set(c.name, { request, secret });
  }
  const pod = withHash(podCreateRequest(spec));
  return {
    containers,
    hashes: new Map([...containers].map(([n, d]) => [n, d.request.labels[LABELS.specHash]!])),
    pod,
    podHash: pod.labels[LABELS.specHash]!,
    secretNames: new Set([...containers.values()].flatMap((d) => (d.secret ? [d.secret[0]] : []))),
  };
};

/** What differs between two renderings: changed, added and removed containers, and whether the pod must be made anew. */
export const desiredChanges = (before: Desired, after: Desired): { changed: string[]; podChanged: boolean } => {
  const names = new Set([...before.hashes.keys(), ...after.hashes.keys()]);
  return { changed: [...names].filter((n) => before.hashes.get(n) !== after.hashes.get(n)), podChanged: before.podHash !== after.podHash };
};
