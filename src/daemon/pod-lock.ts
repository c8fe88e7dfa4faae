// One podwarden per pod. `run`, `up` and `down` hold <runtime dir>/<pod>.lock while they work on
// the pod; a second one is refused (exit 73) before it touches anything.
//
// The lock is flock(2), which the kernel drops when its holder exits, however it exits (kill -9
// included), so a stale lock cannot exist. Node has no flock call: flock(1) from util-linux
// takes the lock on this process's open file description, handed to it as fd 3, and exits at
// once. A flock lock belongs to the open file description, and this process is the only one that
// has it (Node opens files close-on-exec; the helper's copy is gone when it exits), so the lock
// lasts exactly as long as this process keeps the file open. No native addon, no pid guessing.
//
// The file's content names the holder (pid, command, since, config) for the message a refused
// command prints and for `doctor`; the lock decides, the content only describes. The file is
// opened without following links and must be a regular file of this user (a root-owned runtime
// directory, so nobody else can plant one).

import { spawn } from "node:child_process";
import { constants } from "node:fs";
import { mkdir, open, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { describeFsError } from "../config/fs-error.js";
import { EXIT, HostNotReadyError, PodwardenError } from "../lib/errors.js";
import { startTicks } from "../lib/proc.js";
import { runtimeDir } from "./pidfile.js";

export const podLockPath = (env: Readonly<Record<string, string | undefined>>, pod: string): string => join(runtimeDir(env), `${pod}.lock`);

/** Who holds a pod's lock, as the holder wrote it. */
export interface LockHolder {
  readonly pid: number;
  /** The podwarden command: run, up, down. */
  readonly command: string;
  /** When it took the lock (ISO 8601). */
  readonly since: string;
  readonly config: string;
  /** Its start time (/proc/<pid>/stat): a record whose process is gone, or is another, is stale. */
  readonly startTicks?: number | undefined;
}

/** The holder's record, or undefined when the text is not one (empty: the holder has not written it yet). */
export const parseHolder = (text: string): LockHolder | undefined => {
  try {
    const h = JSON.parse(text) as Partial<LockHolder>;
    if (!Number.isInteger(h.pid) || typeof h.command !== "string" || typeof h.since !== "string" || typeof h.config !== "string") return undefined;
    return { pid: h.pid!, command: h.command, since: h.since, config: h.config, ...(Number.isInteger(h.startTicks) ? { startTicks: h.startTicks } : {}) };
  } catch {
    return undefined;
  }
};

/** What to do about the pod while `holder` has it, for `command`. */
const adviceFor = (command: string, holder: LockHolder | undefined): string => {
  if (holder?.command !== "run") return "wait for it to finish, then try again";
  const stop = `stop it first (systemctl stop opencode-memory-pod, or kill -TERM ${holder.pid}: it stops the pod)`;
  if (command === "run") return `one daemon per pod: ${stop}`;
  if (command === "down") return `a daemon supervises this pod and would bring it back: ${stop}`;
  return "a daemon supervises this pod; use podwarden status / reload";
};

/** The refusal a command gets when the pod's lock is held: who holds it, and what to do. */
export const lockedMessage = (pod: string, command: string, holder: LockHolder | undefined): string => {
  const who = holder
    ? `podwarden ${holder.command} (pid ${holder.pid}, since ${holder.since}, config ${holder.config})`
    : "another podwarden process (it has not said who it is yet)";
  return `pod ${pod} is held by ${who}: ${adviceFor(command, holder)}`;
};

export class PodLockedError extends PodwardenError {
  readonly holder: LockHolder | undefined;
  constructor(pod: string, command: string, holder: LockHolder | undefined) {
    super("E_LOCKED", lockedMessage(pod, command, holder), { exitCode: EXIT.locked });
    this.holder = holder;
  }
}

export interface PodLock {
  readonly path: string;
  /** Clears the record and drops the lock (exiting drops it too). */
  release(): Promise<void>;
}

/** Exit status flock(1) gives when the lock is taken (-E): none of its own error codes. */
const CONFLICT = 11;

/** Runs flock(1) on the file's descriptor: true when this process now holds the lock. */
const flockFd = (fh: FileHandle, path: string): Promise<boolean> =>
  new Promise((resolve, reject) => {
    const child = spawn("flock", ["--exclusive", "--nonblock", "--conflict-exit-code", String(CONFLICT), "3"], { stdio: ["ignore", "ignore", "pipe", fh.fd] });
    let stderr = "";
    child.stderr?.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    child.on("error", (err: NodeJS.ErrnoException) =>
      reject(err.code === "ENOENT" ? new HostNotReadyError(`cannot lock ${path}: flock(1) is not on PATH (apt-get install util-linux)`) : err),
    );
    child.on("close", (code) => {
      if (code === 0) resolve(true);
      else if (code === CONFLICT) resolve(false);
      else reject(new PodwardenError("E_INTERNAL", `cannot lock ${path}: flock exited ${code}: ${stderr.trim() || "no message"}`));
    });
  });

const readAll = async (fh: FileHandle): Promise<string> => {
  const buf = Buffer.alloc(4096);
  const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
  return buf.toString("utf8", 0, bytesRead);
};

/** Opens the lock file: created if missing, never through a link, a regular file of this user. */
const openLockFile = async (path: string): Promise<FileHandle> => {
  await mkdir(join(path, ".."), { recursive: true, mode: 0o755 });
  let fh: FileHandle;
  try {
    fh = await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o644);
  } catch (err) {
    throw new PodwardenError("E_HOST", `cannot open the pod lock ${path}: ${describeFsError(err)}${(err as NodeJS.ErrnoException).code === "ELOOP" ? " (a symbolic link: remove it)" : ""}`, {
      cause: err,
      exitCode: EXIT.host,
    });
  }
  const st = await fh.stat();
  const uid = process.getuid?.() ?? 0;
  if (!st.isFile() || st.uid !== uid) {
    await fh.close();
    throw new PodwardenError("E_HOST", `the pod lock ${path} is not a regular file owned by uid ${uid}: remove it`, { exitCode: EXIT.host });
  }
  return fh;
};

