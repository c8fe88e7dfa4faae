// The host checks behind `podwarden doctor`, `up` and `run`: the Podman socket, a pod made and
// started (OCI runtime, pause image, network, rlimits, cgroups), the config and its env file,
// persistRoot, the published host ports and the images. Each says what it found and, when
// something is wrong, the fix. Podman through the runtime port, the host through HostFacts.
//
// The pod that tests the runtime is a throwaway one for doctor, and for a pod that exists but
// does not run. For `up` and `run` with no pod yet it is the real pod: making it and starting
// its infra is the start's own first step, so the check costs the start nothing. It is removed
// again when it fails or another check blocks: a held start leaves no pod behind.

import { randomBytes } from "node:crypto";
import { classifyHostError } from "../domain/host-problems.js";
import type { PodCreateRequest } from "../domain/create-request.js";
import type { ObservedPod } from "../domain/observed.js";
import type { PodSpec } from "../domain/spec.js";
import { ConfigError, errorMessage } from "../lib/errors.js";
import { imageOutdated } from "../runtime/ensure-image.js";
import type { ContainerRuntime } from "../runtime/port.js";
import type { HostFacts, PortHolder, PortQuery } from "./host-facts.js";
import { portKey } from "./host-facts.js";
import { blockingErrors, type Check } from "./report.js";

/** Label of the throwaway pods the runtime check creates (and removes). */
export const DOCTOR_LABEL = "io.podwarden.doctor";

/** A unique name for the throwaway pod. */
export const probePodName = (): string => `podwarden-doctor-${randomBytes(4).toString("hex")}`;

/** Less free space than this under persistRoot is worth a warning. */
export const LOW_SPACE_BYTES = 1024 ** 3;

export interface LoadedView {
  readonly spec: PodSpec;
  /** How many keys the env file holds (never their values). */
  readonly secretCount: number;
  readonly warnings: readonly string[];
}

export interface CheckInput {
  /** The socket path (for messages). */
  readonly socket: string;
  /** Undefined when no socket could be found: then `socketError` says why. */
  readonly runtime: ContainerRuntime | undefined;
  readonly socketError?: unknown;
  /** The loaded config, or why it could not be loaded. */
  readonly config: LoadedView | { readonly error: unknown };
  readonly facts: HostFacts;
  /** always (doctor), or unless-running (up, run: a running pod already proves what the throwaway pod would). */
  readonly probe: "always" | "unless-running";
  /** Also ask Podman for its host facts (runtime, network backend, cgroups) for the socket line. */
  readonly info: boolean;
  /** Name of the throwaway pod (unique per run). */
  readonly probeName: string;
  /**
   * When given, the removal of a throwaway pod that started is handed here instead of made and
   * waited for (about 250 ms of `up`'s and `run`'s start): the verdict is known once it has
   * started. Whoever takes it removes it later (doctor/removals.ts). doctor waits itself.
   */
  readonly removeLater?: (remove: () => Promise<void>) => void;
  /**
   * `up` and `run`: the real pod's create request. When that pod does not exist, the runtime
   * check makes it from this and starts its infra, instead of a throwaway pod.
   */
  readonly realPod?: PodCreateRequest;
  /** Podman's answer to a ping the caller has already sent (`up` sends it beside taking the pod's lock). */
  readonly pinged?: Promise<{ readonly version: string }>;
  /** The pod as the caller has already read it (`up`, beside taking the pod's lock: reading changes nothing). */
  readonly podNow?: Promise<ObservedPod | null>;
  /**
   * `up` and `run`: called when the real pod is made, while its infra starts, with whether every
   * other check passed. The first container to start is created meanwhile; the promise settles
   * once it is, and a pod whose infra then fails is removed only after that.
   */
  readonly createAhead?: (othersPassed: Promise<boolean>) => Promise<void>;
}

const START_PODMAN = "start the Podman API service (systemctl enable --now podman.socket, or bash .ci/setup-host.sh), or pass --socket";

