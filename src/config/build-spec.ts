// The merged document -> PodSpec + Secrets: the semantic checks, then the env file.
//
// Fields that failed the schema are left out here (their errors are already collected) and the rest
// is still checked, so one run reports as many problems as it can.

import type { Static, TObject, TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { access } from "node:fs/promises";
import type { ContainerSpec, PodSpec, PortMapping, Secrets } from "../domain/spec.js";
import { buildContainer, type ContainerContext } from "./containers.js";
import { describeCycle, findCycles } from "./cycles.js";
import { checkSecrets, readEnvFile } from "./env-file.js";
import { isPlainObject } from "./field-path.js";
import { buildImages } from "./images.js";
import { checkJobs } from "./jobs.js";
import type { Issues } from "./issues.js";
import { buildPorts } from "./ports.js";
import { resolveDefaults } from "./probe.js";
import { applyWorkspace } from "./workspace.js";
import { ContainerSchema, DefaultsSchema, ImageSchema, PodSchema } from "./schema.js";

export interface BuiltConfig {
  readonly spec: PodSpec;
  readonly secrets: Secrets;
}

/** Throws one ConfigError with everything `issues` holds once all checks have run. */
/**
 * `envFile: "optional"` (render): a missing env file is a warning and the spec is built without
 * secrets, since a rendering names keys but never holds values.
 */
export interface BuildOptions {
  readonly envFile?: "required" | "optional";
}

export async function buildSpec(doc: Readonly<Record<string, unknown>>, source: string, issues: Issues, options: BuildOptions = {}): Promise<BuiltConfig> {
  const pod = isPlainObject(doc.pod) ? doc.pod : {};
  const ports = portsOf(pod.ports, issues);
  const defaults = resolveDefaults(validPart(DefaultsSchema, doc.defaults), issues);
  const containers = buildContainers(doc, {
    issues,
    defaults: defaults.timing,
    stopTimeoutMs: defaults.stopTimeoutMs,
    publishedPorts: ports && new Set(ports.filter((p) => p.protocol === "tcp").map((p) => p.container)),
    persistRoot: nonEmptyString(pod.persistRoot),
    containerNames: new Set(keysOf(doc.containers)),
  });
  const images = await buildImages(validEntries(ImageSchema, doc.images), keysOf(doc.images), issues);

  const envFile = nonEmptyString(pod.envFile);
  const skipEnvFile = envFile !== undefined && options.envFile === "optional" && !(await exists(envFile));
  if (skipEnvFile) issues.warn(["pod", "envFile"], `${envFile} does not exist: going on without it (the keys that secretEnv patterns stand for are unknown)`);
  const secrets = envFile === undefined ? undefined : skipEnvFile ? new Map<string, string>() : await readEnvFile(envFile, issues);
  const secretKeys = skipEnvFile ? undefined : secrets && new Set(secrets.keys());
  const all = applyWorkspace(doc.workspace, containers, nonEmptyString(pod.persistRoot), secretKeys, issues);
  if (envFile !== undefined && secrets !== undefined && !skipEnvFile) checkSecrets(all, secrets, envFile, issues);
  checkJobs(all, images, doc.jobs, issues);

  issues.throwIfAny();
  // No error was found, so every part is present; this only tells the compiler.
  if (!valid(PodSchema, doc.pod) || ports === undefined || envFile === undefined || secrets === undefined) {
    throw new Error("internal error: a config without errors is incomplete");
  }
  const spec: PodSpec = { name: doc.pod.name, ports, envFile, persistRoot: doc.pod.persistRoot, containers: all, images, source, restart: defaults.restart, ...(doc.pod.dns ? { dns: doc.pod.dns } : {}) };
  return { spec, secrets };
}

const exists = (file: string): Promise<boolean> => access(file).then(
  () => true,
  () => false,
);

function buildContainers(doc: Readonly<Record<string, unknown>>, ctx: ContainerContext): ContainerSpec[] {
  if (isPlainObject(doc.containers) && ctx.containerNames.size === 0) {
    ctx.issues.error(["containers"], "must define at least one container");
  }
  const sections = [...validEntries(ContainerSchema, doc.containers)];
  const containers = sections.map(([name, section]) => buildContainer(name, section, ctx));
  for (const cycle of findCycles(containers)) {
    ctx.issues.error(["containers", cycle.from, "dependsOn", cycle.index], `dependency cycle: ${describeCycle(cycle)}`);
  }
  return containers;
}

/** The mappings, [] when there is no `ports`, undefined when `ports` is not a list at all. */
function portsOf(value: unknown, issues: Issues): PortMapping[] | undefined {
  if (value === undefined) return [];
  return Array.isArray(value) ? buildPorts(value, issues) : undefined;
}

const valid = <T extends TSchema>(schema: T, value: unknown): value is Static<T> => Value.Check(schema, value);

/**
 * `value` without the fields that fail their own schema, when what is left is still valid: a container
 * with a bad stopTimeout is still checked for its dependencies and probe. Undefined when a required
 * field is bad or the value is no mapping.
 */
function validPart<T extends TObject>(schema: T, value: unknown): Static<T> | undefined {
  if (!isPlainObject(value)) return undefined;
  const properties: Record<string, TSchema> = schema.properties;
  const kept = Object.fromEntries(
    Object.entries(value).filter(([key, field]) => Object.hasOwn(properties, key) && valid(properties[key] as TSchema, field)),
  );
  return valid(schema, kept) ? kept : undefined;
}

const keysOf = (value: unknown): string[] => (isPlainObject(value) ? Object.keys(value) : []);

const nonEmptyString = (value: unknown): string | undefined => (typeof value === "string" && value !== "" ? value : undefined);

/** The entries of a map section whose values are (partly) valid, in file order. */
function validEntries<T extends TObject>(schema: T, value: unknown): Map<string, Static<T>> {
  const entries = new Map<string, Static<T>>();
  for (const [key, section] of isPlainObject(value) ? Object.entries(value) : []) {
    const part = validPart(schema, section);
    if (part !== undefined) entries.set(key, part);
  }
  return entries;
}
