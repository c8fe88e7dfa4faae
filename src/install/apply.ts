// Carries out the steps of plan.ts, in order, each said before it is done. Under a root other
// than "/" (tests, packaging) the files go below it, and systemctl, the config check and the
// handover are reported as skipped. New files of the user's (config, env file) are created
// exclusively: one that appeared meanwhile is kept, never overwritten.

import { randomBytes } from "node:crypto";
import { chmod, cp, lstat, mkdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Say } from "../lib/say.js";
import type { Systemctl } from "../systemd/systemctl.js";
import { InstallError, describeStep, type Step } from "./plan.js";
import { prefixState, under } from "./survey.js";

export interface ApplyDeps {
  readonly root: string;
  readonly dryRun: boolean;
  readonly say: Say;
  readonly systemctl: Systemctl;
  /** Loads the config as the daemon would (throws a ConfigError). */
  readonly validate: (config: string) => Promise<void>;
  /** Replaces the running daemon (restart-daemon). */
  readonly handover: (unit: string) => Promise<void>;
}

const tmpName = (path: string, tag: string): string => `${path}.${tag}-${randomBytes(4).toString("hex")}`;

const isPresent = (path: string): Promise<boolean> =>
  lstat(path).then(
    () => true,
    () => false,
  );

/** The prefix's new contents are staged beside it, then swapped in: a failed copy leaves the installed version as it was. */
const copyPackage = async (step: Extract<Step, { op: "copy" }>, to: string): Promise<void> => {
  await mkdir(dirname(to), { recursive: true, mode: 0o755 });
  const stage = tmpName(to, "new");
  try {
    await mkdir(stage, { mode: 0o755 });
    for (const entry of step.entries) {
      await cp(join(step.from, entry), join(stage, entry), { recursive: true, verbatimSymlinks: true, errorOnExist: true, force: false });
    }
    // Each package without its nested node_modules: the nested production ones are entries of their own.
    for (const pkg of step.packages) {
      const src = join(step.from, pkg);
      const nested = join(src, "node_modules");
      await cp(src, join(stage, pkg), { recursive: true, verbatimSymlinks: true, errorOnExist: true, force: false, filter: (p) => p !== nested && !p.startsWith(`${nested}/`) });
    }
    await chmod(stage, 0o755);
  } catch (err) {
    await rm(stage, { recursive: true, force: true });
    throw err;
  }
  if (!(await isPresent(to))) return rename(stage, to);
  // Checked again right before it goes: only a podwarden install is ever replaced.
  if ((await prefixState(to)) === "other") {
    await rm(stage, { recursive: true, force: true });
    throw new InstallError(`${to} is not a podwarden install: not replacing it`);
  }
  const old = tmpName(to, "old");
  await rename(to, old);
  try {
    await rename(stage, to);
  } catch (err) {
    await rename(old, to);
    await rm(stage, { recursive: true, force: true });
    throw err;
  }
  await rm(old, { recursive: true, force: true });
};

/** exclusive: the file must not exist (O_EXCL); otherwise a fresh file is renamed over the old one (a link there is replaced, not followed). */
const writeStep = async (step: Extract<Step, { op: "write" }>, path: string, say: Say): Promise<void> => {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  if (step.exclusive) {
    try {
      await writeFile(path, step.content, { flag: "wx", mode: step.mode });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      say.warn({ path: step.path }, `${step.path} appeared meanwhile: kept as it is`);
      return;
    }
    await chmod(path, step.mode);
    return;
  }
  const tmp = tmpName(path, "tmp");
  await writeFile(tmp, step.content, { flag: "wx", mode: step.mode });
  await chmod(tmp, step.mode);
  await rename(tmp, path);
};

/** The mode is the last directory's; parents that are missing get 0755. */
const mkdirStep = async (path: string, mode: number): Promise<void> => {
  if (await isPresent(path)) return;
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  await mkdir(path, { mode });
  await chmod(path, mode);
};

/** Removes the prefix only while it is a podwarden install; the unit file only while it is a file. */
const removeStep = async (path: string): Promise<void> => {
  const st = await lstat(path).catch(() => undefined);
  if (st === undefined) return;
  if (st.isDirectory()) {
    if ((await prefixState(path)) === "other") throw new InstallError(`${path} is not a podwarden install: not removing it`);
    await rm(path, { recursive: true, force: true });
  } else await rm(path, { force: true });
};

const runSystemctl = async (deps: ApplyDeps, args: readonly string[]): Promise<void> => {
  const r = await deps.systemctl(args);
  if (r.code !== 0) throw new InstallError(`systemctl ${args.join(" ")} failed (exit ${r.code}): ${r.stderr || "no message"}`);
};

/** Steps that only make sense on the real system (not under --root). */
const SYSTEM_OPS = new Set<Step["op"]>(["systemctl", "validate", "handover"]);

export const applySteps = async (steps: readonly Step[], deps: ApplyDeps): Promise<void> => {
  const rooted = deps.root !== "/";
  for (const step of steps) {
    const text = describeStep(step);
    if (deps.dryRun) {
      deps.say.info({ step: step.op, dryRun: true }, `would ${text}`);
      continue;
    }
    if (rooted && SYSTEM_OPS.has(step.op)) {
      deps.say.info({ step: step.op, skipped: true }, `skipped (--root ${deps.root}): ${text}`);
      continue;
    }
    deps.say.info({ step: step.op }, text);
    const at = (p: string) => under(deps.root, p);
    switch (step.op) {
      case "copy":
        await copyPackage(step, at(step.to));
        break;
      case "write":
        await writeStep(step, at(step.path), deps.say);
        break;
      case "mkdir":
        await mkdirStep(at(step.path), step.mode);
        break;
      case "remove":
        await removeStep(at(step.path));
        break;
      case "validate":
        await deps.validate(step.config);
        break;
      case "systemctl":
        await runSystemctl(deps, step.args);
        break;
      case "handover":
        await deps.handover(step.unit);
        break;
      case "keep":
      case "skip":
        break;
    }
  }
};