const socketCheck = async (input: CheckInput): Promise<Check> => {
  const { runtime, socket } = input;
  if (!runtime) return { name: "socket", status: "error", kind: "podman", detail: errorMessage(input.socketError), fix: START_PODMAN };
  let version: string;
  try {
    version = (await (input.pinged ?? runtime.ping())).version;
  } catch (err) {
    const cause = (err as Error).cause;
    return { name: "socket", status: "error", kind: "podman", detail: `Podman API at ${socket} does not answer (${errorMessage(cause ?? err)})`, fix: START_PODMAN };
  }
  if (!input.info) return { name: "socket", status: "ok", detail: `Podman ${version} answers at ${socket}` };
  try {
    const i = await runtime.hostInfo();
    const facts = `runtime ${i.ociRuntime.name} ${i.ociRuntime.version}, network ${i.networkBackend}, cgroups ${i.cgroupVersion} (${i.cgroupManager}), storage ${i.graphDriver}${i.rootless ? ", rootless" : ""}`;
    return { name: "socket", status: "ok", detail: `Podman ${i.version} answers at ${socket}: ${facts}` };
  } catch (err) {
    return { name: "socket", status: "warn", detail: `Podman ${version} answers at ${socket}, but /libpod/info failed: ${errorMessage(err)}`, fix: "read the Podman service's log" };
  }
};

/** The error of a pod that failed to start (`which`: "a throwaway pod", "pod NAME"), as a check: a known cause with its fix, or Podman's words. */
export const runtimeFailure = (message: string, which = "a throwaway pod"): Check => {
  const cause = classifyHostError(message);
  if (cause) {
    return { name: "runtime", status: "error", blocking: true, cause: cause.cause, detail: `${cause.cause}: ${cause.why} (Podman: ${message})`, fix: cause.fix };
  }
  return { name: "runtime", status: "error", detail: `${which} failed: ${message}`, fix: "read the Podman service's log (journalctl -u podman, or its stderr)" };
};

const seconds = (since: number): string => ((performance.now() - since) / 1000).toFixed(1);

/** Removes a pod a check made; the error if that failed, undefined if it went. */
const removeOrError = (runtime: ContainerRuntime, name: string): Promise<unknown> =>
  runtime.removePod(name).then(
    () => undefined,
    (err: unknown) => err,
  );

/**
 * The real pod made and its infra started, as the runtime check; removed again when that fails.
 * A port taken in the moment since the ports were looked at names its holder. `made`: the create is done.
 */
const realPodCheck = async (runtime: ContainerRuntime, facts: HostFacts, req: PodCreateRequest, made: () => void, ahead?: () => Promise<void>): Promise<Check> => {
  const started = performance.now();
  let created: Promise<void> | undefined;
  try {
    await runtime.createPod(req).finally(made);
    created = ahead?.();
    await runtime.startPod(req.name);
  } catch (err) {
    // What was created meanwhile goes with the pod: removed once those creates are done.
    await created;
    const message = errorMessage(err);
    const port = classifyHostError(message)?.port;
    const held = port === undefined ? undefined : await describePortHolders(facts, port);
    const said = runtimeFailure(message, `pod ${req.name}`);
    const failure = held === undefined ? said : { ...said, detail: `${said.cause ?? said.detail}, held by ${held} (Podman: ${message})` };
    const leftover = await removeOrError(runtime, req.name);
    if (leftover === undefined) return failure;
    return { ...failure, detail: `${failure.detail}; removing it failed too (${errorMessage(leftover)}): podman pod rm -f ${req.name}` };
  }
  return { name: "runtime", status: "ok", detail: `pod ${req.name} made and its infra started (pause image, OCI runtime, ports published) in ${seconds(started)} s` };
};

/**
 * A pod made, started and removed through the API: what the real pod needs first (the pause
 * image, the OCI runtime with its rlimits and cgroups, the network backend publishing a port).
 */
const probePod = async (runtime: ContainerRuntime, facts: HostFacts, name: string, removeLater?: (remove: () => Promise<void>) => void): Promise<Check> => {
  const port = await facts.freePort();
  const started = performance.now();
  let failure: unknown;
  try {
    await runtime.createPod({ name, labels: { [DOCTOR_LABEL]: "true" }, ports: [{ host: port, container: port, protocol: "tcp" }] });
    await runtime.startPod(name);
  } catch (err) {
    failure = err;
  }
  if (failure === undefined && removeLater) {
    removeLater(() =>
      runtime.removePod(name).catch((err: unknown) => Promise.reject(new Error(`the throwaway pod ${name} was not removed (${errorMessage(err)}): podman pod rm -f ${name}`))),
    );
    return { name: "runtime", status: "ok", detail: `throwaway pod ${name} (pause image, OCI runtime, port ${port} published) started in ${seconds(started)} s` };
  }
  const leftover = await removeOrError(runtime, name);
  if (failure !== undefined) return runtimeFailure(errorMessage(failure));
  const s = seconds(started);
  if (leftover !== undefined) {
    return { name: "runtime", status: "warn", detail: `a throwaway pod started, but removing it failed: ${errorMessage(leftover)}`, fix: `podman pod rm -f ${name}` };
  }
  return { name: "runtime", status: "ok", detail: `throwaway pod ${name} (pause image, OCI runtime, port ${port} published) started and was removed in ${s} s` };
};

