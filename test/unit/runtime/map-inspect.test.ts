import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { mapInspect, type InspectJson } from "../../../src/runtime/map-inspect.js";

const fixture = (name: string): InspectJson =>
  JSON.parse(readFileSync(new URL(`../../fixtures/inspect/${name}`, import.meta.url), "utf8")) as InspectJson;

describe("mapInspect", () => {
  it("maps a running Podman 4 libpod inspect", () => {
    const o = mapInspect(fixture("podman4-libpod-running.json"));
    expect(o).toMatchObject({
      name: "valkey",
      podmanName: "pw-fixture",
      specHash: "0123456789abcdef",
      state: "running",
      running: true,
      exitCode: null,
      finishedAt: null,
      health: "healthy",
      image: "localhost/podwarden-debian:bookworm",
    });
    expect(o.id).toMatch(/^[0-9a-f]{64}$/);
    expect(o.startedAt).toBe(Date.parse("2026-11-22T00:27:16.167Z"));
  });

  it("maps a killed container: exit code 137, finished time", () => {
    const o = mapInspect(fixture("podman4-libpod-killed.json"));
    expect(o).toMatchObject({ state: "exited", running: false, exitCode: 137, oomKilled: false });
    expect(o.finishedAt).toBe(Date.parse("2026-11-22T00:27:16.876Z"));
  });

  it("maps the compat endpoint's shape (leading slash in Name, Id, State.Health)", () => {
    const o = mapInspect(fixture("podman4-compat-running.json"));
    expect(o).toMatchObject({ name: "valkey", podmanName: "pw-fixture", running: true, health: "healthy" });
  });

  it("maps Podman 5: offset timestamps and an unhealthy check", () => {
    const o = mapInspect(fixture("podman5-libpod-running-unhealthy.json"));
    expect(o.startedAt).toBe(Date.parse("2026-11-22T00:27:16.167Z"));
    expect(o.health).toBe("unhealthy");
  });

  it("reads health from State.Healthcheck (older Podman 4)", () => {
    expect(mapInspect(fixture("podman4.2-libpod-healthcheck-field.json")).health).toBe("starting");
  });

  it("a container being stopped still runs (Podman 4 reports Running false while Status is stopping)", () => {
    const o = mapInspect({ Id: "x", State: { Status: "stopping", Running: false, ExitCode: 0, StartedAt: "2026-11-22T01:58:16Z" } });
    expect(o).toMatchObject({ state: "stopping", running: true, exitCode: null });
  });

  it("a paused container is not down (Podman 4: Status paused, Running false, Paused true)", () => {
    const o = mapInspect({ Id: "x", Image: "abc", State: { Status: "paused", Running: false, Paused: true, ExitCode: 0, StartedAt: "2026-11-22T01:58:16Z" } });
    expect(o).toMatchObject({ state: "paused", running: true, exitCode: null, imageId: "sha256:abc" });
  });

  it("treats Podman's zero time as never and unknown statuses as unknown", () => {
    const o = mapInspect({ Id: "x", State: { Status: "weird", StartedAt: "0001-01-01T00:00:00Z", Running: false } });
    expect(o).toMatchObject({ state: "unknown", startedAt: null, running: false, name: "", specHash: undefined, health: "none" });
  });
});
