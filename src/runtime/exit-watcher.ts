// Whatever turns a container's exit into a notice: conmon's exit directory, watched with
// inotify (the exit code lands there within milliseconds of the exit), and Podman's event
// stream followed (every other change, and exits when the directory cannot be watched).
// A notice only says "look now"; the pass that follows reads the state from Podman.

import { statSync, watch as watchDir } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { LIBPOD, wrapError } from "./libpod.js";
import { mapEvent, type EventJson } from "./map-event.js";
import type { PodmanApi } from "./podman-api.js";
import type { RuntimeEvent } from "./port.js";

/**
 * Where conmon writes a container's exit code the moment its main process ends (rootful
 * Podman's default tmp_dir). Podman's own "died" event comes later: the cleanup process
 * conmon starts writes it to the events file, which the API service polls every 250 ms.
 */
export const CONMON_EXIT_DIR = "/run/libpod/exits";

/**
 * The exit file's identity (a new exit writes a new file), or undefined when it is not there:
 * its inode and birth time, which writing into the file does not change (its ctime does, so a
 * file created and then written would count as two exits).
 */
const fileIdentity = (path: string): string | undefined => {
  try {
    const st = statSync(path);
    return `${st.ino}:${st.birthtimeMs}`;
  } catch {
    return undefined;
  }
};

/**
 * Reports a "died" event as soon as conmon writes the exit file of one of the pod's
 * containers (`nameOf` gives the logical name of the ids the pod had at the last observe).
 * Each file is reported once, however many notifications it causes (conmon writes a
 * temporary file and renames it; Podman's cleanup removes it), and a container that exits
 * again at once is reported again. Returns the function that stops watching; off when the
 * directory cannot be watched.
 */
export const watchExits = (dir: string, nameOf: (id: string) => string | undefined, onEvent: (e: RuntimeEvent) => void): (() => void) => {
  const reported = new Map<string, string>();
  try {
    const watcher = watchDir(dir, (_type, file) => {
      const id = file === null ? "" : String(file);
      const name = nameOf(id);
      if (name === undefined) return;
      const identity = fileIdentity(join(dir, id));
      if (identity === undefined) return void reported.delete(id);
      if (reported.get(id) === identity) return;
      reported.set(id, identity);
      onEvent({ type: "container", action: "died", name, id, exitCode: undefined, at: Date.now() });
    });
    watcher.on("error", () => watcher.close());
    return () => watcher.close();
  } catch {
    return () => undefined;
  }
};

/** Follows libpod's event stream (container and pod events), passing on those about `pod`. */
export const followEvents = async (
  api: PodmanApi,
  pod: string,
  onEvent: (e: RuntimeEvent) => void,
  signal: AbortSignal,
  onConnected?: () => void,
): Promise<void> => {
  const stream = await api.call("events", () =>
    api.libpod.dial<Readable>("events", {
      method: "GET",
      path: `${LIBPOD}/events`,
      query: { stream: true, filters: { type: ["container", "pod"] } },
      ok: [200],
      stream: true,
      signal,
    }),
  );
  onConnected?.();
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      if (!line.trim()) continue;
      const e = mapEvent(JSON.parse(line) as EventJson, pod);
      if (e) onEvent(e);
    }
  } catch (err) {
    if (signal.aborted) return;
    throw wrapError("events", err);
  } finally {
    stream.destroy();
  }
};

/** Both sources for one pod, until the stream ends or breaks. The directory is watched first: Podman 4.3 sends the stream's headers only with its first event. */
export const watchPod = async (
  api: PodmanApi,
  opts: { readonly pod: string; readonly exitDir: string; readonly nameOf: (id: string) => string | undefined },
  onEvent: (e: RuntimeEvent) => void,
  signal: AbortSignal,
  onConnected?: () => void,
): Promise<void> => {
  const closeExits = watchExits(opts.exitDir, opts.nameOf, onEvent);
  try {
    await followEvents(api, opts.pod, onEvent, signal, onConnected);
  } finally {
    closeExits();
  }
};
