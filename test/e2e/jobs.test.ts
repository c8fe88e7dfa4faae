// Issue 7 on real Podman: backups that restore and image updates that roll back, driven
// through the CLI and the running daemon's control socket.
//
// One pod (real Valkey and OpenCode; FalkorDB and the Agent are stand-ins, see config/local.yaml).
// Valkey runs from an image of this test's own (built FROM the local Valkey image), so the update
// tests can rebuild it without touching the shared images other tests use.

import { execFile } from "node:child_process";
import { connect, type Socket } from "node:net";
import { appendFile, mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanupRun, cli, createRun, ensureImages, freePort, podman, resp, runEnv, waitFor, type E2eRun } from "../support/podman-harness.js";
import { openCodeApi, startDaemonProcess, type DaemonProcess, type OpenCodeApi } from "../support/opencode.js";

const figures: string[] = [];
afterAll(() => {
  if (figures.length) console.log(`jobs e2e figures:\n  ${figures.join("\n  ")}`);
});

interface BackupJson {
  archive: string;
  bytes: number;
  ms: number;
  files: number;
  pausedMs: Record<string, number>;
  saveMs: Record<string, number>;
}

interface UpdateJson {
  container: string;
  result: string;
  from: string | null;
  to: string | null;
  ms: number;
  message: string;
}

interface StatusJson {
  pod: { containersReady: number; containersTotal: number };
  containers: Record<string, { ready: boolean; imageId: string | null; pinnedImage: string | null; previousImageId: string | null; lastUpdate: { result: string } | null }>;
}

/** A writer that keeps a counter and a list in step, in MULTI/EXEC transactions, as fast as it can. */
const hammer = (port: number): { stop: () => Promise<number> } => {
  let stopped = false;
  let done = 0;
  let socket: Socket;
  const finished = new Promise<void>((resolve, reject) => {
    socket = connect({ host: "127.0.0.1", port });
    socket.setEncoding("utf8");
    let buffer = "";
    const send = (): void => {
      if (stopped) return resolve();
      const i = String(done + 1);
      const cmds = [["MULTI"], ["INCR", "hammer:n"], ["RPUSH", "hammer:list", i], ["EXEC"]];
      socket.write(cmds.map((a) => `*${a.length}\r\n${a.map((x) => `$${Buffer.byteLength(x)}\r\n${x}\r\n`).join("")}`).join(""));
    };
    socket.on("data", (d: string) => {
      buffer += d;
      // MULTI +OK, two +QUEUED, then EXEC's array of two integers: wait for the whole reply.
      if (/\*2\r\n:\d+\r\n:\d+\r\n$/.test(buffer)) {
        buffer = "";
        done += 1;
        send();
      }
    });
    socket.on("error", reject);
    socket.on("connect", send);
  });
  return {
    stop: async () => {
      stopped = true;
      await finished;
      socket.destroy();
      return done;
    },
  };
};

const valkeyInt = async (port: number, ...args: string[]): Promise<number> => Number((await resp(port, ...args)).replace(/^:/, ""));

