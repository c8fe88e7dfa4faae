// Journal priorities and JSON-only output of the built CLI, through a real file descriptor: the
// child's stderr is a file and $JOURNAL_STREAM names that file's device and inode, which is how
// systemd tells a service that its stderr is the journal's stream. journald itself is in the
// real-systemd e2e; here, what the daemon writes.

import { spawn } from "node:child_process";
import { closeSync, fstatSync, openSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, cleanupRun, createRun, waitFor, type E2eRun } from "../support/podman-harness.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pw-journal-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Started {
  readonly file: string;
  readonly exited: Promise<number | null>;
  readonly pid: number;
}

/** The CLI with its stderr on a fresh file; `journal`: $JOURNAL_STREAM names that file (else another one). */
const start = (name: string, args: readonly string[], journal: boolean, env: Record<string, string> = {}): Started => {
  const file = join(dir, `${name}.log`);
  const fd = openSync(file, "w");
  const other = openSync(join(dir, `${name}.other`), "w");
  const id = fstatSync(journal ? fd : other, { bigint: true });
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "ignore", fd], env: { ...process.env, ...env, JOURNAL_STREAM: `${id.dev}:${id.ino}` } });
  closeSync(fd);
  closeSync(other);
  return { file, pid: child.pid!, exited: new Promise((r) => child.on("close", r)) };
};

const lines = async (file: string): Promise<string[]> => (await readFile(file, "utf8")).split("\n").filter(Boolean);

/** "<N>{json}" -> [N, record]; fails on anything else. */
const parse = (line: string): [number, Record<string, unknown>] => {
  const m = /^<(\d)>(\{.*\})$/.exec(line);
  expect(m, `not a prefixed JSON line: ${line}`).not.toBeNull();
  return [Number(m![1]), JSON.parse(m![2]!) as Record<string, unknown>];
};

/** `command -c <bad file> --log-format json` on the journal's stream: exits 78; its lines. */
const withBadConfig = async (command: string, yaml: string): Promise<{ file: string; lines: string[] }> => {
  const file = join(dir, `${command}-bad.yaml`);
  await writeFile(file, yaml);
  const s = start(`${command}-bad`, [command, "-c", file, "--log-format", "json"], true);
  expect(await s.exited).toBe(78);
  return { file, lines: await lines(s.file) };
};

const PRIORITY: Record<number, number> = { 10: 7, 20: 7, 30: 6, 40: 4, 50: 3, 60: 2 };

describe("podwarden run under journald", () => {
  it("a bad config at start: one JSON line at priority 2 (crit) with every issue, exit 78", async () => {
    const { file: bad, lines: all } = await withBadConfig("run", "pod:\n  name: Not A Name\n  ports: [70000]\n");
    expect(all).toHaveLength(1);
    const [priority, rec] = parse(all[0]!);
    expect(priority).toBe(2);
    expect(rec).toMatchObject({ level: 60, command: "run", code: "E_CONFIG", exitCode: 78, msg: expect.stringMatching(/^invalid configuration \(\d+ problems\)$/) });
    expect(rec.issues).toEqual(expect.arrayContaining([expect.stringContaining(`${bad}: pod.name:`), expect.stringContaining(`${bad}: pod.ports[0]:`)]));
  });

  it("the same failure on a stream that is not the journal's: plain JSON, no prefix", async () => {
    const bad = join(dir, "bad2.yaml");
    await writeFile(bad, "pod: [\n");
    const s = start("bad-plain", ["run", "-c", bad], false);
    expect(await s.exited).toBe(78);
    const [line] = await lines(s.file);
    expect(line!.startsWith("{")).toBe(true);
    expect(JSON.parse(line!)).toMatchObject({ level: 60, code: "E_CONFIG" });
  });

  describe("a running daemon", () => {
    let run: E2eRun;
    beforeAll(async () => {
      run = await createRun();
    });
    afterAll(async () => {
      await cleanupRun(run);
    });

    it("every line is JSON with the priority of its level, warnings and errors included", async () => {
      // No Podman at this socket: the daemon keeps trying (errors and warnings) without touching anything.
      const sock = join(dir, "no-podman.sock");
      const s = start("daemon", ["run", "-c", run.config, "--socket", sock, "--log-level", "debug"], true, { RUNTIME_DIRECTORY: run.runtimeDir });
      try {
        await waitFor("an error line", async () => (await readFile(s.file, "utf8")).includes('"level":50'), 60_000);
      } finally {
        process.kill(s.pid, "SIGINT");
        // Stopping a pod on an absent Podman may wait; a second signal leaves at once.
        const gone = await Promise.race([s.exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 1_000))]);
        if (!gone) process.kill(s.pid, "SIGINT");
        await s.exited;
      }
      const parsed = (await lines(s.file)).map(parse);
      expect(parsed.length).toBeGreaterThan(3);
      for (const [priority, rec] of parsed) expect(priority, JSON.stringify(rec)).toBe(PRIORITY[rec.level as number]);
      const seen = new Set(parsed.map(([p]) => p));
      for (const p of [6, 3]) expect(seen).toContain(p);
      expect(parsed.find(([, r]) => r.msg === "podwarden starting")?.[0]).toBe(6);
    });
  });
});

describe("podwarden reload --log-format json (the unit's ExecReload=)", () => {
  it("a rejected config: a JSON line at priority 3 with the issues, exit 78", async () => {
    const { file: bad, lines: all } = await withBadConfig("reload", "pod:\n  name: x\n");
    const [priority, rec] = parse(all[0]!);
    expect(priority).toBe(3);
    expect(rec).toMatchObject({ level: 50, command: "reload", code: "E_CONFIG", issues: expect.arrayContaining([expect.stringContaining(`${bad}: containers:`)]) });
  });

  it("no daemon to reload: a JSON error line, exit 69", async () => {
    const run = await createRun();
    try {
      const s = start("reload-none", ["reload", "-c", run.config, "--log-format", "json"], true, { RUNTIME_DIRECTORY: run.runtimeDir });
      expect(await s.exited).toBe(69);
      const parsed = (await lines(s.file)).map(parse);
      expect(parsed.at(-1)).toEqual([3, expect.objectContaining({ level: 50, pod: run.pod, msg: expect.stringContaining(`no running daemon for pod ${run.pod}`) })]);
    } finally {
      await cleanupRun(run);
    }
  });
});
