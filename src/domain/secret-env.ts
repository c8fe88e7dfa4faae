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

/** A pattern (a key or a glob, without its `!`) as a regular expression source. */
const source = (pattern: string): string =>
  // Patterns are letters, digits, _ and * (the schema says so): only * is special.
  pattern.split("*").join(".*");

/** Whether `key` matches `pattern` (a key or a glob, without its `!`). */
export const matchesPattern = (pattern: string, key: string): boolean =>
  isGlob(pattern) ? new RegExp(`^${source(pattern)}$`).test(key) : pattern === key;

/** One alternation for all the patterns of a kind, or undefined when there are none. */
const alternation = (patterns: readonly string[]): RegExp | undefined =>
  patterns.length === 0 ? undefined : new RegExp(`^(?:${patterns.map(source).join("|")})$`);

/** Each list compiled once (specs are frozen, so a list is the same object on every call). */
const compiled = new WeakMap<readonly string[], (key: string) => boolean>();

const matcherOf = (patterns: readonly string[]): ((key: string) => boolean) => {
  let m = compiled.get(patterns);
  if (!m) {
    const include = alternation(patterns.filter((p) => !isExclusion(p)));
    const exclude = alternation(patterns.filter(isExclusion).map((p) => p.slice(1)));
    m = (key) => include !== undefined && include.test(key) && !(exclude !== undefined && exclude.test(key));
    compiled.set(patterns, m);
  }
  return m;
};

/** Whether a container with these patterns receives `key`. */
export const receivesKey = (secretEnv: SecretEnv, key: string): boolean => secretEnv === "all" || matcherOf(secretEnv)(key);

/**
 * Keys a container receives, sorted (the secret file's order): those of `available` (the env
 * file's keys) that its patterns match, and every key it names exactly (the config check makes
 * sure the env file has them; a rendering without the env file still names them).
 */
export const secretKeysFor = (c: Pick<ContainerSpec, "secretEnv">, available: Iterable<string>): string[] => {
  const { secretEnv } = c;
  if (secretEnv === "all") return [...new Set(available)].sort();
  const named = secretEnv.filter((p) => !isExclusion(p) && !isGlob(p));
  const receives = matcherOf(secretEnv);
  return [...new Set([...available, ...named])].filter(receives).sort();
};

/** The globs of these patterns that match none of `keys` (exclusions aside). */
export const unmatchedGlobs = (secretEnv: SecretEnv, keys: Iterable<string>): string[] => {
  if (secretEnv === "all") return [];
  const all = [...keys];
  return secretEnv.filter((p) => {
    if (isExclusion(p) || !isGlob(p)) return false;
    const re = new RegExp(`^${source(p)}$`);
    return !all.some((k) => re.test(k));
  });
};

/** Whether these patterns hand out every key of any env file (`all`, or `*` with nothing left out). */
export const handsOutEverything = (secretEnv: SecretEnv): boolean =>
  secretEnv === "all" || (secretEnv.includes("*") && !secretEnv.some(isExclusion));
