// Issue 12 on real Podman: the data of Valkey, FalkorDB and OpenCode outlives the containers.
// `down` removes the pod and every container; `up` creates them anew; what was written before
// is served again, and lies on the host under persistRoot.
//
// Valkey and OpenCode are the real servers. FalkorDB is the stand-in (config/local.yaml), which
// copies what matters of the real image for this: the server runs as root, writes to
// FALKORDB_DATA_PATH=/var/lib/falkordb/data (`--dir` after REDIS_ARGS), and /data holds only a
// symlink to it. The negative control mounts the seed's /data instead and loses the key, as a
// user of the real image does: the test would catch a stand-in that no longer looks like it.

import { readFile, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanupRun, cli, createRun, ensureImages, inspect, managedContainers, podExists, podman, resp, SOCKET, type E2eRun } from "../support/podman-harness.js";
import { podEvents } from "../support/podman-events.js";
import { openCodeApi } from "../support/opencode.js";

const CHAIN = ["valkey", "falkordb", "datadog", "opencode"] as const;
const FALKORDB_DATA = "/var/lib/falkordb/data";
/** What each server writes, relative to its persisted directory (persistRoot/<container>). */
const DATA_FILES = { valkey: "dump.rdb", falkordb: "dump.rdb", opencode: "opencode.db" } as const;

const figures: string[] = [];
afterAll(() => {
  if (figures.length) console.log(`persistence e2e figures:\n  ${figures.join("\n  ")}`);
});

interface UpSummary {
  readonly elapsedMs: number;
  readonly containers: Record<string, { readonly id: string }>;
}

/** `podwarden up --json`: the container ids and the time it took (its own figure). */
const up = async (run: E2eRun): Promise<UpSummary> => {
  const r = await cli(["up", "-c", run.config, "--json", "--timeout", "10m"], 900_000);
  expect(r.code, `up failed:\n${r.stdout}\n${r.stderr.slice(-4000)}`).toBe(0);
  return JSON.parse(r.stdout) as UpSummary;
};

/**
 * `podwarden down --json`, watching Podman's events meanwhile: the time it took and each
 * container's exit code as Podman reports it when the process died (0 for a server that
 * handled SIGTERM and exited by itself; 137 had it been killed at the end of its stopTimeout).
 */
const down = async (run: E2eRun): Promise<{ elapsedMs: number; exitCodes: Record<string, string | undefined> }> => {
  const events = podEvents(SOCKET, run.pod);
  await events.ready;
  try {
    const r = await cli(["down", "-c", run.config, "--json"], 600_000);
    expect(r.code, `down failed:\n${r.stderr.slice(-4000)}`).toBe(0);
    expect(await podExists(run.pod)).toBe(false);
    expect(await managedContainers(run.pod)).toEqual([]);
    const died = events.events("died");
    return {
      elapsedMs: (JSON.parse(r.stdout) as { elapsedMs: number }).elapsedMs,
      exitCodes: Object.fromEntries(CHAIN.map((c) => [c, died.find((e) => e.name === `${run.pod}-${c}`)?.exitCode])),
    };
  } finally {
    events.close();
  }
};

const bulk = (value: string): string => `$${Buffer.byteLength(value)}\r\n${value}`;
const NIL = "$-1";

/** Names in a directory; [] when it does not exist. */
const list = (dir: string): Promise<string[]> => readdir(dir).catch(() => []);

/** Real and effective uid of a host process (a container's main process, seen from the host). */
const uids = async (pid: number): Promise<number[]> => {
  const line = (await readFile(`/proc/${pid}/status`, "utf8")).split("\n").find((l) => l.startsWith("Uid:"))!;
  return line.split(/\s+/).slice(1, 3).map(Number);
};

