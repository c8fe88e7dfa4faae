// What install and uninstall find on the machine (under --root for tests): read only, no
// changes. The planner (plan.ts) decides from this what to do.

import { lstat, readFile, readdir, realpath } from "node:fs/promises";
import { join } from "node:path";
import type { Systemctl } from "../systemd/systemctl.js";
import { PATHS, UNIT } from "../domain/host-paths.js";
import { InstallError, productionPackages, type PrefixState, type Survey } from "./plan.js";

export interface SurveyInput {
  /** "/" on a real install; another directory for tests and packaging. */
  readonly root: string;
  readonly prefix: string;
  /** The package podwarden runs from. */
  readonly source: string;
  readonly node: string;
  /** Asked whether the unit runs (only when root is "/"). */
  readonly systemctl: Systemctl;
}

/** A path of the target system under the root. */
export const under = (root: string, path: string): string => (root === "/" ? path : join(root, path));

const exists = (path: string): Promise<boolean> =>
  lstat(path).then(
    () => true,
    () => false,
  );

const readIfFile = async (path: string): Promise<string | undefined> => ((await lstat(path).catch(() => undefined))?.isFile() ? readFile(path, "utf8") : undefined);

const same = async (a: string, b: string): Promise<boolean> => {
  try {
    return (await realpath(a)) === (await realpath(b));
  } catch {
    return false;
  }
};

/** A directory that is ours has a package.json named podwarden; a link or a file in its place is not ours. */
export const prefixState = async (dir: string): Promise<PrefixState> => {
  const st = await lstat(dir).catch(() => undefined);
  if (st === undefined) return "absent";
  if (!st.isDirectory()) return "other";
  if ((await readdir(dir)).length === 0) return "empty";
  const pkg = await readIfFile(join(dir, "package.json")).catch(() => undefined);
  try {
    return (JSON.parse(pkg ?? "null") as { name?: unknown } | null)?.name === "podwarden" ? "podwarden" : "other";
  } catch {
    return "other";
  }
};

/** The production packages of the source's lock file that its node_modules holds; a missing required one is an error. */
const presentPackages = async (source: string): Promise<string[]> => {
  const text = await readFile(join(source, "package-lock.json"), "utf8").catch(() => undefined);
  if (text === undefined) throw new InstallError(`${source}/package-lock.json is missing: install from a checkout (npm ci && npm run build)`);
  let lock: unknown;
  try {
    lock = JSON.parse(text);
  } catch (err) {
    throw new InstallError(`${source}/package-lock.json is not JSON: ${(err as Error).message}`);
  }
  const out: string[] = [];
  for (const p of productionPackages(lock)) {
    const st = await lstat(join(source, p.path)).catch(() => undefined);
    if (st?.isDirectory()) out.push(p.path);
    else if (!p.optional) throw new InstallError(`${join(source, p.path)} is missing: run npm ci in ${source} first`);
  }
  return out;
};

const RUNNING = new Set(["active", "activating", "reloading"]);

export const survey = async (input: SurveyInput, forUninstall = false): Promise<Survey> => {
  const { root, source } = input;
  const at = (p: string) => under(root, p);
  const prefix = at(input.prefix);
  const sourceIsPrefix = await same(source, prefix);
  const needSource = !forUninstall && !sourceIsPrefix;
  for (const entry of needSource ? ["dist/cli.js", "systemd", "config"] : []) {
    if (!(await exists(join(source, entry)))) throw new InstallError(`${join(source, entry)} is missing: build first (npm ci && npm run build)`);
  }
  const shippedUnit = forUninstall ? "" : await readFile(join(source, "systemd", UNIT), "utf8");
  const dropIns = await readdir(at(PATHS.dropInDir)).catch(() => [] as string[]);
  return {
    source,
    sourceIsPrefix,
    prefixState: await prefixState(prefix),
    packages: needSource ? await presentPackages(source) : [],
    shippedUnit,
    installedUnit: await readIfFile(at(PATHS.unitFile)).catch(() => undefined),
    dropIns: dropIns.sort(),
    configExists: await exists(at(PATHS.config)),
    envFileExists: await exists(at(PATHS.envFile)),
    envDirExists: await exists(at(PATHS.envFile.slice(0, PATHS.envFile.lastIndexOf("/")))),
    persistRootExists: await exists(at(PATHS.persistRoot)),
    stateDirExists: await exists(at(PATHS.stateDir)),
    unitActive: root === "/" && RUNNING.has((await input.systemctl(["is-active", UNIT])).stdout.trim()),
    node: input.node,
  };
};
