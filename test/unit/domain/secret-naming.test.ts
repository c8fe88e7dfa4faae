// Secret names and spec hashes are keyed: nothing in them is a function of the secret values
// that can be computed without the naming key. And secretEnv patterns pick the keys.

import { createHash, createHmac, type BinaryLike } from "node:crypto";
import { describe, expect, it } from "vitest";
import { containerCreateRequest, renderSecretFile } from "../../../src/domain/create-request.js";
import { handsOutEverything, matchesPattern, receivesKey, secretKeysFor } from "../../../src/domain/secret-env.js";
import { secretName, specHash } from "../../../src/domain/spec-hash.js";
import { chainSpec, container } from "../../support/pod-spec.js";

const KEY_A = new Uint8Array(32).fill(1);
const KEY_B = new Uint8Array(32).fill(2);
const values = new Map([
  ["OPENCODE_SERVER_PASSWORD", "hunter2"],
  ["DD_API_KEY", "dd-0123"],
]);
const keys = [...values.keys()].sort();
const content = renderSecretFile(keys, values);

/** Every unkeyed digest of every rendering of the secrets an attacker could try, in hex. */
const unkeyedDigests = (): string[] => {
  const renderings: BinaryLike[] = [
    content,
    content.trimEnd(),
    renderSecretFile([...keys].reverse(), values),
    keys.map((k) => `${k}=${values.get(k)}\n`).join(""),
    keys.map((k) => `${k}=${values.get(k)}`).join("\n"),
    JSON.stringify(Object.fromEntries(values)),
    ...[...values.values()],
    ...[...values].map(([k, v]) => `${k}=${v}`),
    ...[...values].map(([k, v]) => `export ${k}='${v}'\n`),
  ];
  return renderings.flatMap((r) =>
    ["sha256", "sha1", "md5", "sha512", "sha224", "sha384"].map((alg) => createHash(alg).update(r).digest("hex")),
  );
};

/** Every run of 8 or more hex digits in `text`. */
const hexRuns = (text: string): string[] => text.match(/[0-9a-f]{8,}/g) ?? [];

describe("secretName", () => {
  const name = (key: Uint8Array, text = content) => secretName(key, "pod", "opencode", text);

  it("is <pod>--<container>--<16 hex digits>", () => {
    expect(name(KEY_A)).toMatch(/^pod--opencode--[0-9a-f]{16}$/);
  });

  it("differs with another key, and stays the same with the same key (a restarted daemon adopts)", () => {
    expect(name(KEY_A)).not.toBe(name(KEY_B));
    expect(name(KEY_A)).toBe(name(new Uint8Array(KEY_A)));
  });

  it("changes when a value changes (the container is recreated)", () => {
    const changed = renderSecretFile(keys, new Map([...values, ["DD_API_KEY", "dd-0124"]]));
    expect(name(KEY_A, changed)).not.toBe(name(KEY_A));
  });

  it("differs between containers with the same content", () => {
    expect(secretName(KEY_A, "pod", "datadog", content)).not.toBe(name(KEY_A));
  });

  it("holds no piece of any unkeyed digest of the content (nothing to test guesses against offline)", () => {
    const digests = unkeyedDigests();
    for (const n of [name(KEY_A), name(KEY_B)]) {
      for (const run of hexRuns(n)) for (const d of digests) expect(d.includes(run), `${run} in ${d}`).toBe(false);
    }
    // Nor an HMAC under a guessable key (empty, zeros).
    const weak = [new Uint8Array(0), new Uint8Array(32)].map((k) => createHmac("sha256", k).update(content).digest("hex"));
    for (const w of weak) expect(w.includes(name(KEY_A).slice(-16))).toBe(false);
  });
});

describe("specHash of a container with secrets", () => {
  const spec = chainSpec({ containers: [container("opencode", [], { secretEnv: ["OPENCODE_*", "DD_*"] })] });
  const c = spec.containers[0]!;
  const hashWith = (key: Uint8Array, text = content): string =>
    specHash(containerCreateRequest(spec, c, { secret: secretName(key, spec.name, c.name, text), keys }));

  it("is keyed through the secret's name: another key, another hash; the same key, the same hash", () => {
    expect(hashWith(KEY_A)).not.toBe(hashWith(KEY_B));
    expect(hashWith(KEY_A)).toBe(hashWith(KEY_A));
  });

  it("changes when a value changes", () => {
    expect(hashWith(KEY_A, renderSecretFile(keys, new Map([...values, ["OPENCODE_SERVER_PASSWORD", "hunter3"]])))).not.toBe(hashWith(KEY_A));
  });

  it("holds no piece of any unkeyed digest of the content", () => {
    const digests = unkeyedDigests();
    for (const run of hexRuns(hashWith(KEY_A))) for (const d of digests) expect(d.includes(run)).toBe(false);
  });

});

describe("secretEnv patterns", () => {
  it.each([
    ["DD_*", "DD_API_KEY", true],
    ["DD_*", "DD_", true],
    ["DD_*", "XDD_API_KEY", false],
    ["*_API_KEY", "ANTHROPIC_API_KEY", true],
    ["*_API_KEY", "ANTHROPIC_API_KEY_2", false],
    ["OPENCODE_*_PASSWORD", "OPENCODE_SERVER_PASSWORD", true],
    ["DD_API_KEY", "DD_API_KEY", true],
    ["DD_API_KEY", "DD_API_KEYS", false],
    ["*", "ANYTHING", true],
  ])("%s matches %s: %s", (pattern, key, expected) => {
    expect(matchesPattern(pattern, key)).toBe(expected);
  });

  it("exclusions win whatever their place in the list", () => {
    expect(receivesKey(["!DD_*", "*_API_KEY"], "DD_API_KEY")).toBe(false);
    expect(receivesKey(["*_API_KEY", "!DD_*"], "DD_API_KEY")).toBe(false);
    expect(receivesKey(["*_API_KEY", "!DD_*"], "OPENAI_API_KEY")).toBe(true);
    expect(receivesKey([], "DD_API_KEY")).toBe(false);
    expect(receivesKey("all", "DD_API_KEY")).toBe(true);
  });

  it("secretKeysFor: the matched keys of the env file, sorted, and every exactly named key", () => {
    const available = ["OPENCODE_SERVER_PASSWORD", "DD_SITE", "DD_API_KEY", "OPENAI_API_KEY", "GITHUB_PAT"];
    expect(secretKeysFor({ secretEnv: ["DD_*"] }, available)).toEqual(["DD_API_KEY", "DD_SITE"]);
    expect(secretKeysFor({ secretEnv: ["OPENCODE_*", "*_API_KEY", "!DD_*"] }, available)).toEqual(["OPENAI_API_KEY", "OPENCODE_SERVER_PASSWORD"]);
    expect(secretKeysFor({ secretEnv: "all" }, available)).toEqual([...available].sort());
    // A rendering without the env file still names the exact keys (globs then match nothing).
    expect(secretKeysFor({ secretEnv: ["GITHUB_PAT", "DD_*"] }, [])).toEqual(["GITHUB_PAT"]);
  });

  it("handsOutEverything: all, or * with nothing left out", () => {
    expect(handsOutEverything("all")).toBe(true);
    expect(handsOutEverything(["*"])).toBe(true);
    expect(handsOutEverything(["*", "!DD_*"])).toBe(false);
    expect(handsOutEverything(["DD_*"])).toBe(false);
  });
});
