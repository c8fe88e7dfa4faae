// Whatever turns a container's exit into a notice: conmon's exit directory, watched with
// inotify (the exit code lands there within milliseconds of the exit), and Podman's event
// stream followed (every other change, and exits when the directory cannot be watched).
// A notice only says "look now"; the pass that follows reads the state from Podman.

import { existsSync, watch as watchDir } from "node:fs";
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

/** How long an exit file's id is remembered, so that conmon's write and rename report once. */
const REPEAT_WINDOW_MS = 500;

/**
 * Reports a "died" event as soon as conmon writes the exit file of one of the pod's
 * containers (`nameOf` gives the logical name of the ids the pod had at the last observe).
 * Returns the function that stops watching; off when the directory cannot be watched.
 */
export const watchExits = (dir: string, nameOf: (id: string) => string | undefined, onEvent: (e: RuntimeEvent) => void): (() => void) => {
  const recent = new Set<string>();
  try {
    const watcher = watchDir(dir, (_type, file) => {
      const id = file === null ? "" : String(file);
      const name = nameOf(id);
      // One report per exit: conmon's write and rename both notify, and Podman's
      // cleanup removes the file again later.
      if (name === undefined || recent.has(id) || !existsSync(join(dir, id))) return;
      recent.add(id);
      setTimeout(() => recent.delete(id), REPEAT_WINDOW_MS).unref();
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
