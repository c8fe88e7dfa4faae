import { describe, expect, it } from "vitest";
import { collate } from "../../../src/domain/collate.js";

const sign = (n: number): number => Math.sign(n);
/** A deterministic generator (xorshift), so a failure is reproducible. */
const random = (seed: number) => () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 2 ** 32;
};

describe("collate: localeCompare's order without ICU", () => {
  const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i));

  it("agrees with localeCompare on every pair of printable ASCII strings of up to two characters", () => {
    const strings = ["", ...printable, ...printable.flatMap((a) => ["a", "A", "_", "-", ".", "0", "Z", " "].map((b) => a + b))];
    const disagree: string[] = [];
    for (const a of strings) for (const b of strings) if (sign(collate(a, b)) !== sign(a.localeCompare(b))) disagree.push(`${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    expect(disagree.slice(0, 10)).toEqual([]);
  });

  it("agrees with localeCompare on random keys of the kinds hashed (env names, label keys, API fields), mixed case and punctuation", () => {
    const next = random(0x5eed);
    const alphabets = ["ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789", "abcdefghijklmnopqrstuvwxyz_.-/0123456789", "aAbBzZ_-. 09:@", printable.join("")];
    const disagree: string[] = [];
    for (let i = 0; i < 100_000; i++) {
      const alphabet = alphabets[i % alphabets.length]!;
      const word = (): string => Array.from({ length: 1 + Math.floor(next() * 8) }, () => alphabet[Math.floor(next() * alphabet.length)]).join("");
      const a = word();
      // Often a near neighbour: same stem, another case or one character changed.
      const b = next() < 0.5 ? word() : next() < 0.5 ? a.toUpperCase() : a.slice(0, -1) + alphabet[Math.floor(next() * alphabet.length)];
      if (sign(collate(a, b)) !== sign(a.localeCompare(b))) disagree.push(`${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    }
    expect(disagree.slice(0, 10)).toEqual([]);
  });

  it("sorts like localeCompare, and hands anything beyond printable ASCII to it", () => {
    const keys = ["DD_API_KEY", "DDX", "dd_api_key", "Env", "env", "io.podwarden.spec-hash", "io.podwarden.spec_hash", "a-b", "a_b", "a.b", "é", "e", "f", "tab\there"];
    expect([...keys].sort(collate)).toEqual([...keys].sort((a, b) => a.localeCompare(b)));
  });
});
