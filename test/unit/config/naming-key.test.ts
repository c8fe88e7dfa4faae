// The secret-naming key file: made once (0600, atomically), the same key on every later load,
// a loose mode tightened, a file that is not ours refused, and a usable place found or a loud
// in-memory fallback when there is none.

import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { NAMING_KEY_FILE, loadNamingKey, namingKeyDirs } from "../../../src/config/naming-key.js";
import { EXIT, HostNotReadyError } from "../../../src/lib/errors.js";

const uid = process.getuid?.() ?? 0;
let dir: string;
let state: string;
let file: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "podwarden-naming-key-"));
  state = path.join(dir, "state");
  file = path.join(state, NAMING_KEY_FILE);
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const refused = async (dirs: string[], message: RegExp): Promise<void> => {
  const outcome: unknown = await loadNamingKey(dirs, uid).then(
    () => "loaded",
    (err: unknown) => err,
  );
  expect(outcome).toBeInstanceOf(HostNotReadyError);
  expect((outcome as HostNotReadyError).exitCode).toBe(EXIT.host);
  expect((outcome as Error).message).toMatch(message);
};

describe("loadNamingKey", () => {
  it("makes a 32-byte key in a 0600 file on first use (the directory 0700), then returns the same key", async () => {
    const first = await loadNamingKey([state], uid);
    expect(first).toMatchObject({ file, created: true, warnings: [] });
    expect(first.key).toHaveLength(32);
    const st = await lstat(file);
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.uid).toBe(uid);
    expect((await lstat(state)).mode & 0o777).toBe(0o700);
    expect((await readFile(file, "utf8")).trim()).toBe(first.key.toString("hex"));
    const again = await loadNamingKey([state], uid);
    expect(again).toMatchObject({ file, created: false, warnings: [] });
    expect(again.key.equals(first.key)).toBe(true);
  });

  it("daemons starting together agree on one key and leave nothing behind", async () => {
    const all = await Promise.all(Array.from({ length: 12 }, () => loadNamingKey([state], uid)));
    expect(new Set(all.map((k) => k.key.toString("hex"))).size).toBe(1);
    expect(all.filter((k) => k.created).length).toBe(1);
    expect(await readdir(state)).toEqual([NAMING_KEY_FILE]);
  });

  it("tightens a key file that group or others can read, and says so", async () => {
    const made = await loadNamingKey([state], uid);
    await chmod(file, 0o644);
    const again = await loadNamingKey([state], uid);
    expect(again.key.equals(made.key)).toBe(true);
    expect((await lstat(file)).mode & 0o777).toBe(0o600);
    expect(again.warnings).toEqual([expect.stringMatching(new RegExp(`secret-naming key ${file} was readable by group or others \\(mode 0644\\): set to 0600`))]);
  });

  it("refuses a key file owned by another user than the daemon's, and leaves it as it is", async () => {
    const made = await loadNamingKey([state], uid);
    // As seen by a daemon running as another user (uid + 1): the file is not its own.
    const other = uid + 1;
    const outcome: unknown = await loadNamingKey([state], other).catch((err: unknown) => err);
    expect(outcome).toBeInstanceOf(HostNotReadyError);
    expect((outcome as Error).message).toBe(
      `secret-naming key ${file} is owned by uid ${uid}, not by the daemon's user (uid ${other}), who may know it: refused; ` +
        "remove it: a new key is made at the next start (containers with secrets are recreated once)",
    );
    expect((await lstat(file)).uid).toBe(uid);
    expect((await readFile(file, "utf8")).trim()).toBe(made.key.toString("hex"));
  });

  it("refuses a symbolic link, a directory and a file that holds no key", async () => {
    await mkdir(state, { recursive: true });
    const elsewhere = path.join(dir, "elsewhere");
    await writeFile(elsewhere, `${"ab".repeat(32)}\n`, { mode: 0o600 });
    await symlink(elsewhere, file);
    await refused([state], /is a symbolic link: refused/);
    await rm(file);
    await mkdir(file);
    await refused([state], /is not a regular file: refused/);
    await rm(file, { recursive: true });
    await writeFile(file, "not a key\n", { mode: 0o600 });
    await refused([state], /does not hold a key \(64 hex digits\): refused/);
    // A refused file is never replaced by a fallback.
    await refused([state, path.join(dir, "runtime")], /does not hold a key/);
  });

  it("falls back to the next directory when the state directory cannot be made, with a warning", async () => {
    const blocker = path.join(dir, "a-file");
    await writeFile(blocker, "");
    const runtime = path.join(dir, "runtime");
    const k = await loadNamingKey([path.join(blocker, "state"), runtime], uid);
    expect(k.file).toBe(path.join(runtime, NAMING_KEY_FILE));
    expect(k.warnings).toEqual([expect.stringContaining(`cannot keep the secret-naming key in ${path.join(blocker, "state")} (`)]);
    expect(k.warnings[0]).toContain("which a reboot may empty");
    const again = await loadNamingKey([path.join(blocker, "state"), runtime], uid);
    expect(again.key.equals(k.key)).toBe(true);
  });

  it("with no usable directory: a key for this process only, and a warning that says what that costs", async () => {
    const blocker = path.join(dir, "a-file");
    await writeFile(blocker, "");
    const k = await loadNamingKey([path.join(blocker, "a"), path.join(blocker, "b")], uid);
    expect(k).toMatchObject({ file: undefined, created: true });
    expect(k.key).toHaveLength(32);
    expect(k.warnings).toEqual([expect.stringContaining("using a key for this process only")]);
    const other = await loadNamingKey([path.join(blocker, "a")], uid);
    expect(other.key.equals(k.key)).toBe(false);
  });

  it("namingKeyDirs: jobs.stateDir, then $RUNTIME_DIRECTORY or /run/podwarden", () => {
    expect(namingKeyDirs("/var/lib/podwarden", {})).toEqual(["/var/lib/podwarden", "/run/podwarden"]);
    expect(namingKeyDirs("/srv/pw", { RUNTIME_DIRECTORY: "/run/x" })).toEqual(["/srv/pw", "/run/x"]);
  });
});
