// Issue 13, a full disk, on real Podman: persistRoot is a small ext4 filesystem of its own (a
// loop-mounted image), Valkey (the real server, run as config/local.yaml runs it) persists on
// it, and the host fills it. podwarden must report it (/status fail with a note naming the
// filesystem, the free-bytes gauge near 0), must not restart Valkey while it cannot write (its
// PING answers MISCONF after a failed snapshot, which used to get it restarted and lose every
// unsaved key), and once space is freed Valkey recovers by itself with every acknowledged key,
// which then ends up in dump.rdb.

import { execFile, spawn } from "node:child_process";
import { mkdir, open, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { LOCAL_CONFIG, cleanupRun, createRun, ensureImages, freePort, type E2eRun } from "../support/podman-harness.js";
import { inspect, logIs, podman, resp, runEnv, startDaemon, waitFor, type Daemon } from "../support/podman-harness.js";

const exec = promisify(execFile);
const FS_MIB = 24;
/** The test's probe cadence: a ready Valkey failing RETRIES probes INTERVAL_S apart used to be stopped. */
const INTERVAL_S = 1;
const RETRIES = 3;

interface DiskDoc {
  path: string;
  filesystem: string;
  freeBytes: number;
  sizeBytes: number;
  full: boolean;
  reason: string | null;
}
interface StatusDoc {
  status: string;
  notes: string[];
  containers: Record<string, { state: string; ready: boolean; restarts: number; lastProbe: { ok: boolean; message: string } | null; disk: DiskDoc | null }>;
}

let run: E2eRun;
let daemon: Daemon | undefined;
let httpPort: number;
let mounted = false;
const figures: string[] = [];
const image = () => join(run.dir, "persist.img");
const filler = () => join(run.persistRoot, "filler");
const valkeyName = () => `${run.pod}-valkey`;
const valkey = (...args: string[]) => resp(run.hostPort[6380]!, ...args);
const cliIn = async (...args: string[]) => (await podman("exec", valkeyName(), "valkey-cli", "-p", "6380", ...args)).trim();

const status = async (): Promise<{ code: number; doc: StatusDoc }> => {
  const res = await fetch(`http://127.0.0.1:${httpPort}/status`);
  return { code: res.status, doc: (await res.json()) as StatusDoc };
};
const metrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
/** /metrics once it shows `what` (the exposition is brought up to date once a second, off the request path). */
const metricsShowing = (what: string, shows: (text: string) => boolean): Promise<string> =>
  waitFor(`/metrics to show ${what}`, async () => {
    const m = await metrics();
    return shows(m) ? m : undefined;
  }, 5_000, 100);
const gauge = (text: string, name: string): number | undefined => {
  const line = text.split("\n").find((l) => l.startsWith(`podwarden_${name}{container="valkey"} `));
  return line === undefined ? undefined : Number(line.split(" ")[1]);
};
const identity = async () => {
  const i = await inspect(valkeyName());
  return { id: i.Id, startedAt: i.State.StartedAt, running: i.State.Running };
};

/** Writes `n` keys `<prefix>:<i>` (hard to compress values, ~80 bytes) in one script; the reply is Valkey's acknowledgement. */
const writeKeys = (prefix: string, n: number) =>
  valkey("EVAL", `for i=1,${n} do redis.call('SET','${prefix}:'..i, redis.sha1hex('${prefix}'..i)..redis.sha1hex(tostring(i))) end return ${n}`, "0");

/** Fills the filesystem from the host: 1 MiB writes, then 4 KiB ones, until ENOSPC. Returns the bytes written. */
const fill = async (path: string): Promise<number> => {
  const f = await open(path, "w");
  let written = 0;
  try {
    for (const size of [1024 * 1024, 4096]) {
      const chunk = Buffer.alloc(size, 0x5a);
      for (;;) {
        try {
          written += (await f.write(chunk)).bytesWritten;
          await f.sync();
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === "ENOSPC") break;
          throw err;
        }
      }
    }
  } finally {
    await f.close().catch(() => undefined);
  }
  return written;
};