/**
 * The runtime check, and whether it made the real pod (`pod`: as observed; null: there is none;
 * undefined: unknown). `made` is called once the real pod's create is done, or at once.
 */
const runtimeCheck = async (
  input: CheckInput,
  pod: { name: string; state: string } | null | undefined,
  made: () => void,
  ahead?: () => Promise<void>,
): Promise<{ check: Check; madePod?: string }> => {
  const real = input.probe === "unless-running" && pod === null ? input.realPod : undefined;
  if (real) {
    const check = await realPodCheck(input.runtime!, input.facts, real, made, ahead);
    return check.status === "ok" ? { check, madePod: real.name } : { check };
  }
  made();
  if (input.probe === "unless-running" && pod?.state.toLowerCase() === "running") {
    return { check: { name: "runtime", status: "ok", detail: `pod ${pod.name} is running: its infra, runtime and network work (no throwaway pod needed)` } };
  }
  return { check: await probePod(input.runtime!, input.facts, input.probeName, input.removeLater) };
};

/** The loader's own env-file mode warning: the env-file line says it, with the fix. */
const MODE_WARNING = /accessible by group or others/;

const configChecks = (config: CheckInput["config"]): Check[] => {
  if ("error" in config) {
    const fix = "correct it (podwarden validate lists every problem)";
    if (config.error instanceof ConfigError) {
      return config.error.issues.map((i) => ({ name: "config", status: "error", kind: "config", detail: `${i.file}: ${i.path || "(root)"}: ${i.message}`, fix }));
    }
    return [{ name: "config", status: "error", kind: "config", detail: errorMessage(config.error), fix }];
  }
  const { spec, warnings } = config;
  return [
    { name: "config", status: "ok", detail: `${spec.source}: valid, pod ${spec.name}, ${spec.containers.length} containers` },
    ...warnings.filter((w) => !MODE_WARNING.test(w)).map((w): Check => ({ name: "config", status: "warn", detail: w })),
  ];
};

const envFileCheck = async (config: LoadedView, facts: HostFacts): Promise<Check> => {
  const file = config.spec.envFile;
  const mode = (await facts.fileMode(file)) ?? 0;
  const octal = (mode & 0o777).toString(8).padStart(4, "0");
  const keys = `${config.secretCount} ${config.secretCount === 1 ? "key" : "keys"}`;
  if ((mode & 0o077) !== 0) {
    return { name: "env-file", status: "warn", detail: `${file}: ${keys}, mode ${octal}: group or others can read the secrets`, fix: `chmod 600 ${file}` };
  }
  return { name: "env-file", status: "ok", detail: `${file}: ${keys}, mode ${octal}` };
};

const underTmp = (path: string): boolean => /^\/(?:var\/)?tmp(?:\/|$)/.test(path);

const gib = (bytes: number): string => `${(bytes / 1024 ** 3).toFixed(1)} GiB`;

const MOVE_OUT_OF_TMP = "set pod.persistRoot outside /tmp and /var/tmp (e.g. /persist/containers)";

const persistRootChecks = async (spec: PodSpec, facts: HostFacts): Promise<Check[]> => {
  const root = spec.persistRoot;
  const [p, unit] = await Promise.all([facts.path(root), facts.unitTmp()]);
  const problems: Check[] = [];
  const name = "persist-root";
  if (underTmp(root) && unit.hidden) {
    problems.push({
      name,
      status: "error",
      kind: "config",
      field: "pod.persistRoot",
      blocking: true,
      cause: "pod.persistRoot under /tmp is hidden by the unit's PrivateTmp",
      detail:
        `${root} is under /tmp or /var/tmp and this runs in a systemd unit with a private /tmp (PrivateTmp=yes): ` +
        "Podman resolves bind-mount sources outside the unit and would fail `statfs ...: no such file or directory` at every start",
      fix: MOVE_OUT_OF_TMP,
    });
  } else if (underTmp(root)) {
    problems.push({
      name,
      status: "warn",
      detail: `${root} is under /tmp or /var/tmp: fine from a shell, but the shipped systemd unit (PrivateTmp=yes) hides it from Podman, and temporary-file cleaners may delete it`,
      fix: MOVE_OUT_OF_TMP,
    });
  }
  const free = p.freeBytes === undefined ? "" : `, ${gib(p.freeBytes)} free`;
  if (p.exists && !p.isDirectory) {
    problems.push({ name, status: "error", blocking: true, detail: `${root} exists but is not a directory`, fix: "remove that file, or point pod.persistRoot at a directory" });
  } else if (p.exists && !p.writable) {
    problems.push({ name, status: "error", blocking: true, detail: `${root} is not writable`, fix: "make it writable for this user (is the file system read-only?), or move pod.persistRoot" });
  } else if (!p.exists && !(p.ancestor?.isDirectory && p.ancestor.writable)) {
    const where = p.ancestor ? `${p.ancestor.path} is ${p.ancestor.isDirectory ? "not writable" : "not a directory"}` : "no ancestor exists";
    problems.push({ name, status: "error", blocking: true, detail: `${root} does not exist and cannot be created (${where})`, fix: `create it (install -d -m 0750 ${root}) or move pod.persistRoot` });
  }
  if (p.freeBytes !== undefined && p.freeBytes < LOW_SPACE_BYTES) {
    problems.push({ name, status: "warn", detail: `${root}: only ${gib(p.freeBytes)} free`, fix: "free space there, or move pod.persistRoot to a larger file system" });
  }
  if (problems.length > 0) return problems;
  return [{ name, status: "ok", detail: p.exists ? `${root}: writable directory${free}` : `${root}: will be created under ${p.ancestor!.path} (writable${free})` }];
};

