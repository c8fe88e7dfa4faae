// OpenCode's auth.json: one entry per provider. Importing one provider's entry keeps the
// others and is idempotent. Pure: the command does the reading and writing.

import { collate } from "./collate.js";

export type AuthFile = Readonly<Record<string, unknown>>;

/** The deep equality auth entries need (JSON values). */
const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
const sortKeys = (v: unknown): unknown =>
  v && typeof v === "object" && !Array.isArray(v)
    ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([x], [y]) => collate(x, y)).map(([k, x]) => [k, sortKeys(x)]))
    : v;

export const mergeAuthEntry = (target: AuthFile, provider: string, entry: unknown): { readonly changed: boolean; readonly next: AuthFile } =>
  sameJson(target[provider], entry) ? { changed: false, next: target } : { changed: true, next: { ...target, [provider]: entry } };
