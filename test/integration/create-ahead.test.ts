// While the host check starts the pod's infra, the first container to start is created (not
// started) once every other check passed and nothing has to be made for it: its start then goes
// straight to Podman. Otherwise nothing is created ahead.

import { describe, expect, it } from "vitest";
import { Harness } from "../support/harness.js";
import { chainSpec, container } from "../support/pod-spec.js";

const spec = () => chainSpec({ containers: [container("db"), container("app", ["db"], { secretEnv: ["TOKEN"] })] });
const ops = (h: Harness): string[] => h.runtime.journal.map((j) => `${j.op} ${j.name}`);
const podMade = async (h: Harness): Promise<void> => {
  await h.runtime.createPod(h.reconciler.podRequest);
  await h.runtime.startPod(h.reconciler.podRequest.name);
};

describe("creating ahead", () => {
  it("creates the first container once the other checks passed; its pass starts it without a second create", async () => {
    const h = new Harness({ spec: spec(), secrets: new Map([["TOKEN", "t0ken-value"]]) });
    await podMade(h);
    let pass!: (ok: boolean) => void;
    const done = h.reconciler.createAhead(new Promise((resolve) => (pass = resolve)));
    await new Promise((resolve) => setImmediate(resolve));
    expect(ops(h)).not.toContain("create db");
    pass(true);
    await done;
    // Only the container that waits for no other (app has a dependency and a secret).
    expect(ops(h).filter((o) => o.startsWith("create "))).toEqual(["create db"]);
    expect(h.runtime.byName("db")).toMatchObject({ running: false });
    await h.runUntil((r) => r.settled);
    expect(h.runtime.order("create")).toEqual(["db", "app"]);
    expect(h.runtime.order("start")).toEqual(["db", "app"]);
  });

  it("creates only the first container to start, even when others wait for none either (a stop ends the rest between creates)", async () => {
    const h = new Harness({ spec: chainSpec({ containers: [container("a"), container("b"), container("c")] }) });
    await podMade(h);
    await h.reconciler.createAhead(Promise.resolve(true));
    expect(h.runtime.order("create")).toEqual(["a"]);
  });

  it("creates nothing when another check held the start", async () => {
    const h = new Harness({ spec: spec(), secrets: new Map([["TOKEN", "t0ken-value"]]) });
    await podMade(h);
    await h.reconciler.createAhead(Promise.resolve(false));
    expect(h.runtime.order("create")).toEqual([]);
  });

  it("creates nothing when its image has to be made first (pulled here): its pass does that", async () => {
    const h = new Harness({ spec: spec(), secrets: new Map([["TOKEN", "t0ken-value"]]) });
    h.runtime.images.delete("localhost/db:test");
    await podMade(h);
    await h.reconciler.createAhead(Promise.resolve(true));
    expect(h.runtime.order("create")).toEqual([]);
    expect(ops(h)).not.toContain("pull localhost/db:test");
    await h.runUntil((r) => r.settled);
    expect(h.runtime.order("create")).toEqual(["db", "app"]);
  });
});
