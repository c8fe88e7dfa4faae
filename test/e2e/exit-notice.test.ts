// PodmanRuntime.watch() on real Podman: besides Podman's event stream, it reports a
// container's death as soon as conmon's exit file for one of the pod's containers appears
// (Podman's own event waits for its 250 ms events-file poll). A temp directory stands in
// for conmon's exit directory, so nothing here kills anything; the real directory is
// exercised by the resilience tests and the recovery benchmark.

import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LABELS } from "../../src/domain/spec.js";
import { PodmanRuntime } from "../../src/runtime/podman-runtime.js";
import type { RuntimeEvent } from "../../src/runtime/port.js";
import { SOCKET, podman, waitFor } from "../support/podman-harness.js";

const pod = `pw-e2e-exit-${randomBytes(3).toString("hex")}`;
const name = `${pod}-valkey`;
let dir: string;
let id: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), `${pod}-`));
  const labels = [`${LABELS.managed}=true`, `${LABELS.pod}=${pod}`, `${LABELS.container}=valkey`].flatMap((l) => ["--label", l]);
  id = (await podman("create", "--name", name, ...labels, "localhost/podwarden-valkey:local", "sleep", "600")).trim();
}, 120_000);

afterAll(async () => {
  await podman("rm", "-f", "-t", "0", name).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

/** watch() in the background; the exit directory is watched from the call on (the stream may wait for an event). */
const watching = (runtime: PodmanRuntime) => {
  const events: RuntimeEvent[] = [];
  const abort = new AbortController();
  const done = runtime.watch(pod, (e) => events.push(e), abort.signal).catch(() => undefined);
  return {
    events,
    stop: async () => {
      abort.abort();
      await done;
    },
  };
};

describe("the exit directory", () => {
  it("an exit file of one of the pod's observed containers is reported as its death", async () => {
    const runtime = new PodmanRuntime({ socketPath: SOCKET, exitDir: dir });
    await runtime.observe(pod);
    const w = watching(runtime);
    try {
      await writeFile(join(dir, id), "137");
      const died = await waitFor("a died event", () => w.events.find((e) => e.action === "died"), 10_000, 10);
      expect(died).toMatchObject({ type: "container", name: "valkey", id });
    } finally {
      await w.stop();
    }
  });

  it("exit files of containers outside the pod say nothing", async () => {
    const runtime = new PodmanRuntime({ socketPath: SOCKET, exitDir: dir });
    await runtime.observe(pod);
    const w = watching(runtime);
    try {
      await writeFile(join(dir, "0".repeat(64)), "0");
      await writeFile(join(dir, id), "1");
      await waitFor("the pod's own exit", () => w.events.find((e) => e.action === "died"), 10_000, 10);
      expect(w.events.filter((e) => e.action === "died").map((e) => e.id)).toEqual([id]);
    } finally {
      await w.stop();
    }
  });

  it("a directory that is not there leaves the event stream alone", async () => {
    const runtime = new PodmanRuntime({ socketPath: SOCKET, exitDir: join(dir, "missing") });
    await runtime.observe(pod);
    const w = watching(runtime);
    await w.stop();
    expect(w.events.filter((e) => e.action === "died")).toEqual([]);
  });
});
