// The merged document -> PodSpec + Secrets: the semantic checks, then the env file.
//
// Sections that failed the schema are skipped here (their errors are already collected), while the
// valid ones are still checked, so one run reports as many problems as it can.

import type { Static, TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import type { ContainerSpec, PodSpec, Secrets } from "../domain/spec.js";
import { buildContainer, type ContainerContext } from "./containers.js";
import { describeCycle, findCycles } from "./cycles.js";
import { checkSecrets, readEnvFile } from "./env-file.js";
import { isPlainObject } from "./field-path.js";
import { buildImages } from "./images.js";
import type { Issues } from "./issues.js";
import { buildPorts } from "./ports.js";
import { resolveDefaults } from "./probe.js";
import { ContainerSchema, DefaultsSchema, ImageSchema, PodSchema } from "./schema.js";

export interface BuiltConfig {
  readonly spec: PodSpec;
  readonly secrets: Secrets;
}

/** Throws one ConfigError with everything `issues` holds once all checks have run. */
export async function buildSpec(doc: Readonly<Record<string, unknown>>, source: string, issues: Issues): Promise<BuiltConfig> {
  const pod = isPlainObject(doc.pod) ? doc.pod : {};
  const ports = portsOf(pod.ports, issues);
  const defaults = resolveDefaults(valid(DefaultsSchema, doc.defaults) ? doc.defaults : undefined, issues);
  const containers = buildContainers(doc, {
    issues,
    defaults: defaults.timing,
    stopTimeoutMs: defaults.stopTimeoutMs,
    publishedPorts: ports && new Set(ports.filter((p) => p.protocol === "tcp").map((p) => p.container)),
    persistRoot: nonEmptyString(pod.persistRoot),
    containerNames: keysOf(doc.containers),
  });
  const images = await buildImages(validEntries(ImageSchema, doc.images), keysOf(doc.images), issues);

  const envFile = nonEmptyString(pod.envFile);
  const secrets = envFile === undefined ? undefined : await readEnvFile(envFile, issues);
  if (envFile !== undefined && secrets !== undefined) checkSecrets(containers, secrets, envFile, issues);

  issues.throwIfAny();
  // No error was found, so every part is present; this only tells the compiler.
  if (!valid(PodSchema, doc.pod) || ports === undefined || envFile === undefined || secrets === undefined) {
    throw new Error("internal error: a config without errors is incomplete");
  }
  const spec: PodSpec = { name: doc.pod.name, ports, envFile, containers, images, source };
  return { spec, secrets };
}

function buildContainers(doc: Readonly<Record<string, unknown>>, ctx: ContainerContext): ContainerSpec[] {
  if (isPlainObject(doc.containers) && ctx.containerNames.length === 0) {
    ctx.issues.error(["containers"], "must define at least one container");
  }
  const containers = [...validEntries(ContainerSchema, doc.containers)].map(([name, section]) => buildContainer(name, section, ctx));
  const graph = new Map(containers.map((c) => [c.name, c.dependsOn.map((edge) => edge.name)]));
  for (const cycle of findCycles(graph)) {
    ctx.issues.error(["containers", cycle.from, "dependsOn", cycle.index], `dependency cycle: ${describeCycle(cycle)}`);
  }
  return containers;
}

/** The mappings, [] when there is no `ports`, undefined when `ports` is not a list at all. */
function portsOf(value: unknown, issues: Issues) {
  if (value === undefined) return [];
  return Array.isArray(value) ? buildPorts(value, issues) : undefined;
}

const valid = <T extends TSchema>(schema: T, value: unknown): value is Static<T> => Value.Check(schema, value);

const keysOf = (value: unknown): string[] => (isPlainObject(value) ? Object.keys(value) : []);

const nonEmptyString = (value: unknown): string | undefined => (typeof value === "string" && value !== "" ? value : undefined);

/** The entries of a map section whose values pass `schema`, in file order. */
function validEntries<T extends TSchema>(schema: T, value: unknown): Map<string, Static<T>> {
  const entries = isPlainObject(value) ? Object.entries(value) : [];
  return new Map(entries.filter((entry): entry is [string, Static<T>] => valid(schema, entry[1])));
}
