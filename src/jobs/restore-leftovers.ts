// At start, before any container starts: finds what a restore cut short left beside each
// persisted directory and rolls it back or finishes it (the rule is in
// domain/restore-leftovers.ts). Every step is logged. A step that fails keeps its container
// stopped (suspended) rather than letting it start on the wrong data.

import { lstat, readdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { persistedMounts } from "../domain/backup.js";
import { parseLeftover, planLeftovers, type LeftoverAction, type PersistedDirState } from "../domain/restore-leftovers.js";
import type { PodSpec } from "../domain/spec.js";
import type { Logger } from "../observability/logger.js";

const present = (p: string): Promise<boolean> => lstat(p).then(() => true, () => false);

const survey = async (spec: PodSpec): Promise<PersistedDirState[]> => {
  const listings = new Map<string, string[]>();
  const list = async (dir: string): Promise<string[]> => {
    if (!listings.has(dir)) listings.set(dir, await readdir(dir).catch(() => []));
    return listings.get(dir)!;
  };
  const out: PersistedDirState[] = [];
  for (const c of spec.containers) {
    for (const m of persistedMounts(c)) {
      const leftovers = (await list(dirname(m.source))).flatMap((n) => parseLeftover(m.source, n) ?? []);
      out.push({ container: c.name, source: m.source, exists: await present(m.source), leftovers });
    }
  }
  return out;
};

const apply = async (a: LeftoverAction): Promise<void> => {
  if (a.do === "rename") await rename(a.from, a.to);
  else if (a.do === "remove") await rm(a.path, { recursive: true, force: true });
};

export interface Recovered {
  /** Directories of replaced data to delete once the pod is ready (a restore whose swap was complete). */
  readonly whenReady: readonly string[];
  /** Containers kept stopped because a step failed (the operator must look). */
  readonly held: readonly string[];
}

/**
 * Rolls back or finishes restores cut short. `backupDir`: where podwarden 0.1 unpacked archives
 * (`.restore-*` there is only ever a copy of an archive, removed).
 */
export const recoverRestores = async (spec: PodSpec, backupDir: string | undefined, logger: Logger): Promise<Recovered> => {
  if (backupDir !== undefined) {
    for (const n of await readdir(backupDir).catch(() => [])) {
      if (!n.startsWith(".restore-")) continue;
      logger.warn({ path: join(backupDir, n) }, "removing the unpack directory of a restore cut short (a copy of its archive)");
      await rm(join(backupDir, n), { recursive: true, force: true }).catch((err: unknown) => logger.error({ path: join(backupDir, n), err }, "cannot remove it"));
    }
  }
  const whenReady: string[] = [];
  const held = new Set<string>();
  for (const a of planLeftovers(await survey(spec))) {
    if (held.has(a.container)) continue;
    if (a.do === "keep") {
      logger.error({ container: a.container, path: a.path }, a.why);
      continue;
    }
    if (a.do === "remove-when-ready") {
      logger.warn({ container: a.container, path: a.path }, a.why);
      whenReady.push(a.path);
      continue;
    }
    try {
      logger.warn({ container: a.container, ...(a.do === "rename" ? { from: a.from, to: a.to } : { path: a.path }) }, a.why);
      await apply(a);
    } catch (err) {
      held.add(a.container);
      logger.error({ container: a.container, err }, `cannot undo a restore cut short: ${a.container} is kept stopped; put its data back by hand (see the leftovers beside ${basename(a.do === "rename" ? a.to : a.path)}), then restart podwarden`);
    }
  }
  return { whenReady, held: [...held] };
};
