// Where OpenCode is in a pod spec, and the paths its image provides.

import type { ContainerSpec, MountSpec } from "./spec.js";

/** The clone-once init script inside the OpenCode image (config/images/opencode). */
export const CLONE_ONCE = "/usr/local/bin/podwarden-clone-once";

/** The git credential helper inside the OpenCode image (config/images/opencode/podwarden-git-credential.sh). */
export const GIT_CREDENTIAL = "/usr/local/bin/podwarden-git-credential";

/** Where workspace repositories live in the OpenCode container (one host, and Kubernetes). */
export const WORKSPACES_TARGET = "/workspaces";

/** OpenCode's data directory inside its container (sessions, auth.json). */
const OPENCODE_DATA_TARGET = /\/\.local\/share\/opencode\/?$/;

/** The OpenCode container is the one that mounts OpenCode's data directory; with that mount. */
export const findOpenCode = (containers: readonly ContainerSpec[]): { container: ContainerSpec; data: MountSpec } | undefined => {
  for (const container of containers) {
    const data = container.mounts.find((m) => OPENCODE_DATA_TARGET.test(m.target));
    if (data) return { container, data };
  }
  return undefined;
};
