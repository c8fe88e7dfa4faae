import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config/load.js";
import { PATHS, UNIT } from "../../../src/domain/host-paths.js";
import {
  checkedPath,
  describeStep,
  planInstall,
  planUninstall,
  productionPackages,
  renderConfig,
  renderUnit,
  stepJson,
  type Step,
  type Survey,
} from "../../../src/install/plan.js";

const REPO = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
const PASSWORD = "generated-Pw-0123456789abcd";

/** A fresh machine: nothing of podwarden's, the unit not running. */
const fresh: Survey = {
  source: "/src/podwarden",
  sourceIsPrefix: false,
  prefixState: "absent",
  packages: ["node_modules/pino", "node_modules/yaml"],
  shippedUnit: "ExecStart=/usr/bin/node /opt/podwarden/dist/cli.js run\n",
  installedUnit: undefined,
  dropIns: [],
  configExists: false,
  envFileExists: false,
  envDirExists: false,
  persistRootExists: false,
  stateDirExists: false,
  unitActive: false,
  node: "/usr/bin/node",
};
const opts = { prefix: "/opt/podwarden", variant: "seed" as const, noStart: false, rooted: false };
const texts = (steps: readonly Step[]) => steps.map(describeStep);

describe("install paths from the command line", () => {
  it("takes absolute, plain paths deep enough", () => {
    expect(checkedPath("--prefix", "/opt/podwarden", 2)).toBe("/opt/podwarden");
    expect(checkedPath("--prefix", "/opt/podwarden/", 2)).toBe("/opt/podwarden");
    expect(checkedPath("--prefix", "/srv/tools/podwarden-0.2", 2)).toBe("/srv/tools/podwarden-0.2");
    expect(checkedPath("--root", "/", 0)).toBe("/");
  });

  it.each([
    ["opt/podwarden", "must be absolute"],
    ["./podwarden", "must be absolute"],
    ["/", "too close to /"],
    ["/opt", "too close to /"],
    ["/opt/../etc", "empty, . or .."],
    ["/opt/./x", "empty, . or .."],
    ["/opt//x", "empty, . or .."],
    ["/opt/pod warden", "may only contain"],
    ["/opt/$HOME", "may only contain"],
    ["/opt/x%i", "may only contain"],
    ["/opt/x\nExecStart=/bin/sh", "may only contain"],
  ])("refuses --prefix %j (%s)", (value, why) => {
    expect(() => checkedPath("--prefix", value, 2)).toThrow(why);
  });
});

describe("production packages from package-lock.json", () => {
  it("leaves dev packages out, flags optional ones", () => {
    const lock = {
      lockfileVersion: 3,
      packages: {
        "": { name: "podwarden" },
        "node_modules/pino": { version: "10" },
        "node_modules/vitest": { dev: true },
        "node_modules/@scope/x": {},
        "node_modules/@scope/x/node_modules/y": {},
        "node_modules/cpu-features": { optional: true },
        "node_modules/dev-opt": { dev: true, optional: true },
        "node_modules/dev-or-prod-optional": { devOptional: true },
      },
    };
    expect(productionPackages(lock)).toEqual([
      { path: "node_modules/@scope/x", optional: false },
      { path: "node_modules/@scope/x/node_modules/y", optional: false },
      { path: "node_modules/cpu-features", optional: true },
      { path: "node_modules/dev-or-prod-optional", optional: false },
      { path: "node_modules/pino", optional: false },
    ]);
  });

  it.each(["node_modules/../../etc", "node_modules/a/../b", "lib/x", "/node_modules/x", "node_modules/.bin", "node_modules/a/b"])("refuses the odd path %j", (path) => {
    expect(() => productionPackages({ lockfileVersion: 3, packages: { [path]: {} } })).toThrow(/odd package path/);
  });

  it("refuses links and old lock files", () => {
    expect(() => productionPackages({ lockfileVersion: 3, packages: { "node_modules/w": { link: true } } })).toThrow(/is a link/);
    expect(() => productionPackages({ lockfileVersion: 1, dependencies: {} })).toThrow(/lockfileVersion 2 or 3/);
    expect(() => productionPackages(null)).toThrow(/lockfileVersion/);
  });

  it("this repository's lock file: the runtime dependencies are in, the dev tools are not", async () => {
    const paths = productionPackages(JSON.parse(await readFile(join(REPO, "package-lock.json"), "utf8"))).map((p) => p.path);
    for (const dep of ["pino", "dockerode", "fastify", "unix-dgram", "yaml", "dotenv", "node-cron", "prom-client", "@sinclair/typebox", "tar-fs"]) expect(paths).toContain(`node_modules/${dep}`);
    for (const dev of ["vitest", "typescript", "eslint", "tsx", "esbuild"]) expect(paths).not.toContain(`node_modules/${dev}`);
  });
});

