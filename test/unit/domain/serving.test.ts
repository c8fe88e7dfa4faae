import { describe, expect, it } from "vitest";
import { isServing, softOnlyDependencies } from "../../../src/domain/serving.js";

const n = (name: string, deps: [string, "soft" | "hard"][] = []) => ({ name, dependsOn: deps.map(([d, k]) => ({ name: d, soft: k === "soft" })) });

describe("soft-only dependencies and serving", () => {
  // valkey <- falkordb <- datadog <~ opencode (soft), and metrics <~ opencode, metrics <- exporter (hard).
  const pod = [
    n("valkey"),
    n("falkordb", [["valkey", "hard"]]),
    n("datadog", [["falkordb", "hard"]]),
    n("metrics"),
    n("exporter", [["metrics", "hard"]]),
    n("opencode", [["datadog", "soft"], ["metrics", "soft"]]),
  ];

  it("are the containers only soft edges point at, with their dependents", () => {
    // metrics has a hard dependent too; valkey and falkordb only hard ones; exporter and opencode none.
    expect([...softOnlyDependencies(pod)]).toEqual([["datadog", ["opencode"]]]);
  });

  it.each([
    { down: [], serving: true },
    { down: ["datadog"], serving: true },
    { down: ["metrics"], serving: false },
    { down: ["falkordb"], serving: false },
    { down: ["opencode"], serving: false },
    { down: ["datadog", "opencode"], serving: false },
  ])("with $down down: serving $serving", ({ down, serving }) => {
    expect(isServing(pod, (name) => !down.includes(name))).toBe(serving);
  });

  it("an empty pod does not serve", () => {
    expect(isServing([], () => true)).toBe(false);
  });
});
