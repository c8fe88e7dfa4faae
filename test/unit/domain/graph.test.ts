import { describe, expect, it } from "vitest";
import { dependentsOf, findCycle, startOrder, stopOrder } from "../../../src/domain/graph.js";

const n = (name: string, ...deps: string[]) => ({ name, dependsOn: deps.map((d) => ({ name: d })) });

describe("dependency graph", () => {
  it("orders the seed's chain as declared", () => {
    const nodes = [n("valkey"), n("falkordb", "valkey"), n("datadog", "falkordb"), n("opencode", "datadog")];
    expect(startOrder(nodes)).toEqual(["valkey", "falkordb", "datadog", "opencode"]);
    expect(stopOrder(nodes)).toEqual(["opencode", "datadog", "falkordb", "valkey"]);
  });

  it("puts dependencies first even when declared later", () => {
    expect(startOrder([n("app", "db", "cache"), n("cache"), n("db", "cache")])).toEqual(["cache", "db", "app"]);
  });

  it("keeps declaration order between independent containers", () => {
    expect(startOrder([n("b"), n("a"), n("c", "a")])).toEqual(["b", "a", "c"]);
  });

  it.each([
    { nodes: [n("a", "a")], cycle: ["a", "a"] },
    { nodes: [n("a", "b"), n("b", "a")], cycle: ["a", "b", "a"] },
    { nodes: [n("x"), n("a", "c"), n("b", "a"), n("c", "b")], cycle: ["a", "c", "b", "a"] },
  ])("finds the cycle $cycle", ({ nodes, cycle }) => {
    expect(findCycle(nodes)).toEqual(cycle);
    expect(() => startOrder(nodes)).toThrow(/dependency cycle/);
  });

  it("finds no cycle in a diamond", () => {
    expect(findCycle([n("a"), n("b", "a"), n("c", "a"), n("d", "b", "c")])).toBeNull();
  });

  it("lists direct dependents", () => {
    expect(dependentsOf([n("a"), n("b", "a"), n("c", "b"), n("d", "a")], "a")).toEqual(["b", "d"]);
  });
});