const describeHolder = (h: PortHolder): string => (h.pid === undefined ? "a process podwarden cannot see" : `pid ${h.pid} (${h.argv.join(" ").slice(0, 120) || "?"})`);

/**
 * Who holds `port` now, for a message: "pid 1234 (python3 -m http.server 4096)", or what is known
 * when nobody visible does.
 */
export const describePortHolders = async (facts: HostFacts, port: PortQuery): Promise<string> => {
  const held = (await facts.portHolders([port])).get(portKey(port)) ?? [];
  return held.length === 0 ? "a process that no longer holds it, or one outside this host's view" : held.map(describeHolder).join(", ");
};

/** Our pod's conmon holds its published ports while it runs (`conmon ... -n <pod id[:12]>-infra`). */
const isConmon = (h: PortHolder): boolean => /(^|\/)conmon$/.test(h.argv[0] ?? "");

export const isOwnConmon = (h: PortHolder, podId: string | undefined): boolean => {
  if (podId === undefined || !isConmon(h)) return false;
  const n = h.argv.indexOf("-n");
  return n >= 0 && h.argv[n + 1] === `${podId.slice(0, 12)}-infra`;
};

/** `podId`: the pod's id when it exists; `podmanAnswers`: false when that cannot be known. */
type Holders = ReadonlyMap<string, readonly PortHolder[]>;

const portHolders = (spec: PodSpec, facts: HostFacts): Promise<Holders> => facts.portHolders(spec.ports.map((p) => ({ port: p.host, protocol: p.protocol })));

/** `holders`: who held the ports when looked at (before a pod made here holds them). */
const portChecks = (spec: PodSpec, holders: Holders, podId: string | undefined, podmanAnswers: boolean): Check[] =>
  spec.ports.map((p): Check => {
    const key = portKey({ port: p.host, protocol: p.protocol });
    const name = `port ${p.host}${p.protocol === "udp" ? "/udp" : ""}`;
    const held = holders.get(key) ?? [];
    const others = held.filter((h) => !isOwnConmon(h, podId));
    if (held.length === 0) return { name, status: "ok", detail: "free" };
    if (others.length === 0) return { name, status: "ok", detail: `held by pod ${spec.name}'s own conmon (pid ${held.map((h) => h.pid).join(", ")})` };
    if (podId !== undefined && others.every((h) => h.pid === undefined)) {
      // Held by a process outside this PID namespace (podwarden in a container, or hidepid=):
      // the pod exists and publishes this port, so its conmon is the likely holder.
      return { name, status: "ok", detail: `held by a process podwarden cannot see; pod ${spec.name} exists and publishes this port` };
    }
    if (!podmanAnswers && others.every((h) => isConmon(h))) {
      // Podman does not answer: a container's conmon, perhaps this pod's, but that cannot be told.
      return { name, status: "warn", detail: `held by ${others.map(describeHolder).join(", ")}: a Podman container's; which pod cannot be told now`, fix: "podman ps, once Podman answers" };
    }
    return {
      name,
      status: "error",
      blocking: true,
      cause: `host port ${p.host} is taken`,
      detail: `held by ${others.map(describeHolder).join(", ")}`,
      fix: `stop that process, or publish another host port (pod.ports: "HOST:${p.container}")`,
    };
  });