/**
 * Takes the pod's lock for `command`, or throws PodLockedError naming the holder. Nothing else
 * is touched either way.
 */
export const acquirePodLock = async (opts: {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly pod: string;
  readonly command: string;
  readonly config: string;
}): Promise<PodLock> => {
  const path = podLockPath(opts.env, opts.pod);
  const fh = await openLockFile(path);
  let mine: boolean;
  try {
    mine = await flockFd(fh, path);
  } catch (err) {
    await fh.close();
    throw err;
  }
  if (!mine) {
    const holder = parseHolder(await readAll(fh).catch(() => ""));
    await fh.close();
    throw new PodLockedError(opts.pod, opts.command, holder);
  }
  const record: LockHolder = { pid: process.pid, command: opts.command, since: new Date().toISOString(), config: opts.config, startTicks: await startTicks(process.pid) };
  await fh.truncate(0);
  await fh.write(`${JSON.stringify(record)}\n`, 0);
  let released = false;
  // The returned lock keeps `fh` referenced (release closes it), so garbage collection never
  // closes the file, and with it the lock, while the caller holds it.
  return {
    path,
    release: async () => {
      if (released) return;
      released = true;
      await fh.truncate(0).catch(() => undefined);
      await fh.close();
    },
  };
};

/**
 * The live holder of a pod's lock, for `doctor`: the record, when its process still runs with
 * the recorded start time (undefined: free, or a record left by a holder that died). Takes no lock.
 */
export const readLockHolder = async (env: Readonly<Record<string, string | undefined>>, pod: string): Promise<LockHolder | undefined> => {
  let fh: FileHandle;
  try {
    fh = await open(podLockPath(env, pod), constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  let holder: LockHolder | undefined;
  try {
    holder = parseHolder(await readAll(fh));
  } finally {
    await fh.close();
  }
  if (holder === undefined) return undefined;
  const ticks = await startTicks(holder.pid);
  return ticks !== undefined && ticks === holder.startTicks ? holder : undefined;
};
