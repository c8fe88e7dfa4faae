import { describe, expect, it } from "vitest";
import { hasGivenUp, isServing, softDependenciesDown, softOnlyDependencies } from "../../../src/domain/serving.js";

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
    { down: ["datadog"], still: ["datadog"], serving: false },
    { down: ["metrics"], serving: false },
    { down: ["falkordb"], serving: false },
    { down: ["opencode"], serving: false },
    { down: ["datadog", "opencode"], serving: false },
  ])("with $down down (on its way up: $still): serving $serving", ({ down, still = [], serving }: { down: string[]; still?: string[]; serving: boolean }) => {
    const ready = (name: string) => !down.includes(name);
    const givenUp = (name: string) => !still.includes(name);
    expect(isServing(pod, ready, givenUp)).toBe(serving);
    expect(softDependenciesDown(pod, ready, givenUp)).toEqual(down.includes("datadog") && !still.includes("datadog") ? ["datadog"] : []);
  });

  it("an empty pod does not serve", () => {
    expect(isServing([], () => true, () => true)).toBe(false);
  });

  it.each([
    { state: "backing-off", failedUnready: true, givenUp: true },
    { state: "backing-off", failedUnready: false, givenUp: false },
    { state: "failed", failedUnready: false, givenUp: true },
    { state: "unhealthy", failedUnready: false, givenUp: true },
    { state: "starting", failedUnready: true, givenUp: true },
    { state: "pending", failedUnready: true, givenUp: true },
    { state: "starting", failedUnready: false, givenUp: false },
    { state: "creating", failedUnready: false, givenUp: false },
    { state: "stopping", failedUnready: false, givenUp: false },
    { state: "pending", failedUnready: false, givenUp: false },
  ] as const)("a container $state (failedUnready $failedUnready) has given up: $givenUp", ({ state, failedUnready, givenUp }) => {
    expect(hasGivenUp(state, failedUnready)).toBe(givenUp);
  });
});