const shortId = (id: string): string => id.replace(/^sha256:/, "").slice(0, 12);

/** How a missing image would be had: bootstrapped, built (base first) or pulled. The detail leaves out the ref. */
const obtainable = async (ref: string, spec: PodSpec, runtime: ContainerRuntime, facts: HostFacts): Promise<Omit<Check, "name">> => {
  const declared = spec.images[ref];
  if (!declared) {
    return {
      status: "warn",
      detail: "missing, will be pulled from its registry (doctor does not contact registries)",
      fix: "make sure the registry is reachable from this host, or pull it ahead of time (podwarden images)",
    };
  }
  if (declared.debootstrap) {
    const bin = await facts.which("debootstrap");
    if (!bin) return { status: "error", blocking: true, cause: "debootstrap missing", detail: "missing, and debootstrap (which makes it) is not installed", fix: "apt-get install debootstrap" };
    return { status: "ok", detail: `missing, will be bootstrapped with ${bin} (${declared.debootstrap.suite})` };
  }
  const built = `missing, will be built from ${declared.build?.containerfile}`;
  const from = declared.from;
  if (from === undefined || (await runtime.imageExists(from))) return { status: "ok", detail: built };
  const base = await obtainable(from, spec, runtime, facts);
  return { ...base, detail: `${built}; its base ${from}: ${base.detail}` };
};

const imageChecks = async (spec: PodSpec, runtime: ContainerRuntime, facts: HostFacts): Promise<Check[]> => {
  const refs = [...new Set(spec.containers.map((c) => c.image))];
  return Promise.all(
    refs.map(async (ref): Promise<Check> => {
      try {
        const id = await runtime.imageId(ref);
        if (id !== undefined) {
          // Its recipe too (and its bases'): the start's own readying then finds these answers at hand.
          const stale = spec.images[ref] !== undefined && (await imageOutdated(ref, spec.images, runtime));
          const rebuilt = stale ? "; its Containerfile, context, build args or base changed: it is rebuilt before its container is made" : "";
          return { name: "image", status: "ok", detail: `${ref}: present (${shortId(id)})${rebuilt}` };
        }
        const how = await obtainable(ref, spec, runtime, facts);
        return { name: "image", ...how, detail: `${ref}: ${how.detail}` };
      } catch (err) {
        return { name: "image", status: "warn", detail: `${ref}: cannot tell (${errorMessage(err)})`, fix: "read the Podman service's log" };
      }
    }),
  );
};

/** Every check, in the order a person reads them. Checks that need Podman are left out when it does not answer. */
export const runChecks = async (input: CheckInput): Promise<Check[]> => {
  const config = "spec" in input.config ? input.config : undefined;
  // The ports are looked at first (beside the socket check): before a pod made here holds them.
  const holders = config ? portHolders(config.spec, input.facts) : undefined;
  const socket = await socketCheck(input);
  const runtime = socket.status === "error" ? undefined : input.runtime;
  const podNow = input.podNow ?? (runtime && config ? runtime.observe(config.spec.name).then((o) => o.pod) : undefined);
  const pod = runtime && podNow ? await podNow.catch(() => undefined) : undefined;
  const ports = config ? portChecks(config.spec, await holders!, pod?.id, runtime !== undefined) : [];
  // Image inspects slow a pod's create down (about 15 ms): they wait for it, beside its infra's start.
  let made!: () => void;
  const podMade = new Promise<void>((resolve) => (made = resolve));
  const others = [
    config ? envFileCheck(config, input.facts).then((c) => [c]) : [],
    config ? persistRootChecks(config.spec, input.facts) : [],
    config && runtime ? podMade.then(() => imageChecks(config.spec, runtime, input.facts)) : [],
  ] as const;
  // Whether every check but the runtime one passed: what creating ahead waits for.
  const othersPassed = Promise.all(others).then(
    (done) => blockingErrors([...configChecks(input.config), ...ports, ...done.flat()]).length === 0,
    () => false,
  );
  const ahead = input.createAhead && (() => input.createAhead!(othersPassed));
  const [probe, envFile, persist, images] = await Promise.all([runtime ? runtimeCheck(input, pod, made, ahead) : (made(), undefined), ...others]);
  const checks = [socket, ...(probe ? [probe.check] : []), ...configChecks(input.config), ...envFile, ...persist, ...ports, ...images];
  // The real pod made as the runtime check goes again when the start is held: nothing half-done.
  if (probe?.madePod !== undefined && blockingErrors(checks).length > 0) await input.runtime!.removePod(probe.madePod).catch(() => undefined);
  return checks;
};
