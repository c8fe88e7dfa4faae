// The daemon's scheduled care: backup settings, where job state is kept, and the checks on
// cron expressions (also those of per-container `update.schedule`).

import path from "node:path";
import { Value } from "@sinclair/typebox/value";
import { persistedMounts } from "../domain/backup.js";
import type { ContainerSpec, ImageSpec } from "../domain/spec.js";
import { scheduleError } from "../domain/schedule.js";
import { parseDuration } from "./durations.js";
import { isPlainObject, type FieldPath } from "./field-path.js";
import { parseSize } from "./sizes.js";
import type { Issues } from "./issues.js";
import { JOBS_DEFAULTS, JobsSchema } from "./schema.js";

export interface BackupSettings {
  /** Cron expression; undefined: only on demand. */
  readonly schedule: string | undefined;
  readonly dir: string;
  readonly keep: number;
  readonly maxAgeMs: number | undefined;
  /** Most bytes of file content one archive may hold (backup fails above it, restore refuses). */
  readonly maxBytes: number;
}

export interface JobsSettings {
  readonly stateDir: string;
  /** Undefined: backups are not configured. */
  readonly backup: BackupSettings | undefined;
}

/** Records an error at `at` unless `expression` is a valid cron expression. */
export const checkSchedule = (expression: string | undefined, at: FieldPath, issues: Issues): void => {
  const error = expression === undefined ? undefined : scheduleError(expression);
  if (error) issues.error(at, `${JSON.stringify(expression)} is ${error} (five or six fields, e.g. "0 3 * * *" for 03:00 every day)`);
};

export function jobsSettings(section: unknown, issues: Issues): JobsSettings {
  // The schedule is checked even when another field of the section is bad, so one run reports both.
  const raw = isPlainObject(section) && isPlainObject(section.backup) ? section.backup.schedule : undefined;
  if (typeof raw === "string") checkSchedule(raw, ["jobs", "backup", "schedule"], issues);
  const s = Value.Check(JobsSchema, section) ? section : {};
  const stateDir = s.stateDir ?? JOBS_DEFAULTS.stateDir;
  const b = s.backup;
  if (!b) return { stateDir, backup: undefined };
  return {
    stateDir,
    backup: {
      schedule: b.schedule,
      dir: b.dir,
      keep: b.keep ?? JOBS_DEFAULTS.keep,
      maxAgeMs: b.maxAge === undefined ? undefined : parseDuration(b.maxAge),
      maxBytes: parseSize(b.maxSize ?? JOBS_DEFAULTS.maxSize),
    },
  };
}

/**
 * Checks across sections: `update.policy: local` needs an image podwarden knows how to build, and
 * the backup directory must not lie inside a directory it backs up (each archive would hold the last).
 */
export function checkJobs(containers: readonly ContainerSpec[], images: Readonly<Record<string, ImageSpec>>, jobs: unknown, issues: Issues): void {
  const dir = isPlainObject(jobs) && isPlainObject(jobs.backup) && typeof jobs.backup.dir === "string" ? path.resolve(jobs.backup.dir) : undefined;
  for (const c of containers) {
    for (const m of persistedMounts(c)) {
      if (dir !== undefined && (dir === m.source || dir.startsWith(`${m.source}/`))) {
        issues.error(["jobs", "backup", "dir"], `${dir} is inside ${m.source}, which ${c.name} persists and every backup copies: choose a directory outside the persisted data`);
      }
    }
  }
  for (const c of containers) {
    if (c.update?.policy === "local" && images[c.image]?.build === undefined) {
      issues.error(["containers", c.name, "update", "policy"], `"local" rebuilds the image from its Containerfile, but images.${JSON.stringify(c.image)} has no build section`);
    }
  }
}
