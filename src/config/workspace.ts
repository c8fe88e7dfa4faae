// `workspace: { repo, branch?, tokenKey?, dir? }`: the OpenCode workspace repository. It
// becomes an init container (the clone-once script in the OpenCode image) that runs before
// OpenCode, a persisted /workspaces mount for both, and OpenCode's working directory.

import path from "node:path";
import { Type, type Static } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { CLONE_ONCE, GIT_CREDENTIAL, WORKSPACES_TARGET, findOpenCode } from "../domain/opencode.js";
import type { ContainerSpec } from "../domain/spec.js";
import type { Issues } from "./issues.js";

export const WorkspaceSchema = Type.Object(
  {
    /** https URL of the repository, without credentials. */
    repo: Type.String({ pattern: "^https?://[^@]+$", errorMessage: "must be an http(s) URL without credentials in it" }),
    branch: Type.Optional(Type.String({ minLength: 1 })),
    /** The env-file key holding an access token (never in the URL). */
    tokenKey: Type.Optional(Type.String({ pattern: "^[A-Za-z_][A-Za-z0-9_]*$" })),
    /** Persisted directory under pod.persistRoot (default "workspaces"). */
    dir: Type.Optional(Type.String({ pattern: "^[A-Za-z0-9_.-]+$" })),
    /** AUTO-01: at every later start, fast-forward the branch before OpenCode starts. */
    pull: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type WorkspaceSection = Static<typeof WorkspaceSchema>;


/** The repository's directory name: the URL's last segment without ".git". */
export const repoName = (url: string): string => path.posix.basename(new URL(url).pathname).replace(/\.git$/, "") || "repo";

/**
 * Adds the init container and wires OpenCode to it. The OpenCode container is the one that
 * mounts OpenCode's data directory. Returns the containers unchanged when there is no workspace.
 */
export function applyWorkspace(
  section: unknown,
  containers: readonly ContainerSpec[],
  persistRoot: string | undefined,
  secretKeys: ReadonlySet<string> | undefined,
  issues: Issues,
): ContainerSpec[] {
  if (section === undefined || !Value.Check(WorkspaceSchema, section)) return [...containers];
  const oc = findOpenCode(containers)?.container;
  if (!oc) {
    issues.error(["workspace"], "needs an OpenCode container (one that mounts …/.local/share/opencode) to give the repository to");
    return [...containers];
  }
  if (containers.some((c) => c.name === "workspace")) issues.error(["workspace"], 'a container named "workspace" already exists; the workspace init step needs that name');
  if (section.tokenKey !== undefined && secretKeys !== undefined && !secretKeys.has(section.tokenKey)) {
    issues.error(["workspace", "tokenKey"], `${section.tokenKey} is not in the env file`);
  }
  const repoDir = `${WORKSPACES_TARGET}/${repoName(section.repo)}`;
  const mount = { source: path.resolve(persistRoot ?? "/", section.dir ?? "workspaces"), target: WORKSPACES_TARGET, readOnly: false, optional: false, create: true };
  const init: ContainerSpec = {
    name: "workspace",
    image: oc.image,
    entrypoint: [CLONE_ONCE],
    command: [],
    env: {
      REPO_URL: section.repo,
      REPO_DIR: repoDir,
      ...(section.branch ? { REPO_BRANCH: section.branch } : {}),
      ...(section.tokenKey ? { REPO_TOKEN_VAR: section.tokenKey } : {}),
      ...(section.pull ? { REPO_PULL: "1" } : {}),
    },
    secretEnv: section.tokenKey ? [section.tokenKey] : [],
    mounts: [mount],
    dependsOn: [],
    stopTimeoutS: 10,
    init: true,
  };
  // A manual `git pull` in OpenCode's terminal: git asks the image's credential helper, which
  // reads the token from OpenCode's environment at that moment (nothing in .git/config or argv).
  const credentials: Record<string, string> = section.tokenKey
    ? { GIT_CONFIG_COUNT: "1", GIT_CONFIG_KEY_0: "credential.helper", GIT_CONFIG_VALUE_0: `!sh ${GIT_CREDENTIAL}`, REPO_URL: section.repo, REPO_TOKEN_VAR: section.tokenKey }
    : {};
  const wired: ContainerSpec = {
    ...oc,
    env: { ...oc.env, ...credentials },
    secretEnv: section.tokenKey && oc.secretEnv !== "all" ? [...oc.secretEnv, section.tokenKey] : oc.secretEnv,
    mounts: [...oc.mounts, mount],
    workdir: repoDir,
    dependsOn: [...oc.dependsOn, { name: "workspace", restart: false, soft: false }],
  };
  return [init, ...containers.map((c) => (c === oc ? wired : c))];
}
