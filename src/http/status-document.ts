// The /status document (application/health+json style), built from the last snapshot.

import { diskNote } from "../domain/disk.js";
import { softDown, softDownNote, type Snapshot } from "../domain/snapshot.js";
import type { TimelineEntry } from "../supervisor/timeline.js";
import type { JobsStatus } from "../domain/jobs.js";
import type { StatusDocument } from "./schemas.js";

/** What /status says about jobs when the daemon runs none (tests, or a server built without them). */
export const NO_JOBS: JobsStatus = {
  running: null,
  backup: { configured: false, dir: null, schedule: null, nextRunAt: null, last: null },
  update: { nextRunAt: {}, last: null },
  containers: {},
};

/** States a container passes through on its way up or down: worth a warning, not a failure. */
const TRANSIENT: ReadonlySet<string> = new Set(["creating", "starting", "stopping"]);

/** Containers out of disk space on a persisted filesystem, with the note saying so. */
const diskNotes = (s: Snapshot): string[] =>
  Object.entries(s.containers).flatMap(([name, c]) => (c.disk?.full ? [diskNote(name, c.disk)] : []));

/**
 * fail: Podman unreachable, a container out of disk space, or a container down, unless it is a
 * soft dependency that has given up.
 * warn: ready with notes, containers on their way up, or soft dependencies down (the pod serves
 * without them).
 */
export const overallStatus = (s: Snapshot, warnings: readonly string[]): StatusDocument["status"] => {
  if (!s.podman.reachable || s.blocked || diskNotes(s).length > 0) return "fail";
  const notReady = Object.entries(s.containers).filter(([, c]) => !c.ready);
  if (notReady.some(([name, c]) => !TRANSIENT.has(c.state) && !s.softDown.includes(name))) return "fail";
  return notReady.length > 0 || warnings.length > 0 ? "warn" : "pass";
};

export const statusDocument = (
  s: Snapshot,
  opts: { readonly version: string; readonly warnings: readonly string[]; readonly events: readonly TimelineEntry[]; readonly jobs?: JobsStatus },
): StatusDocument => {
  const jobs = opts.jobs ?? NO_JOBS;
  return {
    status: overallStatus(s, opts.warnings),
    version: opts.version,
    description: `podwarden supervising pod ${s.pod.name}`,
    notes: [
      ...(s.blocked ? [`host not ready (${s.blocked.check}): ${s.blocked.cause}; fix: ${s.blocked.fix}`] : []),
      ...diskNotes(s),
      ...opts.warnings,
      ...softDown(s).map(([name, c]) => softDownNote(name, c)),
      ...(s.error ? [s.error] : []),
    ],
    podman: s.podman,
    blocked: s.blocked,
    lastPassAt: s.lastPassAt,
    pod: {
      name: s.pod.name,
      state: s.pod.exists ? s.pod.state : "absent",
      containersReady: s.pod.containersReady,
      containersTotal: s.pod.containersTotal,
      serving: s.serving,
    },
    containers: Object.fromEntries(
      Object.entries(s.containers).map(([name, c]) => [
        name,
        {
          state: c.state,
          health: c.health,
          ready: c.ready,
          restarts: c.restarts,
          lastExitCode: c.lastExitCode,
          lastReason: c.lastReason,
          startedAt: c.startedAt,
          readyAt: c.readyAt,
          backoffSeconds: c.backoffSeconds,
          nextAttemptAt: c.nextAttemptAt,
          dependsOn: [...c.dependsOn],
          softDependencyOf: [...c.softDependencyOf],
          image: c.image,
          id: c.id,
          imageId: c.imageId,
          pinnedImage: jobs.containers[name]?.pinnedImage ?? null,
          previousImageId: jobs.containers[name]?.previousImageId ?? null,
          lastUpdate: jobs.containers[name]?.lastUpdate ?? null,
          lastProbe: c.lastProbe,
          disk: c.disk,
        },
      ]),
    ),
    jobs: { running: jobs.running, backup: jobs.backup, update: jobs.update },
    events: [...opts.events].slice(-50),
  };
};
