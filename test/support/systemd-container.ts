// systemd 252 as PID 1 in a container on this host's Podman, running the shipped unit: the
// plumbing of test/e2e/systemd-pid1*.test.ts. The recipe (FACTS.md, "A real systemd can be
// tested here"):
//
// - image: test/images/systemd.Containerfile FROM the Debian base the local images use, tagged
//   localhost/podwarden-systemd:test; built with --pull=never only when it is missing or its
//   recipe changed (the Containerfile's text and the base image's id, kept in a label);
// - container: --systemd=always --network=host --cap-add SYS_ADMIN (without SYS_ADMIN systemd
//   silently skips the unit's mount namespace, so the hardening would go untested), with the
//   host's Podman socket (its directory), Node (at /usr/bin/node, where the unit expects it) and the checkout
//   (read-only, at its own path: it holds dist/ and node_modules) bind-mounted in;
// - the daemon inside drives the HOST's Podman, which resolves mount sources on the host: the
//   run's directory (persistRoot inside it) is bind-mounted at the same path inside and out,
//   under /var/lib/podwarden-e2e, never under /tmp or /var/tmp (the unit's PrivateTmp would
//   hide it from the daemon);
// - the config is /etc/podwarden/opencode-memory-pod.yaml and the env file
//   /run/secrets/opencode.env inside (the unit's defaults), both written into the container;
//   the config is createRun's (unique pod name and host ports) plus an HTTP port of its own, and
//   `extends:` /opt/podwarden/config/local.yaml, the installed copy of the checkout's: a path the
//   unit's daemon can read wherever the checkout is (a checkout under /tmp would be hidden by
//   PrivateTmp=, as a persist root there would be).
//
// Everything a run makes is removed by `removeSystemdRun`, on failure too: the container, the
// pod and containers labelled with the run's pod on the host's Podman, its secrets, its directory.

import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readFile, realpath, rmdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { expect, it } from "vitest";
import { cleanupRun, createRun, ensureImages, freePort, identities, inspect, LOCAL_CONFIG, REPO, SOCKET, waitFor, type ContainerIdentity, type E2eRun } from "./podman-harness.js";

export const SYSTEMD_IMAGE = "localhost/podwarden-systemd:test";
const BASE_IMAGE = "localhost/podwarden-debian:bookworm";
const CONTAINERFILE = join(REPO, "test/images/systemd.Containerfile");
const RECIPE_LABEL = "io.podwarden.recipe";
/** On every container this module starts: leftovers of a crashed run are found by it. */
export const CONTAINER_LABEL = "io.podwarden.e2e=systemd";
/** Run directories live here (bind-mounted at the same path): not /tmp, see above. */
export const E2E_ROOT = "/var/lib/podwarden-e2e";

export const UNIT = "opencode-memory-pod.service";
/** The unit's defaults (PODWARDEN_CONFIG and the config's pod.envFile). */
export const UNIT_CONFIG = "/etc/podwarden/opencode-memory-pod.yaml";
export const UNIT_ENV_FILE = "/run/secrets/opencode.env";
export const DROPIN_DIR = `/etc/systemd/system/${UNIT}.d`;
/** Where the unit expects podwarden (the README's /opt/podwarden). */
export const INSTALL_PREFIX = "/opt/podwarden";
const CHECKOUT = resolve(REPO);

export interface ProcResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program to completion; never rejects for a non-zero exit (the caller looks at `code`). */
const proc = (cmd: string, args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<ProcResult> =>
  new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });

const failed = (what: string, r: ProcResult): Error => new Error(`${what} exited ${String(r.code)}:\n${(r.stderr || r.stdout).slice(-4000)}`);

const must = async (cmd: string, args: readonly string[], timeoutMs?: number): Promise<string> => {
  const r = await proc(cmd, args, timeoutMs === undefined ? {} : { timeoutMs });
  if (r.code !== 0) throw failed(`${cmd} ${args.slice(0, 3).join(" ")}`, r);
  return r.stdout;
};

// ---- the image ---------------------------------------------------------------------------------

