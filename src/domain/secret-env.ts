// Which env-file keys a container receives: its `secretEnv` patterns against the file's keys.
//
//   KEY        exactly that key (the env file must have it)
//   DD_*       every key the glob matches (`*` is any run of characters, possibly none)
//   !DD_*      leaves out what it matches, whatever else includes it (order does not matter)
//   "all"      every key (kept for old configs; a warning says what it hands out)

import type { ContainerSpec } from "./spec.js";

export type SecretEnv = ContainerSpec["secretEnv"];

export const isExclusion = (pattern: string): boolean => pattern.startsWith("!");
export const isGlob = (pattern: string): boolean => pattern.includes("*");

const cache = new Map<string, RegExp>();

/** Whether `key` matches `pattern` (a key or a glob, without its `!`). */
export const matchesPattern = (pattern: string, key: string): boolean => {
  if (!isGlob(pattern)) return pattern === key;
  let re = cache.get(pattern);
  if (!re) {
    // Patterns are letters, digits, _ and * (the schema says so): only * is special.
    re = new RegExp(`^${pattern.split("*").join(".*")}$`);
    cache.set(pattern, re);
  }
  return re.test(key);
};

/** Whether a container with these patterns receives `key`. */
export const receivesKey = (secretEnv: SecretEnv, key: string): boolean => {
  if (secretEnv === "all") return true;
  let included = false;
  for (const p of secretEnv) {
    if (isExclusion(p)) {
      if (matchesPattern(p.slice(1), key)) return false;
    } else if (!included && matchesPattern(p, key)) included = true;
  }
  return included;
};

/**
 * Keys a container receives, sorted (the secret file's order): those of `available` (the env
 * file's keys) that its patterns match, and every key it names exactly (the config check makes
 * sure the env file has them; a rendering without the env file still names them).
 */
export const secretKeysFor = (c: Pick<ContainerSpec, "secretEnv">, available: Iterable<string>): string[] => {
  const named = c.secretEnv === "all" ? [] : c.secretEnv.filter((p) => !isExclusion(p) && !isGlob(p));
  return [...new Set([...available, ...named])].filter((k) => receivesKey(c.secretEnv, k)).sort();
};

/** The globs of these patterns that match none of `keys` (exclusions aside). */
export const unmatchedGlobs = (secretEnv: SecretEnv, keys: Iterable<string>): string[] => {
  if (secretEnv === "all") return [];
  const all = [...keys];
  return secretEnv.filter((p) => !isExclusion(p) && isGlob(p) && !all.some((k) => matchesPattern(p, k)));
};

/** Whether these patterns hand out every key of any env file (`all`, or `*` with nothing left out). */
export const handsOutEverything = (secretEnv: SecretEnv): boolean =>
  secretEnv === "all" || (secretEnv.includes("*") && !secretEnv.some(isExclusion));