describe("data survives down and up, in the directories the servers write to", () => {
  let run: E2eRun;
  let first: UpSummary;
  let session = "";
  const api = () => openCodeApi(run);
  const falkordb = (): number => run.hostPort[6379]!;
  const valkey = (): number => run.hostPort[6380]!;

  beforeAll(async () => {
    run = await createRun();
    await ensureImages(run.config);
  });

  afterAll(async () => {
    if (run) await cleanupRun(run);
  });

  it("comes up and creates each persisted directory on the host for the server that writes there", async () => {
    first = await up(run);
    figures.push(`first up: ${first.elapsedMs} ms`);
    for (const c of ["valkey", "falkordb", "opencode"] as const) {
      const dir = join(run.persistRoot, c);
      const st = await stat(dir);
      // As podwarden creates it (mkdir 0750 for the container's root): no one but root and its group can read the data.
      // OpenCode's is then given to the user OpenCode runs as (uid/gid 1000; the image's start script).
      const owner = c === "opencode" ? 1000 : 0;
      expect([c, st.isDirectory(), st.uid, st.gid, st.mode & 0o7777]).toEqual([c, true, owner, owner, 0o750]);
      // What the server needs: it runs as the directory's owner (root for Valkey and FalkorDB, as
      // in the real FalkorDB image; uid 1000 for OpenCode; Podman runs rootful here, so container
      // ids are host ids), who may write.
      const pid = (await inspect(`${run.pod}-${c}`)).State.Pid;
      if (c === "opencode") {
        // The container's first process (tini, root) starts OpenCode as uid 1000.
        const top = await podman("top", `${run.pod}-${c}`, "user", "args");
        // The user by name (the image's passwd: opencode is uid 1000, the directory's owner above).
        expect(top.split("\n").filter((l) => /^\S+\s+opencode serve /.test(l.trim())).map((l) => l.trim().split(/\s+/)[0])).toEqual(["opencode"]);
        expect(st.uid).toBe(1000);
      } else expect([c, ...(await uids(pid))]).toEqual([c, st.uid, st.uid]);
      expect(st.mode & 0o700).toBe(0o700);
    }
    // Nothing was saved yet: no save point of the servers' (`--save 60 1000` / `60 100`) is reached by one key.
    expect(await list(join(run.persistRoot, "falkordb"))).toEqual([]);
  }, 900_000);

  it("keeps a FalkorDB key, a Valkey key and an OpenCode session across down (graceful) and up (new containers)", async () => {
    expect(await resp(falkordb(), "SET", "pw:falkordb", "graph-kept")).toBe("+OK");
    expect(await resp(valkey(), "SET", "pw:valkey", "cache-kept")).toBe("+OK");
    const created = await api().call("POST", "/session", { body: {} });
    expect(created.status, created.text).toBe(200);
    session = created.json<{ id: string }>().id;
    expect(await list(join(run.persistRoot, "valkey"))).toEqual([]);
    expect(await list(join(run.persistRoot, "falkordb"))).toEqual([]);

    const stopped = await down(run);
    figures.push(`down: ${stopped.elapsedMs} ms; exit codes ${JSON.stringify(stopped.exitCodes)}`);
    // Graceful: both Redis-protocol servers got SIGTERM and exited 0 on their own, within their
    // stopTimeout (30 s), after writing the snapshot that is now on the host with the pod gone.
    expect(stopped.exitCodes.valkey).toBe("0");
    expect(stopped.exitCodes.falkordb).toBe("0");
    for (const c of ["valkey", "falkordb"] as const) expect(await list(join(run.persistRoot, c)), c).toContain("dump.rdb");

    const second = await up(run);
    figures.push(`second up (everything recreated): ${second.elapsedMs} ms`);
    for (const c of CHAIN) expect([c, second.containers[c]!.id]).not.toEqual([c, first.containers[c]!.id]);

    expect(await resp(falkordb(), "GET", "pw:falkordb")).toBe(bulk("graph-kept"));
    expect(await resp(valkey(), "GET", "pw:valkey")).toBe(bulk("cache-kept"));
    const sessions = await api().call("GET", "/session");
    expect(sessions.status, sessions.text).toBe(200);
    expect(sessions.json<{ id: string }[]>().map((s) => s.id)).toContain(session);
  }, 1_800_000);

  it("holds the data on the host under persistRoot, and in the container where the server writes", async () => {
    for (const [c, file] of Object.entries(DATA_FILES)) {
      const path = join(run.persistRoot, c, file);
      const size = (await stat(path)).size;
      expect([path, size > 0]).toEqual([path, true]);
      figures.push(`${path}: ${size} bytes`);
    }
    const ctr = `${run.pod}-falkordb`;
    expect((await podman("exec", ctr, "ls", FALKORDB_DATA)).split("\n")).toContain("dump.rdb");
    // The same bytes: the container's data path is the host directory.
    const inside = Number((await podman("exec", ctr, "stat", "-c", "%s", `${FALKORDB_DATA}/dump.rdb`)).trim());
    expect(inside).toBe((await stat(join(run.persistRoot, "falkordb", "dump.rdb"))).size);
    // The image's /data is the real one's: a plain directory with only the symlink to the data path.
    expect((await podman("exec", ctr, "ls", "-A", "/data")).trim()).toBe("data");
    expect((await podman("exec", ctr, "readlink", "/data/data")).trim()).toBe(FALKORDB_DATA);
    expect((await podman("exec", `${run.pod}-opencode`, "ls", "/home/opencode/.local/share/opencode")).split("\n")).toContain("opencode.db");
  }, 120_000);
});

describe("negative control: FalkorDB mounted at the seed's /data", () => {
  let run: E2eRun;

  beforeAll(async () => {
    run = await createRun({
      // `extends` replaces lists: this is FalkorDB's whole mounts list.
      extraYaml: ["containers:", "  falkordb:", "    mounts:", "      - { source: falkordb, target: /data, create: true }"].join("\n"),
    });
    await ensureImages(run.config);
  });

  afterAll(async () => {
    if (run) await cleanupRun(run);
  });

  it("loses the FalkorDB key across down and up, and the host directory stays empty, while Valkey keeps its key", async () => {
    await up(run);
    const falkordb = run.hostPort[6379]!;
    const ctr = `${run.pod}-falkordb`;
    expect(await resp(falkordb, "SET", "pw:falkordb", "lost")).toBe("+OK");
    expect(await resp(run.hostPort[6380]!, "SET", "pw:valkey", "kept")).toBe("+OK");
    // A snapshot now: it is written, but into the container's own layer, not the mount.
    expect(await resp(falkordb, "SAVE")).toBe("+OK");
    expect((await podman("exec", ctr, "ls", FALKORDB_DATA)).split("\n")).toContain("dump.rdb");
    expect(await list(join(run.persistRoot, "falkordb"))).toEqual([]);

    const stopped = await down(run);
    expect(stopped.exitCodes.falkordb).toBe("0");
    await up(run);
    expect(await resp(falkordb, "GET", "pw:falkordb")).toBe(NIL);
    expect(await resp(falkordb, "DBSIZE")).toBe(":0");
    expect(await list(join(run.persistRoot, "falkordb"))).toEqual([]);
    expect(await resp(run.hostPort[6380]!, "GET", "pw:valkey")).toBe(bulk("kept"));
    figures.push(`negative control (/data mount): FalkorDB key after down/up: ${NIL} (DBSIZE 0), ${run.persistRoot}/falkordb: empty`);
  }, 1_800_000);
});
