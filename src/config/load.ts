// loadConfig: YAML file (+ the files it extends) -> validated, frozen PodSpec, the secrets of its env
// file, and warnings. Every problem found is reported in one ConfigError (exit code 78).

import type { PodSpec, Secrets } from "../domain/spec.js";
import { buildSpec, type BuildOptions } from "./build-spec.js";
import { httpSettings, type HttpSettings } from "./http.js";
import { jobsSettings, type JobsSettings } from "./jobs.js";
import { deepMerge } from "./deep-merge.js";
import { deepFreeze } from "./freeze.js";
import { isPlainObject } from "./field-path.js";
import { Issues, type Layer } from "./issues.js";
import { readLayers } from "./layers.js";
import { LIMITS } from "./limits.js";
import { checkSchema } from "./schema-errors.js";

export interface LoadedConfig {
  readonly spec: PodSpec;
  readonly secrets: Secrets;
  /** The daemon's HTTP endpoints (not part of the pod). */
  readonly http: HttpSettings;
  /** Backups and where job state is kept (not part of the pod either). */
  readonly jobs: JobsSettings;
  /** Things that work but deserve attention (an env file readable by others, a probe without credentials). */
  readonly warnings: readonly string[];
}

/**
 * Loads `file`: reads it and the chain of files it `extends`, merges them, validates the result
 * (schema, then the checks across fields, then the env file) and maps it to a PodSpec.
 * Throws a ConfigError listing every issue, each with its file and field path.
 */
export async function loadConfig(file: string, options: BuildOptions = {}): Promise<LoadedConfig> {
  const { layers, warnings } = await readLayers(file);
  const issues = new Issues(layers);
  const doc = mergeLayers(layers);
  checkBounds(doc, issues);
  checkSchema(doc, issues);
  const http = await httpSettings(doc.http, issues);
  const jobs = jobsSettings(doc.jobs, issues);
  const { spec, secrets } = await buildSpec(doc, topFile(layers), issues, options);
  return { spec: deepFreeze(spec), secrets, http, jobs, warnings: [...warnings, ...issues.warnings] };
}

/**
 * The sections whose size every later check grows with. Past a bound the document is not checked
 * further: its other problems could be many and slow to find, and the bound is the one to fix first.
 */
function checkBounds(doc: Readonly<Record<string, unknown>>, issues: Issues): void {
  const bounds = [
    ["containers", LIMITS.containers],
    ["images", LIMITS.images],
  ] as const;
  for (const [section, limit] of bounds) {
    const value = doc[section];
    const count = isPlainObject(value) ? Object.keys(value).length : 0;
    if (count > limit) issues.error([section], `${count} entries, more than the limit of ${limit} per pod`);
  }
  issues.throwIfAny();
}

/** Base first; `extends` has done its job once the files are merged. */
function mergeLayers(layers: readonly Layer[]): Record<string, unknown> {
  const merged = new Map(Object.entries(layers.reduce<unknown>((base, layer) => deepMerge(base, layer.doc), {}) as object));
  merged.delete("extends");
  return Object.fromEntries(merged);
}

const topFile = (layers: readonly Layer[]): string => layers[layers.length - 1]?.file ?? "";
