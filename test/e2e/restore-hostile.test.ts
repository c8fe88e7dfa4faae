// Issue 13, part 1 on real Podman: restore trusts nothing in an archive. Crafted archives
// (a manifest mount path with .., a symlink to ../../etc as a persisted directory, an entry
// far larger than declared, an entry the manifest does not list) are refused with nothing
// touched: the data directories byte-identical, no leftovers, the containers not restarted
// (same ids and StartedAt). A persisted directory holding an absolute symlink backs up and
// restores as the same link. A daemon killed mid-restore: the CLI says so in one line (exit
// 69) and the next daemon rolls the restore back before starting anything.
//
// A pod of its own with two containers: real Valkey, and the FalkorDB stand-in (Valkey on
// 6379, see config/local.yaml), both with persisted directories.

import { execFile } from "node:child_process";
import { link, lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { entry, header, sha, withManifest, type Listed } from "../support/archive-craft.js";
import { cleanupRun, cli, createRun, ensureImages, freePort, identities, resp, runEnv, spawnCli, startDaemon, type Daemon, type E2eRun } from "../support/podman-harness.js";

const figures: string[] = [];
afterAll(() => {
  if (figures.length) console.log(`restore-hostile e2e figures:\n  ${figures.join("\n  ")}`);
});

const CONTAINERS = ["valkey", "falkordb"] as const;

const BASE = `
pod:
  name: placeholder
  ports: [6379, 6380]
  envFile: /dev/null
  persistRoot: /nonexistent
defaults:
  probe: { interval: 10s, startInterval: 100ms, timeout: 2s, retries: 3, startPeriod: 60s }
  stopTimeout: 10s
containers:
  valkey:
    image: localhost/podwarden-valkey:local
    command: [valkey-server, --port, "6380"]
    mounts:
      - { source: valkey, target: /data, create: true }
    probe:
      redis: { port: 6380 }
  falkordb:
    image: localhost/podwarden-falkordb-standin:local
    mounts:
      - { source: falkordb, target: /var/lib/falkordb/data, create: true }
    dependsOn: [valkey]
    probe:
      redis: { port: 6379 }
`;

interface ManifestJson {
  pod: string;
  createdAt: string;
  mounts: { container: string; source: string; target: string; path: string }[];
  entries: Listed[];
  bytes: number;
}

const h = header;

/** A .tar.gz with `manifest` first, then `parts`. */
const craft = (manifest: object, ...parts: Buffer[]): Buffer => gzipSync(withManifest(Buffer.from(JSON.stringify(manifest)), ...parts));

/** Every path under `root` with its type, mode, owner and content hash or link target. */
const fingerprint = async (root: string): Promise<string[]> => {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const n of (await readdir(d)).sort()) {
      const p = join(d, n);
      const st = await lstat(p);
      const what = st.isSymbolicLink() ? `-> ${await readlink(p)}` : st.isFile() ? sha(await readFile(p)) : "dir";
      out.push(`${p} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${what}`);
      if (st.isDirectory()) await walk(p);
    }
  };
  await walk(root);
  return out;
};

