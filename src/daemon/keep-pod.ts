// The keep-pod marker: the daemon-upgrade path. `podwarden restart-daemon` writes
// <runtime dir>/<pod>.keep-pod holding the running daemon's pid, then has that daemon stopped
// (systemctl restart, or SIGTERM). A daemon that gets SIGTERM or SIGINT hands the pod over
// (stops its own work, leaves every container running for the next daemon to adopt) only when
// the marker holds its own pid; any other marker is stale and removed, and the pod is stopped
// as always. The marker is read as hostile input: a regular file of ours, not a link, a few
// bytes, exactly one pid; it is only ever looked for at its one path in the runtime directory.

import { constants } from "node:fs";
import { open, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { describeFsError } from "../config/fs-error.js";
import { runtimeDir } from "./pidfile.js";

export const keepPodPath = (env: Readonly<Record<string, string | undefined>>, pod: string): string => join(runtimeDir(env), `${pod}.keep-pod`);

export type Marker = { readonly kind: "absent" } | { readonly kind: "pid"; readonly pid: number } | { readonly kind: "invalid"; readonly reason: string };

/** Linux's PID_MAX_LIMIT: no pid is larger. */
const PID_MAX = 4_194_304;
/** A pid and a newline; anything longer is not a marker of ours. */
const MAX_BYTES = 16;

/** The marker's text: exactly one decimal pid, optionally one trailing newline. */
export const parseMarker = (text: string): Marker => {
  const m = /^([1-9]\d{0,6})\n?$/.exec(text);
  const pid = m ? Number(m[1]) : NaN;
  return pid <= PID_MAX ? { kind: "pid", pid } : { kind: "invalid", reason: `not a pid: ${JSON.stringify(text.slice(0, MAX_BYTES))}` };
};

export interface Handover {
  /** Leave the pod running for the next daemon. */
  readonly handover: boolean;
  /** Why a marker that was there does not count (it is removed either way). */
  readonly ignored?: string;
}

/** What a stopping daemon with pid `ownPid` does, given the marker. */
export const handoverDecision = (marker: Marker, ownPid: number): Handover => {
  if (marker.kind === "absent") return { handover: false };
  if (marker.kind === "invalid") return { handover: false, ignored: marker.reason };
  if (marker.pid !== ownPid) return { handover: false, ignored: `it names pid ${marker.pid}, not this daemon (${ownPid}): stale` };
  return { handover: true };
};

/** Reads the marker without following links or blocking on a FIFO; never throws. */
export const readMarker = async (path: string, uid = process.getuid?.() ?? 0): Promise<Marker> => {
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { kind: "absent" };
    return { kind: "invalid", reason: code === "ELOOP" ? "a symbolic link" : describeFsError(err) };
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) return { kind: "invalid", reason: "not a regular file" };
    if (st.uid !== uid) return { kind: "invalid", reason: `owned by uid ${st.uid}, not ${uid}` };
    if (st.size > MAX_BYTES) return { kind: "invalid", reason: `${st.size} bytes: too long for a pid` };
    const buf = Buffer.alloc(MAX_BYTES + 1);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    return parseMarker(buf.toString("utf8", 0, bytesRead));
  } catch (err) {
    return { kind: "invalid", reason: describeFsError(err) };
  } finally {
    await handle.close();
  }
};

/** Writes the marker for `pid` (mode 0600) by renaming a fresh file over it: a link in its place is replaced, never followed. */
export const writeMarker = async (path: string, pid: number): Promise<void> => {
  const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  await writeFile(tmp, `${pid}\n`, { flag: "wx", mode: 0o600 });
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
};

/** Removes whatever is at the marker's path (a link itself, not its target); a directory stays and is reported. */
export const removeMarker = (path: string): Promise<void> => rm(path, { force: true });

/** Removes the marker only while it still names `pid` (an aborted restart must not leave a live daemon marked). */
export const withdrawMarker = async (path: string, pid: number): Promise<void> => {
  const m = await readMarker(path);
  if (m.kind === "pid" && m.pid === pid) await removeMarker(path);
};
