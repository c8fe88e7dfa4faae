// One `containers.<name>` section -> ContainerSpec, with the checks that need the rest of the config
// (known container names, pod.persistRoot, published ports, defaults).

import path from "node:path";
import { handsOutEverything, isExclusion } from "../domain/secret-env.js";
import type { ContainerSpec, DependencyEdge, MountSpec, RequiredSecret, UpdateSpec } from "../domain/spec.js";
import { parseImageRef } from "../domain/image-ref.js";
import { parseDuration } from "./durations.js";
import { sourceProblem, targetProblem } from "./mount-paths.js";
import { show } from "./schema-errors.js";
import { checkSchedule } from "./jobs.js";
import type { FieldPath } from "./field-path.js";
import { compact } from "./freeze.js";
import { buildProbe, stopTimeout, type ProbeContext } from "./probe.js";
import { JOBS_DEFAULTS, type ContainerSection, type DependencySection, type MountSection, type RequiredSecretSection } from "./schema.js";

export interface ContainerContext extends ProbeContext {
  /** Every key of `containers`, valid or not, so a typo elsewhere does not look like an unknown dependency. */
  readonly containerNames: ReadonlySet<string>;
  /** Absolute; undefined when pod.persistRoot is itself invalid. */
  readonly persistRoot: string | undefined;
  readonly stopTimeoutMs: number;
}

export function buildContainer(name: string, section: ContainerSection, ctx: ContainerContext): ContainerSpec {
  const at: FieldPath = ["containers", name];
  const imageBad = parseImageRef(section.image);
  if (typeof imageBad === "string") ctx.issues.error([...at, "image"], `${show(section.image)} is not an image reference: ${imageBad}`);
  const probe = section.probe && buildProbe(section.probe, [...at, "probe"], ctx);
  const stopMs =
    section.stopTimeout === undefined ? ctx.stopTimeoutMs : stopTimeout(section.stopTimeout, [...at, "stopTimeout"], ctx.issues);
  if (section.init === true && section.probe !== undefined) {
    ctx.issues.error([...at, "probe"], "an init container has no probe: it is ready once it has exited 0");
  }
  checkSecretEnvShape(section.secretEnv, [...at, "secretEnv"], ctx);
  return compact({
    name,
    image: section.image,
    command: section.command && [...section.command],
    entrypoint: section.entrypoint && [...section.entrypoint],
    env: { ...section.env },
    secretEnv: section.secretEnv === "all" ? "all" : [...(section.secretEnv ?? [])],
    requiredSecrets: section.requiredSecrets?.map(requiredSecret),
    mounts: buildMounts(section.mounts ?? [], [...at, "mounts"], ctx),
    dependsOn: buildDependencies(section.dependsOn ?? [], [...at, "dependsOn"], ctx),
    probe,
    stopTimeoutS: Math.ceil(stopMs / 1000),
    workdir: section.workdir,
    user: section.user,
    init: section.init === true ? true : undefined,
    update: section.update && section.update.policy !== "none" ? buildUpdate(section.update, [...at, "update"], ctx) : undefined,
  });
}

/** What the patterns say by themselves; what they match is checked against the env file (env-file.ts). */
function checkSecretEnvShape(secretEnv: ContainerSection["secretEnv"], at: FieldPath, ctx: ContainerContext): void {
  if (secretEnv === undefined) return;
  if (handsOutEverything(secretEnv)) {
    ctx.issues.warn(
      at,
      `${secretEnv === "all" ? '"all"' : '"*"'} hands every key of the env file to this container, keys meant for other ` +
        "containers included: list only the keys it needs (KEY, DD_*, !DD_*)",
    );
  } else if (secretEnv !== "all" && secretEnv.length > 0 && secretEnv.every(isExclusion)) {
    ctx.issues.error(at, "has only ! patterns, which leave keys out of nothing: name the keys or globs this container receives");
  }
}

function buildUpdate(section: NonNullable<ContainerSection["update"]>, at: FieldPath, ctx: ContainerContext): UpdateSpec {
  checkSchedule(section.schedule, [...at, "schedule"], ctx.issues);
  return compact({
    policy: section.policy === "registry" ? "registry" : "local",
    schedule: section.schedule,
    windowMs: parseDuration(section.window ?? JOBS_DEFAULTS.updateWindow),
  });
}

function buildMounts(sections: readonly MountSection[], at: FieldPath, ctx: ContainerContext): MountSpec[] {
  const targets = new Map<string, number>();
  return sections.map((mount, index) => {
    const here = [...at, index];
    if (mount.create === true && mount.optional === true) {
      ctx.issues.error(here, "create and optional cannot both be true: a source that is created always exists");
    }
    const target = path.posix.resolve(mount.target);
    const earlier = targets.get(target);
    const targetBad = targetProblem(mount.target);
    if (targetBad !== undefined) ctx.issues.error([...here, "target"], targetBad);
    else if (earlier === undefined) targets.set(target, index);
    else ctx.issues.error([...here, "target"], `${target} is already the target of ${formatIndex(at, earlier)}`);
    const sourceBad = sourceProblem(mount.source);
    if (sourceBad !== undefined) ctx.issues.error([...here, "source"], sourceBad);
    return {
      source: sourceBad === undefined ? mountSource(mount.source, [...here, "source"], ctx) : mount.source,
      target,
      readOnly: mount.readOnly ?? false,
      optional: mount.optional ?? false,
      create: mount.create ?? false,
    };
  });
}

const formatIndex = (at: FieldPath, index: number): string => `${String(at[at.length - 1])}[${index}]`;

/** Absolute sources stay as they are; relative ones live under pod.persistRoot and may not leave it. */
function mountSource(source: string, at: FieldPath, ctx: ContainerContext): string {
  if (path.isAbsolute(source)) return path.normalize(source);
  if (ctx.persistRoot === undefined) return source;
  const resolved = path.resolve(ctx.persistRoot, source);
  const inside = path.relative(ctx.persistRoot, resolved);
  if (inside === "" || inside.startsWith("..")) {
    const got = JSON.stringify(source);
    ctx.issues.error(at, `a relative source must name a directory inside pod.persistRoot (${ctx.persistRoot}); got ${got}`);
  }
  return resolved;
}

const requiredSecret = (section: RequiredSecretSection): RequiredSecret =>
  typeof section === "string" ? { key: section } : compact({ key: section.key, why: section.why });

function buildDependencies(sections: readonly DependencySection[], at: FieldPath, ctx: ContainerContext): DependencyEdge[] {
  const seen = new Map<string, number>();
  return sections.map((section, index) => {
    const edge: DependencyEdge =
      typeof section === "string"
        ? { name: section, restart: false, soft: false }
        : { name: section.name, restart: section.restart ?? false, soft: section.soft ?? false };
    if (edge.soft && edge.restart) {
      ctx.issues.error(
        [...at, index],
        "soft and restart cannot both be true: a soft dependency never takes its dependent down, restart: true does",
      );
    }
    const earlier = seen.get(edge.name);
    if (!ctx.containerNames.has(edge.name)) {
      const known = [...ctx.containerNames].join(", ");
      ctx.issues.error([...at, index], `unknown container ${JSON.stringify(edge.name)} (containers: ${known})`);
    } else if (earlier !== undefined) {
      ctx.issues.error([...at, index], `${JSON.stringify(edge.name)} is already listed at ${formatIndex(at, earlier)}`);
    }
    seen.set(edge.name, earlier ?? index);
    return edge;
  });
}
