// How `extends` combines files: maps merge recursively, arrays and scalars of the override replace.

import { isPlainObject } from "./field-path.js";

export function deepMerge(base: unknown, override: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(override)) return override;
  const merged = new Map<string, unknown>(Object.entries(base));
  for (const [key, value] of Object.entries(override)) {
    merged.set(key, merged.has(key) ? deepMerge(merged.get(key), value) : value);
  }
  // fromEntries defines own properties, so a "__proto__" key stays a plain key.
  return Object.fromEntries(merged);
}