/** Builds the systemd image unless it exists with the same recipe; says whether and how long. */
export const ensureSystemdImage = async (): Promise<{ built: boolean; ms: number }> => {
  const baseId = (await must("podman", ["image", "inspect", "--format", "{{.Id}}", BASE_IMAGE])).trim();
  const recipe = createHash("sha256").update(await readFile(CONTAINERFILE)).update(baseId).digest("hex").slice(0, 16);
  const have = await proc("podman", ["image", "inspect", "--format", `{{index .Labels "${RECIPE_LABEL}"}}`, SYSTEMD_IMAGE]);
  if (have.code === 0 && have.stdout.trim() === recipe) return { built: false, ms: 0 };
  const t0 = performance.now();
  await must(
    "podman",
    ["build", "--pull=never", "--build-arg", `BASE_IMAGE=${BASE_IMAGE}`, "--label", `${RECIPE_LABEL}=${recipe}`, "-t", SYSTEMD_IMAGE, "-f", CONTAINERFILE, dirname(CONTAINERFILE)],
    600_000,
  );
  return { built: true, ms: Math.round(performance.now() - t0) };
};

// ---- the container -----------------------------------------------------------------------------

export interface BindMount {
  readonly source: string;
  readonly target: string;
  readonly readOnly: boolean;
}

const same = (path: string, readOnly: boolean): BindMount => ({ source: path, target: path, readOnly });

/**
 * What every systemd container of these tests gets: the Podman socket, Node at /usr/bin/node,
 * the checkout read-only at its own path (and its node_modules' real directory when that is a
 * link, as in a git worktree), and the run's directory read-write at its own path.
 * `optPodwarden`: the checkout at /opt/podwarden too, the unit's install prefix.
 */
const mountsFor = async (run: E2eRun, opts: { readonly optPodwarden: boolean }): Promise<BindMount[]> => {
  const modules = join(CHECKOUT, "node_modules");
  const modulesReal = await realpath(modules);
  return [
    // The socket's directory, not the socket: a restarted Podman service makes a new socket
    // file, which a bind mount of the old one would never see.
    same(dirname(SOCKET), false),
    { source: process.execPath, target: "/usr/bin/node", readOnly: true },
    same(CHECKOUT, true),
    ...(modulesReal !== modules ? [same(modulesReal, true)] : []),
    ...(opts.optPodwarden ? [{ source: CHECKOUT, target: INSTALL_PREFIX, readOnly: true }] : []),
    same(run.dir, false),
  ];
};

/** systemd as PID 1 in a container; commands run in it through `podman exec`. */
export class SystemdHost {
  /** podman run → `systemctl is-system-running --wait` answered. */
  bootMs = 0;
  /** "running" or "degraded" (then `failedUnits` lists what failed). */
  bootState = "";
  failedUnits = "";

  constructor(readonly name: string) {}

