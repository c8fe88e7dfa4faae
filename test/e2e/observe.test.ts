// PodmanRuntime.observe() on real Podman: a pod of two managed containers (plus its infra
// container). Each observation is checked against a new runtime's (no cache: every container
// inspected), and the API calls it made are counted as the metrics count them.

import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Observed } from "../../src/domain/observed.js";
import { LABELS } from "../../src/domain/spec.js";
import { PodmanRuntime } from "../../src/runtime/podman-runtime.js";
import type { ApiOperation } from "../../src/runtime/port.js";
import { SOCKET, podman } from "../support/podman-harness.js";

const pod = `pw-e2e-observe-${randomBytes(3).toString("hex")}`;
const IMAGE = "localhost/podwarden-valkey:local";
const calls: ApiOperation[] = [];
const runtime = new PodmanRuntime({ socketPath: SOCKET, onApiCall: (op) => calls.push(op) });

const labels = (container?: string): string[] =>
  [`${LABELS.managed}=true`, `${LABELS.pod}=${pod}`, ...(container ? [`${LABELS.container}=${container}`] : [])].flatMap((l) => ["--label", l]);

beforeAll(async () => {
  await podman("pod", "create", "--name", pod, ...labels());
  for (const c of ["a", "b"]) await podman("create", "--pod", pod, "--name", `${pod}-${c}`, ...labels(c), IMAGE, "sleep", "600");
  await podman("pod", "start", pod);
}, 120_000);

afterAll(async () => {
  await podman("pod", "rm", "-f", "-t", "0", pod).catch(() => undefined);
});

/** observe() through the long-lived runtime: what it answered and the calls it made, after checking it against a new runtime's answer. */
const observe = async (): Promise<{ observed: Observed; calls: string[] }> => {
  calls.length = 0;
  const observed = await runtime.observe(pod);
  const made = calls.slice().sort();
  const fresh = await new PodmanRuntime({ socketPath: SOCKET }).observe(pod);
  expect(observed.pod).toEqual(fresh.pod);
  expect([...observed.containers]).toEqual([...fresh.containers]);
  return { observed, calls: made };
};

describe("observe on real Podman", () => {
  it("lists, inspects the pod and the managed containers the first time, then only lists", async () => {
    const first = await observe();
    expect(first.calls).toEqual(["container.inspect", "container.inspect", "container.list", "pod.inspect"]);
    expect([...first.observed.containers.keys()].sort()).toEqual(["a", "b"]);
    expect(first.observed.pod).toMatchObject({ name: pod, state: "Running", managed: true });
    for (let i = 0; i < 3; i++) expect((await observe()).calls).toEqual(["container.list"]);
  });

  it("inspects only the container that exited, and the pod", async () => {
    await observe();
    await podman("kill", "--signal", "KILL", `${pod}-b`);
    await podman("wait", `${pod}-b`);
    const { observed, calls: made } = await observe();
    expect(made).toEqual(["container.inspect", "container.list", "pod.inspect"]);
    expect(observed.containers.get("b")).toMatchObject({ running: false, exitCode: 137 });
    expect(observed.pod?.state).toBe("Degraded");
    expect((await observe()).calls).toEqual(["container.list"]);
  });

  it("sees a container started again, and one removed", async () => {
    await observe();
    await podman("start", `${pod}-b`);
    const started = await observe();
    expect(started.calls).toEqual(["container.inspect", "container.list", "pod.inspect"]);
    expect(started.observed.containers.get("b")).toMatchObject({ running: true });
    await podman("rm", "-f", "-t", "0", `${pod}-a`);
    const removed = await observe();
    expect(removed.calls).toEqual(["container.list", "pod.inspect"]);
    expect([...removed.observed.containers.keys()]).toEqual(["b"]);
  });
});