describe("scheduled care on real Podman", () => {
  let run: E2eRun;
  let daemon: DaemonProcess;
  let api: OpenCodeApi;
  let httpPort: number;
  let backups: string;
  let imageDir: string;
  let valkeyImage: string;
  const env = (): Record<string, string> => runEnv(run);
  const podwarden = (args: string[], timeoutMs = 600_000) => cli([...args, "-c", run.config], timeoutMs, { env: env() });
  const status = async (): Promise<StatusJson> => (await (await fetch(`http://127.0.0.1:${httpPort}/status`)).json()) as StatusJson;
  const valkey = (): number => run.hostPort[6380]!;
  const falkordb = (): number => run.hostPort[6379]!;
  const containerfile = (version: number, extra = ""): Promise<void> =>
    writeFile(join(imageDir, "Containerfile"), `ARG BASE_IMAGE\nFROM $BASE_IMAGE\nLABEL io.podwarden.e2e.version=${version}\n${extra}`);

  beforeAll(async () => {
    run = await createRun();
    httpPort = await freePort();
    backups = join(run.dir, "backups");
    imageDir = join(run.dir, "valkey-image");
    valkeyImage = `localhost/${run.pod}-valkey:test`;
    await mkdir(imageDir);
    await containerfile(1);
    await appendFile(
      run.config,
      [
        "",
        "http:",
        `  port: ${httpPort}`,
        "jobs:",
        `  stateDir: ${join(run.dir, "state")}`,
        "  backup:",
        `    dir: ${backups}`,
        "    keep: 2",
        "images:",
        `  ${valkeyImage}:`,
        "    from: localhost/podwarden-valkey:local",
        `    build: { containerfile: ${join(imageDir, "Containerfile")}, context: ${imageDir} }`,
        "containers:",
        "  valkey:",
        `    image: ${valkeyImage}`,
        // An image that never answers is judged within seconds, not the default two minutes.
        "    probe: { startPeriod: 8s }",
        // The broken image sleeps as PID 1 and ignores SIGTERM: do not wait 30 s for each stop.
        "    stopTimeout: 5s",
        "    update: { policy: local, window: 3s }",
      ].join("\n"),
    );
    await ensureImages(run.config);
    api = openCodeApi(run);
    daemon = startDaemonProcess(run.config, env());
    await daemon.waitForLog("pod ready", (e) => e.msg === "pod ready", { timeoutMs: 600_000 });
  }, 1_200_000);

  afterAll(async () => {
    await daemon?.stop("SIGTERM", 120_000);
    if (run) await cleanupRun(run);
    await podman("rmi", "-f", valkeyImage, `localhost/podwarden-previous:${run.pod}-valkey`).catch(() => undefined);
  }, 300_000);

  describe("backup and restore", () => {
    let archive: string;
    let session: string;

    it("backs up Valkey, FalkorDB and OpenCode consistently while a writer hammers Valkey", async () => {
      await resp(valkey(), "SET", "kept:valkey", "v1");
      await resp(falkordb(), "SET", "kept:falkordb", "f1");
      const created = await api.call("POST", "/session", { body: {} });
      expect(created.status).toBe(200);
      session = created.json<{ id: string }>().id;

      const writer = hammer(valkey());
      await new Promise((r) => setTimeout(r, 300));
      const r = await podwarden(["backup", "now", "--json"]);
      const writes = await writer.stop();
      expect(r.code, r.stderr).toBe(0);
      const b = JSON.parse(r.stdout) as BackupJson;
      archive = b.archive;
      expect(archive.startsWith(backups)).toBe(true);
      expect(b.files).toBeGreaterThan(0);
      expect(Object.keys(b.saveMs).sort()).toEqual(["falkordb", "valkey"]);
      expect(Object.keys(b.pausedMs)).toEqual(["opencode"]);
      expect(writes, "the writer ran during the backup").toBeGreaterThan(0);
      figures.push(`backup while writing: ${b.ms} ms, ${b.bytes} bytes, ${b.files} files; OpenCode paused ${b.pausedMs.opencode} ms; saves ${JSON.stringify(b.saveMs)}; ${writes} transactions meanwhile`);
      // Each server's data file is in it, not just its directory: FalkorDB's snapshot included,
      // which a mount beside the image's data path (the seed's /data) would leave out.
      const manifest = JSON.parse(await promisify(execFile)("tar", ["-xzOf", archive, "manifest.json"]).then((o) => o.stdout)) as { entries: { path: string; type: string; size?: number }[] };
      for (const [c, file] of [["valkey", "dump.rdb"], ["falkordb", "dump.rdb"], ["opencode", "opencode.db"]] as const) {
        const entry = manifest.entries.find((f) => f.type === "file" && f.path.startsWith(`data/${c}/`) && f.path.endsWith(`/${file}`));
        expect([c, file, (entry?.size ?? 0) > 0]).toEqual([c, file, true]);
      }

      // Nothing half-written is left beside the archive, and `backup list` shows it.
      expect((await readdir(backups)).filter((n) => n.endsWith(".partial") || n.endsWith(".staging"))).toEqual([]);
      const list = await podwarden(["backup", "list", "--json"]);
      expect((JSON.parse(list.stdout) as { path: string }[]).map((a) => a.path)).toEqual([archive]);
    }, 300_000);

    it("refuses a damaged archive before touching anything", async () => {
      const damaged = join(run.dir, "damaged.tar.gz");
      const bytes = await readFile(archive);
      bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
      await writeFile(damaged, bytes);
      const before = (await status()).containers;
      const r = await podwarden(["restore", damaged]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/damaged\.tar\.gz/);
      const after = (await status()).containers;
      for (const name of Object.keys(before)) expect(after[name]!.ready, `${name} untouched`).toBe(true);
    }, 120_000);

    it("restores everything into wiped data directories and the pod is ready again", async () => {
      // Change and lose everything: data in the servers, the session, and the files on disk.
      await resp(valkey(), "FLUSHALL");
      await resp(valkey(), "SET", "lost:valkey", "x");
      await resp(falkordb(), "FLUSHALL");
      expect((await api.call("DELETE", `/session/${session}`)).status).toBe(200);
      for (const d of ["valkey", "falkordb", "opencode"]) {
        const dir = join(run.persistRoot, d);
        for (const f of await readdir(dir)) await rm(join(dir, f), { recursive: true, force: true });
      }
      const from = daemon.mark();
      const r = await podwarden(["restore", archive, "--json"]);
      expect(r.code, r.stderr).toBe(0);
      // Stopped in reverse dependency order, started again in order (the daemon's own log).
      const log = daemon.logs(from);
      expect(log.filter((e) => e.msg === "stopping").map((e) => `${String(e.container)}:${String(e.reason)}`)).toEqual(["opencode:suspended", "datadog:suspended", "falkordb:suspended", "valkey:suspended"]);
      expect(log.filter((e) => e.msg === "starting").map((e) => e.container)).toEqual(["valkey", "falkordb", "datadog", "opencode"]);
      const result = JSON.parse(r.stdout) as { downtimeMs: number; ms: number; containers: string[]; restarted: string[] };
      expect(result.containers.sort()).toEqual(["falkordb", "opencode", "valkey"]);
      // The Agent has no data, but it depends on FalkorDB and OpenCode on it: they restart in order too.
      expect(result.restarted).toEqual(["opencode", "datadog", "falkordb", "valkey"]);
      figures.push(`restore: ${result.ms} ms in all, pod down for ${result.downtimeMs} ms`);

      const s = await status();
      expect(s.pod.containersReady).toBe(s.pod.containersTotal);
      expect(await resp(valkey(), "GET", "kept:valkey")).toBe("$2\r\nv1");
      expect(await resp(valkey(), "EXISTS", "lost:valkey")).toBe(":0");
      expect(await resp(falkordb(), "GET", "kept:falkordb")).toBe("$2\r\nf1");
      // The snapshot taken mid-write is one point in time: the counter and the list agree.
      const len = await valkeyInt(valkey(), "LLEN", "hammer:list");
      expect(len).toBeGreaterThan(0);
      expect(Number((await resp(valkey(), "GET", "hammer:n")).split("\r\n")[1])).toBe(len);
      expect(await resp(valkey(), "LINDEX", "hammer:list", "-1")).toBe(`$${String(len).length}\r\n${len}`);
      const sessions = await api.call("GET", "/session");
      expect(sessions.json<{ id: string }[]>().map((x) => x.id)).toContain(session);
      // The replaced data was deleted once the pod was ready: nothing is left beside the directories.
      expect((await readdir(run.persistRoot)).sort()).toEqual(["falkordb", "opencode", "valkey"]);
    }, 600_000);
  });

  it("thaws a container left paused (a backup cut off by a daemon crash, or a stray podman pause)", async () => {
    const from = daemon.mark();
    await podman("pause", `${run.pod}-opencode`);
    await daemon.waitForLog("the unpause", (e) => e.msg === "found paused by nobody here: unpausing" && e.container === "opencode", { from, timeoutMs: 60_000 });
    const sessions = await api.call("GET", "/session");
    expect(sessions.status).toBe(200);
    expect(daemon.logs(from).filter((e) => e.msg === "container failed")).toEqual([]);
  }, 120_000);

  describe("image updates", () => {
    it("moves Valkey to a rebuilt image that works, and keeps its data", async () => {
      const before = (await status()).containers.valkey!.imageId;
      await containerfile(2);
      const check = await podwarden(["update", "--check", "--json"]);
      expect(check.code, check.stderr).toBe(0);
      expect(JSON.parse(check.stdout)).toEqual([expect.objectContaining({ container: "valkey", policy: "local", current: before, rebuildDue: true, available: true })]);
      const r = await podwarden(["update", "valkey", "--json"]);
      expect(r.code, r.stderr).toBe(0);
      const [o] = JSON.parse(r.stdout) as UpdateJson[];
      expect(o!.result).toBe("updated");
      expect(o!.from).toBe(before);
      expect(o!.to).not.toBe(before);
      figures.push(`update to a working image: ${o!.ms} ms (rebuild, recreate, ready, 3 s window)`);
      const s = await status();
      expect(s.containers.valkey!.imageId).toBe(o!.to);
      expect(s.containers.valkey!.ready).toBe(true);
      expect(s.containers.valkey!.previousImageId).toBe(before);
      expect(await resp(valkey(), "GET", "kept:valkey")).toBe("$2\r\nv1");
    }, 600_000);

    it("rolls back an image that never becomes ready: previous image id, pod ready, data intact, rollback counted", async () => {
      const good = (await status()).containers.valkey!.imageId;
      // Runs, but never serves: the probe never passes.
      await containerfile(3, 'ENTRYPOINT ["/bin/sh", "-c", "exec sleep 3600", "--"]\n');
      const r = await podwarden(["update", "valkey", "--json"]);
      expect(r.code).toBe(1);
      const [o] = JSON.parse(r.stdout) as UpdateJson[];
      expect(o!.result).toBe("rolled-back");
      expect(o!.from).toBe(good);
      figures.push(`update to a broken image, rolled back: ${o!.ms} ms`);
      const s = await status();
      expect(s.containers.valkey!.imageId).toBe(good);
      expect(s.containers.valkey!.pinnedImage).toBe(good);
      expect(s.pod.containersReady).toBe(s.pod.containersTotal);
      expect(await resp(valkey(), "GET", "kept:valkey")).toBe("$2\r\nv1");
      // The previous image is tagged, so pruning keeps it.
      expect(await podman("image", "inspect", "--format", "{{.Id}}", `localhost/podwarden-previous:${run.pod}-valkey`)).toContain(good!.replace("sha256:", ""));
      // The exposition is brought up to date once a second, off the request path.
      const rolledBack = /^podwarden_image_rollbacks_total\{container="valkey"\} 1$/m;
      const metrics = await waitFor("the rollback on /metrics", async () => {
        const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
        return rolledBack.test(text) ? text : undefined;
      }, 5_000, 100);
      expect(metrics).toMatch(rolledBack);
      expect(metrics).toMatch(/^podwarden_image_updates_total\{container="valkey",result="updated"\} 1$/m);
      // The backup and restore runs of this file are counted too.
      expect(metrics).toMatch(/^podwarden_job_runs_total\{job="backup",result="ok"\} 1$/m);
      expect(metrics).toMatch(/^podwarden_job_runs_total\{job="restore",result="failed"\} 1$/m);
      expect(metrics).toMatch(/^podwarden_job_runs_total\{job="restore",result="ok"\} 1$/m);
      expect(Number(/^podwarden_backup_archive_bytes (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
      expect(Number(/^podwarden_backup_last_success_timestamp_seconds (\S+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    }, 600_000);
  });
});
