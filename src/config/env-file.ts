// The env file: KEY=VALUE secrets, parsed strictly (env-parse.ts; nothing touches process.env), its
// bounds, and the checks of the config against its keys.

import { isExclusion, isGlob, matchesPattern, receivesKey, secretKeysFor, unmatchedGlobs } from "../domain/secret-env.js";
import { renderSecretFile } from "../domain/create-request.js";
import { softOnlyDependencies } from "../domain/serving.js";
import type { ContainerSpec, ProbeSpec, RequiredSecret, Secrets } from "../domain/spec.js";
import type { FieldPath } from "./field-path.js";
import type { Issues } from "./issues.js";
import { describeKey, parseEnv } from "./env-parse.js";
import { LIMITS } from "./limits.js";
import { readBounded } from "./read-bounded.js";

const AT: FieldPath = ["pod", "envFile"];

/**
 * The secrets in `file`, or undefined (and an error at pod.envFile) when it cannot be read. Every
 * problem of its lines is an error at `line N` of the file: a bad line, a key that is no shell
 * name, a key set twice, a value too long; the values themselves are never in a message.
 */
export async function readEnvFile(file: string, issues: Issues): Promise<Secrets | undefined> {
  const read = await readBounded(file, LIMITS.envFileBytes);
  if ("reason" in read) {
    issues.error(AT, `cannot read env file ${file}: ${read.reason}`);
    return undefined;
  }
  const { content, mode } = read;
  if ((mode & 0o077) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, "0");
    issues.warn(AT, `env file ${file} holds secrets but is accessible by group or others (mode ${octal}); chmod 600 it`);
  }
  return checkedEntries(file, content.toString("utf8"), issues);
}

function checkedEntries(file: string, text: string, issues: Issues): Secrets {
  const { entries, problems } = parseEnv(text);
  for (const p of problems) issues.at(file, `line ${p.line}`, p.message);
  const firstLine = new Map<string, number>();
  const secrets = new Map<string, string>();
  for (const { key, value, line } of entries) {
    const earlier = firstLine.get(key);
    if (earlier !== undefined) {
      issues.at(file, `line ${line}`, `key ${describeKey(key)} is set twice, at line ${earlier} and line ${line}: remove one`);
      continue;
    }
    if (value.length > LIMITS.envValueChars) {
      issues.at(file, `line ${line}`, `${describeKey(key)}: the value is ${value.length} characters, more than the limit of ${LIMITS.envValueChars}`);
    }
    firstLine.set(key, line);
    secrets.set(key, value);
  }
  if (secrets.size > LIMITS.envKeys) {
    issues.at(file, "keys", `holds ${secrets.size} keys, more than the limit of ${LIMITS.envKeys}`);
  }
  return secrets;
}

/** A key of `requiredSecrets` the container will not receive. */
export interface MissingSecret extends RequiredSecret {
  readonly container: string;
  /** Its index in the container's requiredSecrets. */
  readonly index: number;
  /** absent: not in the env file; withheld: in it, but not in the container's secretEnv list. */
  readonly problem: "absent" | "withheld";
}

/** Keys listed in `requiredSecrets` that a container will not receive (for validate, the daemon and doctor). */
export const missingRequiredSecrets = (containers: readonly ContainerSpec[], keys: ReadonlySet<string>): MissingSecret[] =>
  containers.flatMap((c) =>
    (c.requiredSecrets ?? []).flatMap((r, index): MissingSecret[] => {
      if (!keys.has(r.key)) return [{ ...r, container: c.name, index, problem: "absent" }];
      if (!receivesKey(c.secretEnv, r.key)) return [{ ...r, container: c.name, index, problem: "withheld" }];
      return [];
    }),
  );

/** One line about a missing key, saying what its absence does to the container's dependents. */
export const describeMissingSecret = (m: MissingSecret, containers: readonly ContainerSpec[], envFile: string): string => {
  const where = m.problem === "absent" ? `is not in the env file ${envFile}` : `is not in containers.${m.container}.secretEnv: the container does not receive it`;
  const dependents = containers.filter((c) => c.dependsOn.some((d) => d.name === m.container)).map((c) => c.name);
  const soft = softOnlyDependencies(containers).has(m.container);
  const consequence =
    dependents.length === 0
      ? ""
      : soft
        ? ` (soft dependency of ${dependents.join(", ")}, which start${dependents.length === 1 ? "s" : ""} anyway)`
        : ` (${dependents.join(", ")} wait${dependents.length === 1 ? "s" : ""} for it)`;
  return `${m.key} ${where}: ${m.why ?? "the container may fail without it"}${consequence}`;
};