describe("planning install", () => {
  it("a fresh machine: the package, unit, config, env file, persist root, check, then enable --now", () => {
    const steps = planInstall(opts, fresh, PASSWORD);
    expect(texts(steps)).toEqual([
      "copy /src/podwarden -> /opt/podwarden: dist, package.json, package-lock.json, config, systemd, README.md, Dockerfile.opencode, docs, monitoring, node_modules (2 production packages)",
      `write ${PATHS.unitFile} (0644): new`,
      `write ${PATHS.config} (0644): extends /opt/podwarden/config/opencode-memory-pod.yaml`,
      "mkdir /run/secrets (0700)",
      "write /run/secrets/opencode.env (0600): a generated OPENCODE_SERVER_PASSWORD; add DD_API_KEY",
      "mkdir /persist/containers (0755): pod.persistRoot: the containers' data",
      `check ${PATHS.config} (podwarden validate)`,
      "run systemctl daemon-reload",
      `run systemctl enable --now ${UNIT}: starts the pod: it returns once every container is ready`,
    ]);
    const env = steps.find((s) => s.op === "write" && s.path === PATHS.envFile) as Extract<Step, { op: "write" }>;
    expect(env.content).toContain(`OPENCODE_SERVER_PASSWORD=${PASSWORD}\n`);
    expect(env.content).toContain("\n#DD_API_KEY=\n");
    expect(env).toMatchObject({ mode: 0o600, exclusive: true });
    expect(steps.find((s) => s.op === "write" && s.path === PATHS.config)).toMatchObject({ exclusive: true });
  });

  it("never shows the generated password: not in the step lines, not in --json", () => {
    const steps = planInstall(opts, fresh, PASSWORD);
    expect(JSON.stringify(steps.map(stepJson))).not.toContain(PASSWORD);
    expect(texts(steps).join("\n")).not.toContain(PASSWORD);
    expect(stepJson(steps[1]!)).toMatchObject({ op: "write", path: PATHS.unitFile, mode: "0644", note: "new" });
  });

  it("keeps what exists (config, env file, drop-ins), leaves an identical unit, replaces a changed one and says why", () => {
    const unit = renderUnit(fresh.shippedUnit, "/opt/podwarden", "/usr/bin/node");
    const have = { ...fresh, prefixState: "podwarden" as const, installedUnit: unit, dropIns: ["override.conf"], configExists: true, envFileExists: true, envDirExists: true, persistRootExists: true };
    const same = texts(planInstall({ ...opts, variant: "local" }, have, PASSWORD));
    expect(same.slice(0, 5)).toEqual([
      "copy /src/podwarden -> /opt/podwarden (replacing the installed version): dist, package.json, package-lock.json, config, systemd, README.md, Dockerfile.opencode, docs, monitoring, node_modules (2 production packages)",
      `keep ${PATHS.unitFile}: unchanged`,
      `keep ${PATHS.dropInDir}/override.conf: a drop-in: yours, kept`,
      `keep ${PATHS.config}: exists: never overwritten`,
      `keep ${PATHS.envFile}: exists: never overwritten`,
    ]);
    expect(same.some((t) => t.startsWith("mkdir"))).toBe(false);
    const changed = planInstall(opts, { ...have, installedUnit: `${unit}# my edit\n` }, PASSWORD);
    expect(changed[1]).toMatchObject({ op: "write", path: PATHS.unitFile, exclusive: false, content: unit });
    expect(describeStep(changed[1]!)).toMatch(/replaced: .*your changes belong in drop-ins: systemctl edit opencode-memory-pod/);
  });

  it("over a running unit (an upgrade): enable, then the handover instead of a restart", () => {
    const t = texts(planInstall(opts, { ...fresh, unitActive: true }, PASSWORD));
    expect(t.slice(-3)).toEqual([
      "run systemctl daemon-reload",
      `run systemctl enable ${UNIT}`,
      `run podwarden restart-daemon --unit ${UNIT}: ${UNIT} is running, so the new daemon replaces the old one and adopts the running containers (none is restarted)`,
    ]);
    expect(t.some((x) => x.includes("--now"))).toBe(false);
  });

  it("--no-start only enables; run from the prefix, nothing is copied; another prefix and Node go into the unit", () => {
    expect(texts(planInstall({ ...opts, noStart: true }, fresh, PASSWORD)).at(-1)).toBe(`run systemctl enable ${UNIT}: --no-start: enabled for the next boot, not started`);
    expect(texts(planInstall(opts, { ...fresh, sourceIsPrefix: true, prefixState: "podwarden" }, PASSWORD))[0]).toBe("skip copy to /opt/podwarden: running from the install prefix: nothing to copy");
    const steps = planInstall({ ...opts, prefix: "/srv/pw" }, { ...fresh, node: "/usr/local/bin/node" }, PASSWORD);
    expect((steps[1] as Extract<Step, { op: "write" }>).content).toBe("ExecStart=/usr/local/bin/node /srv/pw/dist/cli.js run\n");
    expect((steps[2] as Extract<Step, { op: "write" }>).content).toContain("extends: /srv/pw/config/opencode-memory-pod.yaml\n");
  });

  it("refuses a prefix that holds something else, before any step", () => {
    expect(() => planInstall(opts, { ...fresh, prefixState: "other" }, PASSWORD)).toThrow(/exists and is not a podwarden install/);
  });
});