const promtool = (text: string): Promise<{ code: number | null; out: string }> =>
  new Promise((resolve) => {
    const p = spawn("promtool", ["check", "metrics"], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr.on("data", (d: Buffer) => (out += d.toString()));
    p.on("close", (code) => resolve({ code, out }));
    p.stdin.end(text);
  });

/** local.yaml's image build paths made absolute (the base lives elsewhere). */
const rebase = (images: Record<string, unknown>, dir: string): Record<string, unknown> =>
  JSON.parse(JSON.stringify(images), (key, value: unknown) => ((key === "containerfile" || key === "context") && typeof value === "string" && !value.startsWith("/") ? join(dir, value) : value)) as Record<string, unknown>;

beforeAll(async () => {
  // A pod of Valkey alone, as config/local.yaml runs it (image, command with `--save 60 1000`,
  // persisted /data), with a fast probe so that liveness would act within seconds.
  const local = parse(await readFile(LOCAL_CONFIG, "utf8")) as { images: Record<string, unknown>; containers: { valkey: Record<string, unknown> } };
  const base = {
    images: Object.fromEntries(Object.entries(local.images).filter(([ref]) => ref.includes("debian") || ref.includes("valkey"))),
    defaults: { probe: { interval: `${INTERVAL_S}s`, startInterval: "100ms", timeout: "500ms", retries: RETRIES, startPeriod: "60s" } },
    containers: { valkey: local.containers.valkey },
  };
  httpPort = await freePort();
  run = await createRun({ extraYaml: ["http:", `  port: ${httpPort}`].join("\n") });
  // The run's config extends this base instead of local.yaml (JSON is YAML).
  const baseFile = join(run.dir, "base.yaml");
  await writeFile(baseFile, JSON.stringify({ ...base, images: rebase(base.images, dirname(LOCAL_CONFIG)) }));
  const config = await readFile(run.config, "utf8");
  expect(config).toContain(`extends: ${LOCAL_CONFIG}\n`);
  await writeFile(run.config, config.replace(`extends: ${LOCAL_CONFIG}\n`, `extends: ${baseFile}\n`));
  await ensureImages(run.config);
  await mkdir(run.persistRoot, { recursive: true });
  await exec("truncate", ["-s", `${FS_MIB}M`, image()]);
  await exec("mkfs.ext4", ["-q", "-F", image()]);
  await exec("mount", ["-o", "loop", image(), run.persistRoot]);
  mounted = true;
}, 1_500_000);

afterAll(async () => {
  if (daemon) {
    await rm(filler(), { force: true }).catch(() => undefined);
    await daemon.stop("SIGTERM", 60_000);
  }
  if (run) await exec("podman", ["pod", "rm", "-f", "-t", "0", run.pod]).catch(() => undefined);
  if (mounted) await exec("umount", [run.persistRoot]).catch(() => exec("umount", ["-l", run.persistRoot]));
  console.log(["disk-full figures:", ...figures].join("\n  "));
  if (run) await cleanupRun(run);
}, 180_000);

describe("a full persisted filesystem on real Podman", () => {
  const keys = { saved: 20_000, unsaved: 30_000, whileFull: 5_000 };
  const total = keys.saved + keys.unsaved + keys.whileFull;
  let before: { id: string; startedAt: string };
  let misconfAt = 0;

  it("comes up with persistRoot on the small filesystem; /status shows its free bytes, the gauge too", async () => {
    daemon = startDaemon(run.config, { env: runEnv(run) });
    await daemon.waitForLog("the pod ready", logIs("pod ready"), { timeoutMs: 300_000 });
    const s = await waitFor("a disk sample in /status", async () => {
      const r = await status();
      return r.doc.containers.valkey?.disk ? r : undefined;
    });
    expect(s.doc.status).toBe("pass");
    expect(s.doc.containers.valkey!.disk).toMatchObject({ path: join(run.persistRoot, "valkey"), filesystem: run.persistRoot, full: false, reason: null });
    const { sizeBytes, freeBytes } = s.doc.containers.valkey!.disk!;
    expect(sizeBytes).toBeGreaterThan((FS_MIB - 4) * 1024 * 1024);
    expect(sizeBytes).toBeLessThanOrEqual(FS_MIB * 1024 * 1024);
    const m = await metricsShowing("the disk sample", (t) => gauge(t, "persist_size_bytes") === sizeBytes);
    expect(gauge(m, "persist_size_bytes")).toBe(sizeBytes);
    expect(gauge(m, "persist_free_bytes")).toBeGreaterThan(8 * 1024 * 1024);
    expect(gauge(m, "persist_full")).toBe(0);
    figures.push(`filesystem ${run.persistRoot}: ext4 on a loop device, ${sizeBytes} bytes, ${freeBytes} free at start`);
    before = await identity();
  }, 400_000);

  it("holds keys saved to dump.rdb and keys only in memory", async () => {
    expect(await writeKeys("saved", keys.saved)).toBe(`:${keys.saved}`);
    expect(await cliIn("SAVE")).toBe("OK");
    expect(await writeKeys("unsaved", keys.unsaved)).toBe(`:${keys.unsaved}`);
    expect(await valkey("DBSIZE")).toBe(`:${keys.saved + keys.unsaved}`);
  });

  it("filled from the host: /status fails with a note naming the filesystem and the free bytes, the gauge shows ~0; Valkey is left alone", async () => {
    const started = Date.now();
    const written = await fill(filler());
    const s = await waitFor("/status to fail", async () => {
      const r = await status();
      return r.doc.status === "fail" ? r : undefined;
    }, 30_000);
    figures.push(`filled with ${written} bytes; /status fail ${Date.now() - started} ms after the fill began`);
    expect(s.code).toBe(503);
    const disk = s.doc.containers.valkey!.disk!;
    expect(disk).toMatchObject({ filesystem: run.persistRoot, full: true });
    expect(disk.freeBytes).toBeLessThan(1024 * 1024);
    const note = s.doc.notes.find((n) => n.startsWith("valkey: out of disk space: "));
    expect(note).toMatch(new RegExp(`^valkey: out of disk space: filesystem ${run.persistRoot} \\(holding ${run.persistRoot}/valkey\\) has [0-9.]+ (B|KiB) free of [0-9.]+ MiB: filesystem full; liveness restarts are held off`));
    const m = await metricsShowing("the filesystem full", (t) => gauge(t, "persist_full") === 1);
    expect(gauge(m, "persist_free_bytes")).toBe(disk.freeBytes);
    expect(gauge(m, "persist_full")).toBe(1);
    const lint = await promtool(m);
    expect(lint.code, lint.out).toBe(0);
    // Writes still land in memory: nothing has failed in Valkey yet.
    expect(await writeKeys("full", keys.whileFull)).toBe(`:${keys.whileFull}`);
    expect(await identity()).toMatchObject({ ...before, running: true });
  }, 60_000);

  it("Valkey's snapshot fails (ENOSPC): it refuses writes and PING with MISCONF but serves reads; podwarden does NOT restart it", async () => {
    expect(await cliIn("BGSAVE")).toBe("Background saving started");
    await waitFor("the snapshot to fail", async () => (/rdb_last_bgsave_status:err/.test(await cliIn("INFO", "persistence")) ? true : undefined), 30_000);
    misconfAt = Date.now();
    expect(await valkey("SET", "refused", "1")).toMatch(/^-MISCONF /);
    expect(await valkey("PING")).toMatch(/^-MISCONF /);
    expect(await valkey("GET", "unsaved:7")).toMatch(/^\$80\r\n[0-9a-f]{80}$/);
    expect(await valkey("DBSIZE")).toBe(`:${total}`);

    const s = await waitFor("valkey unhealthy", async () => {
      const r = await status();
      return r.doc.containers.valkey?.state === "unhealthy" ? r : undefined;
    }, 30_000);
    figures.push(`MISCONF -> state unhealthy in ${Date.now() - misconfAt} ms`);
    expect(s.doc.status).toBe("fail");
    expect(s.doc.containers.valkey!.lastProbe).toMatchObject({ ok: false });
    expect(s.doc.containers.valkey!.lastProbe!.message).toMatch(/MISCONF/);
    expect(s.doc.containers.valkey!.disk!.reason).toMatch(/it cannot write its data \(probe: server replied MISCONF /);

    // Watch well past retries × interval: the probe keeps failing, and nothing stops Valkey.
    const watchMs = 5 * RETRIES * INTERVAL_S * 1000;
    const failuresBefore = gauge(await metrics(), "container_probe_failures_total") ?? 0;
    const mark = daemon!.mark();
    const until = Date.now() + watchMs;
    while (Date.now() < until) {
      expect(await identity()).toMatchObject({ ...before, running: true });
      expect((await status()).doc.containers.valkey).toMatchObject({ state: "unhealthy", restarts: 0, disk: { full: true } });
      await new Promise((r) => setTimeout(r, 500));
    }
    const failures = (gauge(await metrics(), "container_probe_failures_total") ?? 0) - failuresBefore;
    expect(failures).toBeGreaterThanOrEqual(RETRIES * 3);
    expect(daemon!.logs(mark).filter((e) => e.container === "valkey" && e.msg === "stopping")).toEqual([]);
    figures.push(`held for ${watchMs} ms (${failures} failed probes, retries ${RETRIES} × ${INTERVAL_S} s): same container id and StartedAt, no stop`);
    expect(await valkey("DBSIZE")).toBe(`:${total}`);
  }, 120_000);

  it("space freed: Valkey's own retry saves, it is ready again (never restarted) with every acknowledged key, and they are in dump.rdb", async () => {
    const freedAt = Date.now();
    await rm(filler());
    const s = await waitFor("/status to pass", async () => {
      const r = await status();
      return r.doc.status === "pass" ? r : undefined;
    }, 150_000, 250);
    figures.push(`space freed -> /status pass in ${Date.now() - freedAt} ms (Valkey retries a failed snapshot once 60 s have passed since its last good one)`);
    expect(s.code).toBe(200);
    expect(s.doc.notes).toEqual([]);
    expect(s.doc.containers.valkey).toMatchObject({ state: "ready", ready: true, restarts: 0, disk: { full: false, reason: null } });
    expect(await identity()).toMatchObject({ ...before, running: true });
    const m = await metricsShowing("the filesystem writable", (t) => gauge(t, "persist_full") === 0);
    expect([gauge(m, "persist_full"), (gauge(m, "persist_free_bytes") ?? 0) > 8 * 1024 * 1024]).toEqual([0, true]);

    expect(await valkey("DBSIZE")).toBe(`:${total}`);
    expect(await valkey("SET", "after", "1")).toBe("+OK");
    const info = await cliIn("INFO", "persistence");
    expect(info).toMatch(/rdb_last_bgsave_status:ok/);
    // What the snapshot on the host holds, read by Valkey's own checker: every key acknowledged before and while the disk was full.
    const check = await podman("exec", valkeyName(), "valkey-check-rdb", "/data/dump.rdb");
    expect(check).toMatch(/RDB looks OK/);
    expect(Number(/\[info\] (\d+) keys read/.exec(check)?.[1])).toBe(total);
    expect(daemon!.logs().some(logIs("persisted filesystem writable again: liveness restarts resume", { container: "valkey" }))).toBe(true);
  }, 200_000);
});