/**
 * Every key named in secretEnv must be in the env file (and not left out by a `!` pattern of the
 * same list); a glob that matches no key, probe credentials and requiredSecrets that are missing
 * are warnings.
 */
export function checkSecrets(containers: readonly ContainerSpec[], secrets: Secrets, envFile: string, issues: Issues): void {
  const missing = missingRequiredSecrets(containers, new Set(secrets.keys()));
  for (const m of missing) {
    issues.warn(["containers", m.container, "requiredSecrets", m.index], describeMissingSecret(m, containers, envFile));
  }
  const absent = missing.filter((m) => m.problem === "absent").map((m) => m.key);
  for (const container of containers) {
    const at: FieldPath = ["containers", container.name];
    checkSecretFileSize(container, secrets, at, issues);
    checkSecretEnv(container, secrets, absent, envFile, [...at, "secretEnv"], issues);
    if (container.probe !== undefined) {
      checkProbeCredentials(container, container.probe, [...at, "probe"], secrets, envFile, issues);
    }
  }
}

/**
 * `absent`: required keys the env file lacks, already reported: a glob that would match one of
 * them (DD_* without DD_API_KEY) is not reported again as matching nothing.
 */
function checkSecretEnv(container: ContainerSpec, secrets: Secrets, absent: readonly string[], envFile: string, at: FieldPath, issues: Issues): void {
  if (container.secretEnv === "all") return;
  const { secretEnv } = container;
  const unmatched = new Set(unmatchedGlobs(secretEnv, secrets.keys()));
  secretEnv.forEach((pattern, index) => {
    const here = [...at, index];
    if (unmatched.has(pattern)) {
      if (!absent.some((key) => matchesPattern(pattern, key))) issues.warn(here, `${pattern} matches no key of the env file ${envFile}: the container receives none`);
    } else if (isExclusion(pattern) || isGlob(pattern)) {
      return;
    } else if (!secrets.has(pattern)) {
      issues.error(here, `${pattern} is not in the env file ${envFile}`);
    } else if (!receivesKey(secretEnv, pattern)) {
      issues.error(here, `${pattern} is also left out by a ! pattern of this list`);
    }
  });
}

/** Podman refuses a secret of 512000 bytes or more: the container's secret file must stay below. */
function checkSecretFileSize(container: ContainerSpec, secrets: Secrets, at: FieldPath, issues: Issues): void {
  const keys = secretKeysFor(container, secrets.keys()).filter((k) => secrets.has(k));
  const bytes = Buffer.byteLength(renderSecretFile(keys, secrets));
  if (bytes > LIMITS.secretFileBytes) {
    issues.error(
      [...at, "secretEnv"],
      `the ${keys.length} keys it receives make a secret file of ${bytes} bytes; Podman takes at most ${LIMITS.secretFileBytes}: give the container fewer or shorter keys`,
    );
  }
}

function checkProbeCredentials(
  container: ContainerSpec,
  probe: ProbeSpec,
  at: FieldPath,
  secrets: Secrets,
  envFile: string,
  issues: Issues,
): void {
  if (probe.kind === "redis" && probe.passwordKey !== undefined && !secrets.has(probe.passwordKey)) {
    issues.warn(
      [...at, "redis", "passwordKey"],
      `${probe.passwordKey} is not in the env file ${envFile}: the probe will not authenticate`,
    );
  }
  if (probe.kind !== "http" || probe.auth === undefined) return;
  const key = probe.auth.passwordKey;
  const where: FieldPath = [...at, "http", "auth", "passwordKey"];
  if (!secrets.has(key)) {
    issues.warn(
      where,
      `${key} is not in the env file ${envFile}: the probe sends no credentials, and a server that takes its ` +
        `password from ${key} runs WITHOUT authentication, open to anyone who can reach port ${probe.port}`,
    );
  } else if (!receivesKey(container.secretEnv, key)) {
    issues.warn(where, `${key} is not in containers.${container.name}.secretEnv: the container does not receive its password`);
  }
}
