// Images and secrets are readied ahead of the creates, in start order: a container waiting for
// its dependencies has its image pulled (or built) and its secret made meanwhile, so its create
// goes straight to Podman when its turn comes.

import { describe, expect, it } from "vitest";
import { Harness } from "../support/harness.js";
import { chainSpec, container } from "../support/pod-spec.js";

const spec = () => chainSpec({ containers: [container("db"), container("app", ["db"], { secretEnv: ["TOKEN"] })] });

describe("readying ahead", () => {
  it("pulls a waiting container's image and makes its secret while its dependency starts, once", async () => {
    const h = new Harness({ spec: spec(), secrets: new Map([["TOKEN", "t0ken-value"]]), readyAfterMs: { db: 5_000 } });
    h.runtime.images.delete("localhost/app:test"); // to be pulled
    await h.pass(); // the pod
    await h.pass(); // db created and started; app waits for it
    await new Promise((resolve) => setImmediate(resolve));
    const ops = (): string[] => h.runtime.journal.map((j) => `${j.op} ${j.name}`);
    expect(ops()).toContain("pull localhost/app:test");
    expect(ops()).not.toContain("create app");
    expect(h.runtime.secrets.size).toBe(1);
    await h.runUntil((r) => r.settled);
    expect(ops().filter((o) => o === "pull localhost/app:test")).toHaveLength(1);
    expect(ops().indexOf("pull localhost/app:test")).toBeLessThan(ops().indexOf("start db") + 1);
    expect(ops().indexOf("create app")).toBeGreaterThan(ops().indexOf("start db"));
  });

  it("reads what the create needs from the image while the dependency starts, and the create uses it", async () => {
    const h = new Harness({ spec: spec(), secrets: new Map([["TOKEN", "t0ken-value"]]), readyAfterMs: { db: 5_000 } });
    const prepared: string[] = [];
    const given: unknown[] = [];
    h.runtime.prepareCreate = async (req) => (prepared.push(req.name), { imageArgv: { entrypoint: null, cmd: [`cmd-of-${req.name}`] } });
    const create = h.runtime.createContainer.bind(h.runtime);
    h.runtime.createContainer = (req, prep) => (given.push(prep), create(req, prep));
    await h.pass(); // the pod
    await h.pass(); // db created and started; app waits for it
    await new Promise((resolve) => setImmediate(resolve));
    expect(prepared).toEqual([expect.stringMatching(/-db$/), expect.stringMatching(/-app$/)]);
    await h.runUntil((r) => r.settled);
    expect(prepared).toHaveLength(2);
    expect(given).toEqual([{ imageArgv: { entrypoint: null, cmd: [expect.stringMatching(/cmd-of-.*-db$/)] } }, { imageArgv: { entrypoint: null, cmd: [expect.stringMatching(/cmd-of-.*-app$/)] } }]);
  });

  it("a readying that failed is done again by the create (a pull that failed once is retried)", async () => {
    const h = new Harness({ spec: spec(), secrets: new Map([["TOKEN", "t0ken-value"]]), readyAfterMs: { db: 5_000 } });
    h.runtime.images.delete("localhost/app:test");
    let fails = 1;
    const pull = h.runtime.pullImage.bind(h.runtime);
    h.runtime.pullImage = async (ref, ...rest) => {
      if (fails-- > 0) throw new Error("registry unreachable");
      return pull(ref, ...rest);
    };
    await h.runUntil((r) => r.settled);
    expect(h.reconciler.history.get("app")).toMatchObject({ ready: true });
    expect(h.runtime.journal.filter((j) => j.op === "pull")).toHaveLength(1);
  });
});