describe("planning uninstall", () => {
  it("disables (which stops the pod: said), removes the unit and the prefix, keeps drop-ins, config, secrets and data", () => {
    const s = { ...fresh, prefixState: "podwarden" as const, installedUnit: "x", dropIns: ["override.conf"], configExists: true, envFileExists: true, persistRootExists: true, stateDirExists: true };
    expect(texts(planUninstall(opts, s))).toEqual([
      `run systemctl disable --now ${UNIT}: stops the pod: the daemon stops every container in reverse order and removes the pod (data stays)`,
      `remove ${PATHS.unitFile}: the unit`,
      "run systemctl daemon-reload",
      `keep ${PATHS.dropInDir}/override.conf: a drop-in: yours, kept`,
      "remove /opt/podwarden: podwarden itself",
      `keep ${PATHS.config}: your config`,
      `keep ${PATHS.envFile}: the pod's secrets`,
      `keep ${PATHS.persistRoot}: the containers' data`,
      `keep ${PATHS.stateDir}: job state (image pins)`,
    ]);
  });

  it("nothing installed: nothing to do; a prefix that is not podwarden's is never removed", () => {
    expect(texts(planUninstall(opts, fresh))).toEqual([`skip ${PATHS.unitFile}: not installed`, "skip /opt/podwarden: not there"]);
    expect(() => planUninstall(opts, { ...fresh, prefixState: "other" })).toThrow(/not removing it/);
  });
});

describe("the installed config", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "pw-installed-config-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Loads `text` as /etc/podwarden would hold it, with an env file of the test's (the top layer sets it). */
  const load = async (text: string) => {
    await writeFile(join(dir, "installed.yaml"), text);
    await writeFile(join(dir, "opencode.env"), "OPENCODE_SERVER_PASSWORD=pw-for-the-test\nDD_API_KEY=k\n", { mode: 0o600 });
    await writeFile(join(dir, "top.yaml"), `extends: installed.yaml\npod:\n  envFile: opencode.env\n`);
    return loadConfig(join(dir, "top.yaml"));
  };

  it.each(["seed", "local"] as const)("%s: extends the shipped file by its absolute path, whose relative paths resolve in the prefix's config/", async (variant) => {
    const { spec } = await load(renderConfig(REPO, variant));
    expect(spec.name).toBe("opencode-memory-pod");
    const builds = Object.values(spec.images).flatMap((i) => (i.build ? [i.build] : []));
    expect(builds.find((b) => b.containerfile.endsWith("Dockerfile.opencode"))).toMatchObject({ containerfile: join(REPO, "Dockerfile.opencode"), context: join(REPO, "config/images/opencode") });
  });

  it("its commented examples are a valid config once uncommented", async () => {
    const text = renderConfig(REPO, "local");
    const examples = text.slice(text.indexOf("# Examples"));
    const uncommented = text.replace(examples, examples.split("\n").slice(1).map((l) => l.replace(/^# ?/, "")).join("\n"));
    expect(uncommented).toContain("\npod:\n  envFile:");
    const { spec, http, jobs } = await load(uncommented);
    expect(spec.containers.find((c) => c.name === "valkey")?.mounts.map((m) => m.source)).toEqual(["/srv/pod-data/valkey"]);
    expect(http.port).toBe(9091);
    expect(jobs.backup?.keep).toBe(7);
    expect(spec.containers.find((c) => c.name === "datadog")?.env.DD_ENV).toBe("production");
  });
});