  exec(argv: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<ProcResult> {
    return proc("podman", ["exec", ...(opts.input === undefined ? [] : ["-i"]), this.name, ...argv], opts);
  }

  sh(script: string, opts: { input?: string; timeoutMs?: number } = {}): Promise<ProcResult> {
    return this.exec(["sh", "-c", script], opts);
  }

  /** Like exec, but a non-zero exit is an error carrying the output. */
  async must(argv: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
    const r = await this.exec(argv, opts);
    if (r.code !== 0) throw failed(`(in ${this.name}) ${argv.join(" ")}`, r);
    return r.stdout;
  }

  async writeFile(path: string, content: string, mode = 0o644): Promise<void> {
    // Written to a new file and renamed, so the mode is right before the content is there.
    await this.must(["sh", "-c", 'umask 077 && mkdir -p "$(dirname "$1")" && cat > "$1.new" && chmod "$2" "$1.new" && mv -f "$1.new" "$1"', "sh", path, mode.toString(8)], { input: content });
  }

  readFile(path: string): Promise<string> {
    return this.must(["cat", path]);
  }

  systemctl(...args: string[]): Promise<ProcResult> {
    return this.exec(["systemctl", "--no-pager", ...args], { timeoutMs: 300_000 });
  }

  /** `systemctl show -p ...` of the unit, as a map. */
  async show(props: readonly string[], unit = UNIT): Promise<Record<string, string>> {
    const out = await this.must(["systemctl", "show", "-p", props.join(","), unit]);
    return Object.fromEntries(
      out
        .split("\n")
        .filter((l) => l.includes("="))
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
  }

  /** One property of the unit ("" when systemctl does not print it). */
  async prop(name: string): Promise<string> {
    return (await this.show([name]))[name] ?? "";
  }

  /** A position in the journal: pass it to `journalSince` so that only later entries count. */
  async journalCursor(): Promise<string> {
    const out = await this.must(["journalctl", "--no-pager", "-n", "0", "--show-cursor"]);
    return /-- cursor: (\S+)/.exec(out)?.[1] ?? "";
  }

  /** The unit's journal (systemd's lines about it and its processes' output) after `cursor`. */
  async journalSince(cursor: string, args: readonly string[] = ["-o", "cat"]): Promise<string> {
    return this.must(["journalctl", "--no-pager", "-u", UNIT, ...(cursor ? ["--after-cursor", cursor] : []), ...args]);
  }

  /** The last lines of the unit's journal, with times (for failure messages). */
  async journalTail(lines = 80): Promise<string> {
    const r = await this.exec(["journalctl", "--no-pager", "-u", UNIT, "-o", "short-precise", "-n", String(lines)]);
    return r.code === 0 ? r.stdout : `(journalctl failed: ${r.stderr})`;
  }

  async remove(): Promise<void> {
    await proc("podman", ["rm", "-f", "-t", "0", this.name]).catch(() => undefined);
  }
}

/** Starts the container and waits until systemd has booted (running or degraded). */
export const bootSystemd = async (name: string, mounts: readonly BindMount[]): Promise<SystemdHost> => {
  const host = new SystemdHost(name);
  const t0 = performance.now();
  await must("podman", [
    "run",
    "-d",
    "--name",
    name,
    "--label",
    CONTAINER_LABEL,
    "--systemd=always",
    "--network=host",
    "--cap-add",
    "SYS_ADMIN",
    ...mounts.flatMap((m) => ["-v", `${m.source}:${m.target}${m.readOnly ? ":ro" : ""}`]),
    SYSTEMD_IMAGE,
  ]);
  // Until systemd listens, systemctl fails ("Failed to connect to bus"): ask again.
  host.bootState = await waitFor(
    "systemd in the container to finish booting",
    async () => {
      const r = await host.exec(["systemctl", "is-system-running", "--wait"], { timeoutMs: 60_000 });
      const state = r.stdout.trim();
      return state === "running" || state === "degraded" ? state : undefined;
    },
    90_000,
    200,
  );
  host.bootMs = Math.round(performance.now() - t0);
  if (host.bootState === "degraded") host.failedUnits = (await host.systemctl("--failed", "--plain")).stdout;
  return host;
};

// ---- a run: the pod's config, env file and data directory ------------------------------------

export interface SystemdRun extends E2eRun {
  /** The daemon's HTTP port on 127.0.0.1 (the container shares the host's network). */
  readonly httpPort: number;
  /** The systemd container's name: short, unique, and not the pod's (Podman's pod and container names share one namespace). */
  readonly containerName: string;
}

/**
 * createRun's config (unique pod and ports) in a directory under E2E_ROOT, extending the
 * installed config/local.yaml: it is meant for the container (on this host the base is absent).
 */
export const createSystemdRun = async (extraYaml = ""): Promise<SystemdRun> => {
  await mkdir(E2E_ROOT, { recursive: true, mode: 0o755 });
  const httpPort = await freePort();
  const run = await createRun({
    prefix: "pw-e2e-sd",
    parent: E2E_ROOT,
    base: `${INSTALL_PREFIX}/config/local.yaml`,
    envFileAt: UNIT_ENV_FILE,
    extraYaml: [`http: { port: ${httpPort} }`, extraYaml].join("\n"),
  });
  return { ...run, httpPort, containerName: `pw-sd-${run.pod.slice(-6)}` };
};

/** Boots the run's systemd container (see mountsFor for what is mounted). */
export const bootForRun = async (run: SystemdRun, opts: { readonly optPodwarden: boolean }): Promise<SystemdHost> =>
  bootSystemd(run.containerName, await mountsFor(run, opts));

/**
 * What a user provides before installing: the config at the unit's path, the env file (0600),
 * the persist root, and the drop-in the README asks for when pod.persistRoot is not
 * /persist/containers (ReadWritePaths= for it).
 */
export const provideRunFiles = async (host: SystemdHost, run: SystemdRun): Promise<void> => {
  await host.writeFile(UNIT_CONFIG, await readFile(run.config, "utf8"));
  await host.writeFile(UNIT_ENV_FILE, await readFile(run.envFile, "utf8"), 0o600);
  await host.must(["install", "-d", run.persistRoot]);
  await host.writeFile(join(DROPIN_DIR, "10-e2e-persist-root.conf"), `# The run's pod.persistRoot (README: add ReadWritePaths= for another persist root).\n[Service]\nReadWritePaths=${run.persistRoot}\n`);
};

/**
 * The README's "systemd" install, as one step (to be replaced by `podwarden install`):
 * the checkout is bind-mounted at /opt/podwarden (it stands for the README's copy of
 * package.json, dist and config plus `npm ci --omit=dev` there), then the unit file is
 * installed unchanged, systemd reloads, the config validates with the installed podwarden,
 * and the unit is enabled. Starting it is left to the caller (`enable --now` = enable + start),
 * who measures it.
 */
export const installUnitAsReadme = async (host: SystemdHost): Promise<void> => {
  await host.must(["install", "-d", INSTALL_PREFIX, "/etc/podwarden"]);
  await host.must(["install", "-m", "0644", `${INSTALL_PREFIX}/systemd/${UNIT}`, "/etc/systemd/system/"]);
  await host.must(["systemctl", "daemon-reload"]);
  await host.must(["node", `${INSTALL_PREFIX}/dist/cli.js`, "validate", "--config", UNIT_CONFIG]);
  await host.must(["systemctl", "enable", UNIT]);
};

/** Removes the container, then whatever the daemon made on the host's Podman, then the run's directory. */
export const removeSystemdRun = async (run: SystemdRun | undefined): Promise<void> => {
  if (!run) return;
  await new SystemdHost(run.containerName).remove();
  await cleanupRun(run);
  await rmdir(E2E_ROOT).catch(() => undefined); // only when no other run uses it
};

// ---- watching the unit -------------------------------------------------------------------------

/** Polls `systemctl show` until `done` holds for the properties; returns them. */
export const waitForUnit = (
  host: SystemdHost,
  what: string,
  props: readonly string[],
  done: (p: Record<string, string>) => boolean,
  timeoutMs = 60_000,
): Promise<Record<string, string>> =>
  waitFor(
    what,
    async () => {
      const p = await host.show(props);
      return done(p) ? p : undefined;
    },
    timeoutMs,
    100,
  );

/**
 * Runs `fn`; if it throws, the unit's journal tail is added to the error's message, so a
 * failed check shows what systemd and the daemon said.
 */
export const withJournal = async (host: SystemdHost | undefined, fn: () => Promise<void>): Promise<void> => {
  try {
    await fn();
  } catch (err) {
    if (host && err instanceof Error) err.message += `\n--- journalctl -u ${UNIT} (last lines) ---\n${await host.journalTail()}`;
    throw err;
  }
};

/** The daemon's /status, fetched from the host. */
export interface PodStatus {
  readonly status: string;
  readonly pod: { readonly name: string; readonly containersReady: number; readonly containersTotal: number };
  readonly containers: Record<string, { readonly ready: boolean; readonly state: string }>;
}

export const podStatus = async (httpPort: number): Promise<PodStatus> => {
  const res = await fetch(`http://127.0.0.1:${httpPort}/status`);
  return (await res.json()) as PodStatus;
};

// ---- what both systemd e2e files share -------------------------------------------------------

export const CHAIN = ["valkey", "falkordb", "datadog", "opencode"] as const;

/** One run, its systemd container, and checks whose failure messages end with the unit's journal. */
export class SystemdSuite {
  run: SystemdRun | undefined;
  host: SystemdHost | undefined;
  image: { built: boolean; ms: number } | undefined;

  get r(): SystemdRun {
    if (!this.run) throw new Error("no run (see beforeAll)");
    return this.run;
  }

  get sd(): SystemdHost {
    if (!this.host) throw new Error("the systemd container did not start (see beforeAll)");
    return this.host;
  }

  /** The run, the images, systemd booted, and the files a user provides (provideRunFiles). */
  async setUp(opts: { readonly optPodwarden: boolean }): Promise<void> {
    this.run = await createSystemdRun();
    await ensureImages(LOCAL_CONFIG);
    this.image = await ensureSystemdImage();
    this.host = await bootForRun(this.run, opts);
    await provideRunFiles(this.host, this.run);
  }

  tearDown(): Promise<void> {
    return removeSystemdRun(this.run);
  }

  /** An `it` whose failure message ends with the unit's journal. */
  check(name: string, fn: () => Promise<void>, timeoutMs = 120_000): void {
    it(name, () => withJournal(this.host, fn), timeoutMs);
  }

  /** Id, StartedAt and state of each container on the host's Podman. */
  ids(): Promise<Record<string, ContainerIdentity>> {
    return identities(this.r.pod, CHAIN);
  }

  /** Everything the daemon's /status and the host's Podman say about a ready pod. */
  async expectPodReady(): Promise<void> {
    const status = await podStatus(this.r.httpPort);
    expect(status.status).toBe("pass");
    expect(status.pod).toMatchObject({ name: this.r.pod, containersReady: 4, containersTotal: 4 });
    for (const c of CHAIN) {
      expect(status.containers[c]?.ready, `${c} ready in /status`).toBe(true);
      expect((await inspect(`${this.r.pod}-${c}`)).State.Running, `${c} running on the host's Podman`).toBe(true);
    }
  }
}
