// podwarden-merge-auth: merges the providers of one OpenCode auth.json (SOURCE, e.g. the
// Copilot entry from Doppler) into another (TARGET, the persisted one): other providers are
// kept, an entry equal to the one there changes nothing, the result is written beside and
// renamed into place with mode 0600. The contract is src/domain/opencode-auth.ts's
// mergeAuthEntry (test/unit/domain/opencode-auth.test.ts runs both on the same cases).
// Prints provider names only, never a token.
//   node podwarden-merge-auth.mjs SOURCE TARGET
// SOURCE is a file, or env:NAME for the content of the variable NAME (how the cluster's
// copilot-auth step gets the Doppler entry: a Secret reference, never a value in the manifest).
/* global process, console -- a Node script of its own (run by node in the cluster), not part of the build */
import { chmodSync, readFileSync, renameSync, writeFileSync } from "node:fs";

const [source, target] = process.argv.slice(2);
if (!source || !target) {
  console.error("usage: podwarden-merge-auth SOURCE TARGET");
  process.exit(64);
}
const readObject = (file, missingOk) => {
  let text;
  try {
    if (file.startsWith("env:")) {
      text = process.env[file.slice(4)]; // eslint-disable-line no-restricted-properties -- a script of its own, not podwarden
      if (text === undefined) throw Object.assign(new Error("unset"), { code: `${file.slice(4)} is unset` });
    } else text = readFileSync(file, "utf8");
  } catch (err) {
    if (missingOk && err.code === "ENOENT") return {};
    console.error(`merge-auth: cannot read ${file}: ${err.code ?? err.message}`);
    process.exit(1);
  }
  try {
    const v = JSON.parse(text);
    if (v && typeof v === "object" && !Array.isArray(v)) return v;
  } catch {
    /* reported below */
  }
  console.error(`merge-auth: ${file} is not a JSON object (an OpenCode auth.json)`);
  process.exit(1);
};
const sortKeys = (v) =>
  v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])])) : v;
const same = (a, b) => JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));

const incoming = readObject(source, false);
const current = readObject(target, true);
const next = { ...current };
const changed = [];
for (const [provider, entry] of Object.entries(incoming)) {
  if (same(current[provider], entry)) continue;
  next[provider] = entry;
  changed.push(provider);
}
const kept = Object.keys(current).filter((p) => !(p in incoming));
if (changed.length === 0) {
  console.log(`merge-auth: ${target} already holds ${Object.keys(incoming).join(", ") || "nothing to merge"}; unchanged`);
} else {
  const tmp = `${target}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, target);
  console.log(`merge-auth: merged ${changed.join(", ")} into ${target} (mode 0600)${kept.length ? `; kept ${kept.join(", ")}` : ""}`);
}
