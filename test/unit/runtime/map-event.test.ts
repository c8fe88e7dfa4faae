// Podman's event lines for one pod: which become events, which can change what the supervisor
// does, and which are read at once (beside the next observe's list).

import { describe, expect, it } from "vitest";
import { LABELS } from "../../../src/domain/spec.js";
import { isEnding, isRelevant, mapEvent } from "../../../src/runtime/map-event.js";

const container = (action: string, extra: Record<string, string> = {}) =>
  mapEvent({ Type: "container", Action: action, timeNano: 1_700_000_000_123_000_000, Actor: { ID: "c1", Attributes: { [LABELS.pod]: "p", [LABELS.container]: "valkey", ...extra } } }, "p");

describe("mapEvent", () => {
  it("maps a container's die to died, with its exit code and the time in ms", () => {
    expect(container("die", { containerExitCode: "137" })).toEqual({ type: "container", action: "died", name: "valkey", id: "c1", exitCode: 137, at: 1_700_000_000_123 });
  });

  it("drops other pods' containers and the infra container", () => {
    expect(mapEvent({ Type: "container", Action: "die", Actor: { ID: "c2", Attributes: { [LABELS.pod]: "other", [LABELS.container]: "valkey" } } }, "p")).toBeNull();
    expect(mapEvent({ Type: "container", Action: "die", Actor: { ID: "i", Attributes: { [LABELS.pod]: "p" } } }, "p")).toBeNull();
  });
});

describe("which events matter", () => {
  it("health checks and execs change nothing; starts, creates and endings do", () => {
    expect(isRelevant(container("health_status")!)).toBe(false);
    expect(isRelevant(container("exec")!)).toBe(false);
    for (const a of ["start", "create", "die", "stop", "remove", "kill", "oom", "pause", "unpause"]) expect(isRelevant(container(a)!)).toBe(true);
  });

  it("only an ending is read at once: a start or a create is most often podwarden's own", () => {
    for (const a of ["die", "stop", "remove", "kill", "oom"]) expect(isEnding(container(a)!)).toBe(true);
    for (const a of ["start", "create", "init", "pause", "unpause"]) expect(isEnding(container(a)!)).toBe(false);
    const podEvent = mapEvent({ Type: "pod", Action: "stop", Actor: { ID: "pid", Attributes: { name: "p" } } }, "p")!;
    expect(isEnding(podEvent)).toBe(true);
    expect(isEnding({ ...podEvent, action: "start" })).toBe(false);
  });
});
