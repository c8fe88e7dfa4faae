// A restore cut short at each point, on real files: the next start's recovery leaves the
// live data where it belongs and nothing of the restore behind (or waiting for readiness).

import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PodSpec } from "../../src/domain/spec.js";
import { recoverRestores } from "../../src/jobs/restore-leftovers.js";
import { silentLogger } from "../support/harness.js";
import { chainSpec, container } from "../support/pod-spec.js";

describe("recovering a restore cut short (real files)", () => {
  let root: string;
  let spec: PodSpec;
  const S = (n: string): string => join(root, n);
  const put = async (path: string, content: string): Promise<void> => {
    await mkdir(path, { recursive: true });
    await writeFile(join(path, "data"), content);
  };
  const content = (path: string): Promise<string> => readFile(join(path, "data"), "utf8");

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "pw-leftovers-"));
    const m = (n: string) => [{ source: S(n), target: "/data", readOnly: false, optional: false, create: true }];
    spec = chainSpec({ containers: [container("valkey", [], { mounts: m("valkey") }), container("opencode", ["valkey"], { mounts: m("opencode") })] });
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it("cut off while unpacking: the copies go, the live data stays", async () => {
    await put(S("valkey"), "live");
    await put(S("valkey.podwarden-restore-7"), "half");
    const r = await recoverRestores(spec, undefined, silentLogger());
    expect(r).toEqual({ whenReady: [], held: [] });
    expect(await readdir(root)).toEqual(["valkey"]);
    expect(await content(S("valkey"))).toBe("live");
  });

  it("cut off between two mounts' swaps: both are back to the data from before", async () => {
    await put(S("valkey"), "restored");
    await put(S("valkey.podwarden-replaced-7"), "live valkey");
    await put(S("opencode"), "live opencode");
    await put(S("opencode.podwarden-restore-7"), "restored");
    await recoverRestores(spec, undefined, silentLogger());
    expect((await readdir(root)).sort()).toEqual(["opencode", "valkey"]);
    expect([await content(S("valkey")), await content(S("opencode"))]).toEqual(["live valkey", "live opencode"]);
  });

  it("cut off after every swap: the restored data stays, the replaced data waits for readiness; an old unpack directory goes", async () => {
    await put(S("valkey"), "restored");
    await put(S("valkey.podwarden-replaced-7"), "old");
    await put(join(root, "backups/.restore-pod.tar.gz-7/data"), "copy");
    const r = await recoverRestores(spec, join(root, "backups"), silentLogger());
    expect(r).toEqual({ whenReady: [S("valkey.podwarden-replaced-7")], held: [] });
    expect(await content(S("valkey"))).toBe("restored");
    expect(await readdir(join(root, "backups"))).toEqual([]);
  });
});
