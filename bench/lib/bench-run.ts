// The benchmark's pods: a run of the e2e harness (unique pod name, host ports and data
// directory, config extending config/local.yaml) under the benchmark's own name prefix,
// with the daemon's HTTP on a free port and the config loaded into a PodSpec, which the
// alternatives (the floor, the seed's script, podman-compose) are rendered from.
// Everything made here is registered with the Janitor, which removes it at the end.

import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { parse, stringify } from "yaml";
import { loadConfig } from "../../src/config/load.js";
import { SECRET_ENV_PATH } from "../../src/domain/create-request.js";
import { secretKeysFor } from "../../src/domain/secret-env.js";
import type { ContainerSpec, MountSpec, PodSpec, Secrets } from "../../src/domain/spec.js";
import { LOCAL_CONFIG, cleanupRun, createRun, freePort, podman, type E2eRun } from "../../test/support/podman-harness.js";

export const BENCH_PREFIX = "pw-bench";

/**
 * The same checks as podwarden's native probes, as commands inside each container: what a
 * person writes as Podman health checks (the seed's `valkey-cli -p 6380 ping`), and what
 * the exec-probe variant of the config runs through the libpod healthcheck endpoint.
 * OpenCode's password comes from the environment (--env-file) or from podwarden's secret file.
 * curl gets the probes' 2 s timeout: while OpenCode starts it can hold a request for minutes,
 * and Podman 4.3's `healthcheck run` then waits with it.
 */
export const EXEC_CHECKS: Readonly<Record<string, readonly string[]>> = {
  valkey: ["valkey-cli", "-p", "6380", "ping"],
  falkordb: ["valkey-cli", "-p", "6379", "ping"],
  datadog: ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8126"],
  opencode: [
    "sh",
    "-c",
    `if [ -f ${SECRET_ENV_PATH} ]; then . ${SECRET_ENV_PATH}; fi; ` +
      'curl -fsS --max-time 2 -o /dev/null -u "opencode:$OPENCODE_SERVER_PASSWORD" http://127.0.0.1:4096/global/health',
  ],
};

/** Cleans up, in reverse order, everything the benchmark created. */
export class Janitor {
  readonly #tasks: { what: string; run: () => Promise<unknown> }[] = [];

  add(what: string, run: () => Promise<unknown>): void {
    this.#tasks.push({ what, run });
  }

  /** Runs (and forgets) the tasks added since `mark`; all of them when no mark. */
  async sweep(mark = 0): Promise<void> {
    while (this.#tasks.length > mark) {
      const t = this.#tasks.pop()!;
      await t.run().catch((err: unknown) => process.stderr.write(`cleanup of ${t.what} failed: ${String(err)}\n`));
    }
  }

  mark(): number {
    return this.#tasks.length;
  }
}

export interface BenchRun extends E2eRun {
  readonly spec: PodSpec;
  readonly secrets: Secrets;
  /** The daemon's HTTP port. */
  readonly httpPort: number;
  readonly probes: Probes;
}

/** podwarden's native probes (the configs as shipped), the same checks as exec probes, or none at all. */
export type Probes = "native" | "exec" | "none";

let scratch: string | undefined;

/** A temp directory for the whole benchmark (bundles, config variants), removed at the end. */
export const scratchDir = async (janitor: Janitor): Promise<string> => {
  if (scratch) return scratch;
  const dir = await mkdtemp(join(tmpdir(), `${BENCH_PREFIX}-`));
  scratch = dir;
  janitor.add(`scratch ${dir}`, async () => {
    await rm(dir, { recursive: true, force: true });
    scratch = undefined;
  });
  return dir;
};

/**
 * config/local.yaml with every probe an exec probe (same timings), or with no probes
 * (running counts as ready); image paths made absolute.
 */
const variantBase = async (janitor: Janitor, probes: "exec" | "none"): Promise<string> => {
  const file = join(await scratchDir(janitor), `local-${probes}.yaml`);
  if (await stat(file).catch(() => undefined)) return file;
  const doc = parse(await readFile(LOCAL_CONFIG, "utf8")) as {
    images: Record<string, { build?: { containerfile: string; context: string } }>;
    containers: Record<string, { probe?: Record<string, unknown> }>;
  };
  const here = dirname(LOCAL_CONFIG);
  for (const image of Object.values(doc.images)) {
    if (!image.build) continue;
    image.build.containerfile = resolve(here, image.build.containerfile);
    image.build.context = resolve(here, image.build.context);
  }
  for (const [name, c] of Object.entries(doc.containers)) {
    if (probes === "none") {
      delete c.probe;
      continue;
    }
    const check = EXEC_CHECKS[name];
    if (!check) throw new Error(`no exec check for ${name}`);
    const timing = Object.fromEntries(Object.entries(c.probe ?? {}).filter(([k]) => !["redis", "http", "tcp"].includes(k)));
    c.probe = { ...timing, exec: [...check] };
  }
  await writeFile(file, stringify(doc));
  return file;
};

export interface RunChoice {
  readonly probes?: Probes;
  /** Extra YAML for the run's config (after the http section). */
  readonly extraYaml?: string;
}

/** A new pod of the benchmark's own (name, ports, data), cleaned up by the janitor. */
export const benchRun = async (janitor: Janitor, choice: RunChoice = {}): Promise<BenchRun> => {
  const probes = choice.probes ?? "native";
  const httpPort = await freePort();
  const run = await createRun({
    prefix: BENCH_PREFIX,
    ...(probes === "native" ? {} : { base: await variantBase(janitor, probes) }),
    extraYaml: ["http:", `  port: ${httpPort}`, choice.extraYaml ?? ""].join("\n"),
  });
  janitor.add(`pod ${run.pod}`, () => cleanupRun(run));
  const { spec, secrets } = await loadConfig(run.config);
  return { ...run, spec, secrets, httpPort, probes };
};

/** Mounts whose source exists (optional ones that do not are skipped, as podwarden does). */
export const presentMounts = async (c: ContainerSpec): Promise<MountSpec[]> => {
  const out: MountSpec[] = [];
  for (const m of c.mounts) {
    if (m.create) await mkdir(m.source, { recursive: true, mode: 0o750 });
    if (!isAbsolute(m.source) || (await stat(m.source).catch(() => undefined))) out.push(m);
  }
  return out;
};

/** Secret values a container receives (env-file keys), as plain variables for the alternatives. */
export const secretEnvOf = (c: ContainerSpec, secrets: Secrets): Record<string, string> => {
  // secretEnv holds patterns (DD_*, !DD_*): the domain's own matching picks the keys.
  return Object.fromEntries(secretKeysFor(c, secrets.keys()).flatMap((k) => (secrets.has(k) ? [[k, secrets.get(k)!]] : [])));
};

/** The pod's cgroup below the cpuacct hierarchy (cgroupfs manager, cgroup v1), e.g. /libpod_parent/<id>. */
export const podCgroup = async (pod: string): Promise<string> => (await podman("pod", "inspect", "--format", "{{.CgroupPath}}", pod)).trim();