describe("restore of hostile archives on real Podman", () => {
  let run: E2eRun;
  let daemon: Daemon;
  let backups: string;
  let good: string;
  let manifest: ManifestJson;
  let crafted: string;
  const podwarden = (args: string[]) => cli([...args, "-c", run.config], 600_000, { env: runEnv(run) });
  const valkey = (): number => run.hostPort[6380]!;
  const valkeyDir = (): string => join(run.persistRoot, "valkey");

  beforeAll(async () => {
    crafted = await mkdtemp(join(tmpdir(), "pw-e2e-hostile-"));
    const base = join(crafted, "base.yaml");
    await writeFile(base, BASE);
    run = await createRun({ base, prefix: "pw-e2e-hostile", extraYaml: ["http:", `  port: ${await freePort()}`, "jobs:", `  stateDir: ${join(crafted, "state")}`, "  backup:", `    dir: ${join(crafted, "backups")}`].join("\n") });
    backups = join(crafted, "backups");
    await ensureImages(run.config);
    daemon = startDaemon(run.config, { env: runEnv(run) });
    await daemon.waitForLog("pod ready", (e) => e.msg === "pod ready", { timeoutMs: 300_000 });
  }, 600_000);

  afterAll(async () => {
    await daemon?.stop("SIGTERM", 120_000);
    if (run) await cleanupRun(run);
    await rm(crafted, { recursive: true, force: true });
  }, 300_000);

  it("a persisted directory with an absolute symlink (and a relative one, and a hard link) backs up, and restores them as links", async () => {
    await resp(valkey(), "SET", "kept", "v1");
    await mkdir(join(valkeyDir(), "checkout/.git"), { recursive: true });
    await writeFile(join(valkeyDir(), "checkout/README"), "read me\n");
    await symlink("/etc/hostname", join(valkeyDir(), "checkout/abs-link"));
    await symlink("../../../../etc", join(valkeyDir(), "checkout/escaping-link"));
    await link(join(valkeyDir(), "checkout/README"), join(valkeyDir(), "checkout/README.hard"));
    const b = await podwarden(["backup", "now", "--json"]);
    expect(b.code, b.stderr).toBe(0);
    good = (JSON.parse(b.stdout) as { archive: string }).archive;
    expect(good.startsWith(backups)).toBe(true);
    manifest = JSON.parse((await promisify(execFile)("tar", ["-xzOf", good, "manifest.json"])).stdout) as ManifestJson;
    expect(manifest.entries.filter((e) => e.path.includes("checkout/"))).toEqual([
      { path: "data/valkey/0/checkout/.git", type: "dir" },
      { path: "data/valkey/0/checkout/README", type: "file", size: 8, sha256: sha("read me\n") },
      { path: "data/valkey/0/checkout/README.hard", type: "link", target: "data/valkey/0/checkout/README" },
      { path: "data/valkey/0/checkout/abs-link", type: "symlink", target: "/etc/hostname" },
      { path: "data/valkey/0/checkout/escaping-link", type: "symlink", target: "../../../../etc" },
    ]);

    // Lose it all, then restore.
    await resp(valkey(), "DEL", "kept");
    await rm(join(valkeyDir(), "checkout"), { recursive: true });
    const r = await podwarden(["restore", good, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(await readlink(join(valkeyDir(), "checkout/abs-link"))).toBe("/etc/hostname");
    expect(await readlink(join(valkeyDir(), "checkout/escaping-link"))).toBe("../../../../etc");
    expect((await lstat(join(valkeyDir(), "checkout/README.hard"))).ino).toBe((await lstat(join(valkeyDir(), "checkout/README"))).ino);
    expect(await resp(valkey(), "GET", "kept")).toBe("$2\r\nv1");
    expect((await readdir(run.persistRoot)).sort()).toEqual(["falkordb", "valkey"]);
    figures.push(`restore with links: ${(JSON.parse(r.stdout) as { ms: number }).ms} ms`);
  }, 600_000);

  describe("crafted archives: refused, nothing touched", () => {
    const valkeyMount = () => manifest.mounts.find((m) => m.container === "valkey")!;
    const root: Listed = { path: "data/valkey/0", type: "dir" };
    const cases: [string, () => Buffer, RegExp][] = [
      [
        "a manifest mount path with ..",
        () => craft({ ...manifest, mounts: [{ ...valkeyMount(), path: "data/valkey/../../../etc" }], entries: [{ path: "data/valkey/../../../etc", type: "dir" }], bytes: 0 }),
        /refused \(archive altered\): manifest\.json: mounts\[0\]\.path "data\/valkey\/\.\.\/\.\.\/\.\.\/etc": a "\.\." path segment/,
      ],
      [
        "a symlink to ../../etc as the persisted directory",
        () => craft({ ...manifest, mounts: [valkeyMount()], entries: [{ path: "data/valkey/0", type: "symlink", target: "../../etc" }], bytes: 0 }, entry(h("data/valkey/0", "symlink", 0, "../../etc"))),
        /refused \(archive altered\): manifest\.json: data\/valkey\/0 is a mount's directory but listed as a symlink: it must be a directory/,
      ],
      [
        "an entry of 1 GB declared as 10 bytes",
        () =>
          craft(
            { ...manifest, mounts: [valkeyMount()], entries: [root, { path: "data/valkey/0/dump.rdb", type: "file", size: 10, sha256: sha("0123456789") }], bytes: 10 },
            entry(h("data/valkey/0", "dir")),
            entry(h("data/valkey/0/dump.rdb", "file", 2 ** 30)),
            Buffer.alloc(2 ** 20),
          ),
        /refused \(archive too-big\): entry "data\/valkey\/0\/dump\.rdb": 1073741824 bytes in the archive, 10 in the manifest/,
      ],
      [
        "an entry the manifest does not list",
        () => craft({ ...manifest, mounts: [valkeyMount()], entries: [root], bytes: 0 }, entry(h("data/valkey/0", "dir")), entry(h("data/valkey/0/planted", "file", 1), Buffer.from("x"))),
        /refused \(archive altered\): entry "data\/valkey\/0\/planted": not in the manifest/,
      ],
    ];

    it.each(cases)("%s", async (name, make, message) => {
      const file = join(crafted, `${name.replace(/\W+/g, "-")}.tar.gz`);
      await writeFile(file, make());
      const before = { data: await fingerprint(run.persistRoot), ids: await identities(run.pod, CONTAINERS), backups: (await readdir(backups)).sort() };
      const from = daemon.mark();
      const r = await podwarden(["restore", file]);
      expect(r.code).toBe(1);
      const lines = r.stderr.trim().split("\n");
      expect(lines.at(-1)).toMatch(message);
      expect(lines.at(-1)).toContain(file);
      expect(await fingerprint(run.persistRoot)).toEqual(before.data);
      expect(await identities(run.pod, CONTAINERS)).toEqual(before.ids);
      expect((await readdir(backups)).sort()).toEqual(before.backups);
      expect(daemon.logs(from).filter((e) => e.msg === "stopping" || e.msg === "unpacking beside the current data")).toEqual([]);
      expect(await resp(valkey(), "GET", "kept")).toBe("$2\r\nv1");
    }, 120_000);
  });

  it("a daemon killed mid-restore: the CLI says so in one line (exit 69), the next start rolls it back before starting anything", async () => {
    await resp(valkey(), "SET", "kept", "live");
    const liveBefore = await fingerprint(valkeyDir());
    const from = daemon.mark();
    const restore = spawnCli(["restore", good, "-c", run.config], { env: runEnv(run) });
    await daemon.waitForLog("the stop for the restore", (e) => e.msg === "stopping the containers whose data is restored, and what depends on them", { from, timeoutMs: 120_000 });
    const staged = (await readdir(run.persistRoot)).filter((n) => n.includes(".podwarden-restore-"));
    expect(staged.sort()).toEqual([expect.stringMatching(/^falkordb\.podwarden-restore-\d+$/), expect.stringMatching(/^valkey\.podwarden-restore-\d+$/)]);
    await daemon.kill();
    const code = await restore.exited;
    const err = restore.lines.filter((l) => l.trim() !== "" && !l.startsWith("restoring "));
    expect(code).toBe(69);
    expect(err).toEqual([expect.stringMatching(/^podwarden restore: the daemon of pod pw-e2e-hostile-\w+ went away before it answered POST \/restore \(connection lost\)/)]);

    daemon = startDaemon(run.config, { env: runEnv(run) });
    await daemon.waitForLog("pod ready", (e) => e.msg === "pod ready", { timeoutMs: 300_000 });
    const log = daemon.logs();
    const undone = log.filter((e) => typeof e.msg === "string" && /was cut off before its swap: its unpacked copy goes/.test(e.msg as string));
    expect(undone.map((e) => e.container).sort()).toEqual(["falkordb", "valkey"]);
    const firstStart = log.findIndex((e) => e.msg === "starting" || e.msg === "adopted");
    expect(log.findIndex((e) => e === undone[0])).toBeLessThan(firstStart === -1 ? Infinity : firstStart);
    expect((await readdir(run.persistRoot)).sort()).toEqual(["falkordb", "valkey"]);
    expect((await fingerprint(valkeyDir())).filter((l) => !l.includes("dump.rdb"))).toEqual(liveBefore.filter((l) => !l.includes("dump.rdb")));
    expect(await resp(valkey(), "GET", "kept")).toBe("$4\r\nlive");
  }, 600_000);
});
