// PodmanRuntime: the ContainerRuntime port over the Podman API socket. Compat endpoints
// through dockerode, libpod endpoints (pods, secrets, healthcheck, import) through Libpod.

import Docker from "dockerode";
import { existsSync, watch as watchDir } from "node:fs";
import { mkdir, stat } from "node:fs/promises";
import { request } from "node:http";
import { join } from "node:path";
import { SECRET_ENV_TARGET, wrapWithSecretEnv, type ContainerCreateRequest, type PodCreateRequest } from "../domain/create-request.js";
import type { Observed, ObservedContainer, ObservedPod } from "../domain/observed.js";
import { LABELS, type DebootstrapSpec, type ImageBuildSpec } from "../domain/spec.js";
import { PodmanApiError, PodmanUnavailableError, PodwardenError } from "../lib/errors.js";
import { bootstrapRootfs, hashBuildInputs, packContext, streamProgress } from "./images.js";
import { LIBPOD, Libpod, wrapError } from "./libpod.js";
import { mapInspect, normalizeImageId, type InspectJson } from "./map-inspect.js";
import { createInterface } from "node:readline";
import { PassThrough, type Readable } from "node:stream";
import { mapEvent, type EventJson } from "./map-event.js";
import { RECIPE_LABEL, type ApiOperation, type ContainerRuntime, type HealthcheckResult, type HostInfo, type Progress, type RuntimeEvent } from "./port.js";

const NS_PER_MS = 1_000_000;

export interface ImageArgv {
  readonly entrypoint: readonly string[] | null;
  readonly cmd: readonly string[] | null;
}

/** What the container would run: the spec's entrypoint/command over the image's (Docker semantics). */
export const effectiveArgv = (req: ContainerCreateRequest, image: ImageArgv): string[] =>
  req.entrypoint
    ? [...req.entrypoint, ...(req.command ?? [])]
    : [...(image.entrypoint ?? []), ...(req.command ?? image.cmd ?? [])];

/** Owner of the secret file: the container's numeric user, else root. */
const secretOwner = (user: string | undefined): { UID: number; GID: number } => {
  const [uid, gid] = (user ?? "").split(":");
  const num = (v: string | undefined): number => (v !== undefined && /^\d+$/.test(v) ? Number(v) : 0);
  return { UID: num(uid), GID: num(gid ?? uid) };
};

/**
 * Translates the runtime-neutral create request into libpod's SpecGenerator JSON.
 * `imageArgv` is needed only when the request has a secret file (its command is wrapped).
 */
export const toSpecGenerator = (
  req: ContainerCreateRequest,
  presentMounts: ContainerCreateRequest["mounts"],
  imageArgv?: ImageArgv,
): Record<string, unknown> => ({
  name: req.name,
  pod: req.pod,
  image: req.image,
  ...(req.secretFile
    ? {
        ...wrapWithSecretEnv(effectiveArgv(req, imageArgv ?? { entrypoint: null, cmd: null })),
        secrets: [{ Source: req.secretFile.secret, Target: SECRET_ENV_TARGET, Mode: 0o400, ...secretOwner(req.user) }],
      }
    : {
        ...(req.command ? { command: req.command } : {}),
        ...(req.entrypoint ? { entrypoint: req.entrypoint } : {}),
      }),
  env: req.env,
  labels: req.labels,
  restart_policy: "no",
  stop_timeout: req.stopTimeoutS,
  ...(req.workdir ? { work_dir: req.workdir } : {}),
  ...(req.user ? { user: req.user } : {}),
  mounts: presentMounts.map((m) => ({
    type: "bind",
    source: m.source,
    destination: m.target,
    options: ["rbind", m.readOnly ? "ro" : "rw"],
  })),
  ...(req.healthcheck
    ? {
        healthconfig: {
          Test: ["CMD", ...req.healthcheck.command],
          // Podman's own timer never fires here: podwarden runs the check on demand.
          Interval: 0,
          Timeout: req.healthcheck.timeoutMs * NS_PER_MS,
          Retries: 1,
          StartPeriod: 0,
        },
      }
    : {}),
});

interface PodInspect {
  Id: string;
  Name: string;
  State: string;
  Labels?: Record<string, string> | null;
  InfraContainerID?: string;
}

interface InfoJson {
  host?: {
    ociRuntime?: { name?: string; version?: string };
    networkBackend?: string;
    cgroupVersion?: string;
    cgroupManager?: string;
    security?: { rootless?: boolean };
  };
  store?: { graphRoot?: string; graphDriverName?: string };
  version?: { Version?: string };
}

/** GET /libpod/info -> HostInfo (Podman 4 field names; anything absent reads "unknown"). */
export const mapInfo = (j: InfoJson): HostInfo => ({
  version: j.version?.Version ?? "unknown",
  ociRuntime: {
    name: j.host?.ociRuntime?.name ?? "unknown",
    // "runc version 1.1.5+ds1\ncommit: ..." -> "1.1.5+ds1"
    version: (j.host?.ociRuntime?.version ?? "").split("\n")[0]?.replace(/^.*\bversion\s+/, "").trim() || "unknown",
  },
  networkBackend: j.host?.networkBackend ?? "unknown",
  cgroupVersion: j.host?.cgroupVersion ?? "unknown",
  cgroupManager: j.host?.cgroupManager ?? "unknown",
  rootless: j.host?.security?.rootless === true,
  graphRoot: j.store?.graphRoot ?? "unknown",
  graphDriver: j.store?.graphDriverName ?? "unknown",
});

/** Pod start answers 409/500 with {"Errs": [...]}: the per-container errors say what went wrong. */
interface PodStartJson {
  Errs?: string[] | null;
}

interface SecretInfo {
  ID: string;
  Spec: { Name: string };
}

interface HealthcheckJson {
  Status?: string;
  Log?: { ExitCode?: number; Output?: string }[] | null;
}

/**
 * The Podman version from GET /_ping's headers. Not /version: Podman gathers host details
 * for it (0.4-0.6 s per call here), which `up`, `down`, `images` and `logs` paid before
 * doing anything.
 */
const pingVersion = (socketPath: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const req = request({ socketPath, path: "/_ping", method: "GET", timeout: 30_000 }, (res) => {
      res.resume();
      if (res.statusCode !== 200) return reject(Object.assign(new Error(`HTTP ${res.statusCode ?? "?"}`), { statusCode: res.statusCode }));
      const header = res.headers["libpod-api-version"] ?? res.headers.server;
      resolve(typeof header === "string" ? header.replace(/^Libpod\/(\S+).*$/, "$1") : "unknown");
    });
    req.on("timeout", () => req.destroy(new Error("no answer from /_ping within 30 s")));
    req.on("error", reject);
    req.end();
  });

const exists = async (path: string): Promise<boolean> => {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
};

/**
 * Where conmon writes a container's exit code the moment its main process ends (rootful
 * Podman's default tmp_dir). Podman's own "died" event comes later: the cleanup process
 * conmon starts writes it to the events file, which the API service polls every 250 ms.
 */
export const CONMON_EXIT_DIR = "/run/libpod/exits";

export interface PodmanRuntimeOptions {
  readonly socketPath: string;
  /** conmon's exit directory (default CONMON_EXIT_DIR); watch() skips it when it cannot be watched. */
  readonly exitDir?: string;
  /** Host CA bundle added to build contexts that ask for it (see Dockerfile.opencode). */
  readonly hostCaBundle?: string;
  /** Records each API call's operation, duration and outcome (metrics). */
  readonly onApiCall?: (operation: ApiOperation, ms: number, ok: boolean) => void;
}

export class PodmanRuntime implements ContainerRuntime {
  readonly #docker: Docker;
  readonly #libpod: Libpod;
  readonly #opts: PodmanRuntimeOptions;
  /** Per pod, the ids seen by the last observe() and their logical names (for the exit directory). */
  readonly #ids = new Map<string, ReadonlyMap<string, string>>();

  constructor(opts: PodmanRuntimeOptions) {
    this.#opts = opts;
    this.#docker = new Docker({ socketPath: opts.socketPath });
    this.#libpod = new Libpod(this.#docker.modem);
  }

  async #call<T>(operation: ApiOperation, f: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      const result = await f();
      this.#opts.onApiCall?.(operation, performance.now() - started, true);
      return result;
    } catch (err) {
      this.#opts.onApiCall?.(operation, performance.now() - started, false);
      throw wrapError(operation, err);
    }
  }

  async ping(): Promise<{ version: string }> {
    try {
      return { version: await this.#call("version", () => pingVersion(this.#opts.socketPath)) };
    } catch (err) {
      throw new PodmanUnavailableError(
        `Podman API at ${this.#opts.socketPath} did not answer (${(err as Error).message}); ` +
          "is the service running? `systemctl enable --now podman.socket`, or pass --socket",
        err,
      );
    }
  }

  async hostInfo(): Promise<HostInfo> {
    return mapInfo(await this.#call("info", () => this.#libpod.dial<InfoJson>("info", { method: "GET", path: `${LIBPOD}/info`, ok: [200] })));
  }

  async observe(pod: string): Promise<Observed> {
    const podInfo = await this.#inspectPod(pod);
    const list = await this.#call("container.list", () =>
      this.#docker.listContainers({ all: true, filters: { label: [`${LABELS.managed}=true`, `${LABELS.pod}=${pod}`] } }),
    );
    const containers = new Map<string, ObservedContainer>();
    const inspected = await Promise.all(list.map((c) => this.#inspect(c.Id)));
    for (const o of inspected) if (o && o.name) containers.set(o.name, o);
    this.#ids.set(pod, new Map([...containers.values()].map((o) => [o.id, o.name])));
    return { pod: podInfo, containers };
  }

  async #inspect(id: string): Promise<ObservedContainer | null> {
    try {
      const json = await this.#call("container.inspect", () =>
        this.#libpod.dial<InspectJson>("container.inspect", { method: "GET", path: `${LIBPOD}/containers/${id}/json`, ok: [200] }),
      );
      return mapInspect(json);
    } catch (err) {
      if (err instanceof PodmanApiError && err.status === 404) return null; // removed between list and inspect
      throw err;
    }
  }

  async #inspectPod(name: string): Promise<ObservedPod | null> {
    try {
      const p = await this.#call("pod.inspect", () =>
        this.#libpod.dial<PodInspect>("pod.inspect", { method: "GET", path: `${LIBPOD}/pods/${encodeURIComponent(name)}/json`, ok: [200] }),
      );
      return { id: p.Id, name: p.Name, state: p.State, managed: p.Labels?.[LABELS.managed] === "true", specHash: p.Labels?.[LABELS.specHash] };
    } catch (err) {
      if (err instanceof PodmanApiError && err.status === 404) return null;
      throw err;
    }
  }

  async createPod(req: PodCreateRequest): Promise<void> {
    await this.#call("pod.create", () =>
      this.#libpod.dial("pod.create", {
        method: "POST",
        path: `${LIBPOD}/pods/create`,
        body: {
          name: req.name,
          labels: req.labels,
          portmappings: req.ports.map((p) => ({ host_port: p.host, container_port: p.container, protocol: p.protocol })),
          ...(req.dns ? { dns_server: req.dns } : {}),
        },
        ok: [200, 201],
      }),
    );
  }

  async startPod(name: string): Promise<void> {
    try {
      await this.#call("pod.start", () =>
        this.#libpod.dial("pod.start", { method: "POST", path: `${LIBPOD}/pods/${encodeURIComponent(name)}/start`, ok: [200, 304] }),
      );
    } catch (err) {
      const errs = podStartErrors(err);
      if (errs.length > 0 && err instanceof PodmanApiError) throw new PodmanApiError("pod.start", errs.join("; "), err.status, err);
      throw err;
    }
  }

  async removePod(name: string): Promise<void> {
    try {
      await this.#call("pod.remove", () =>
        this.#libpod.dial("pod.remove", { method: "DELETE", path: `${LIBPOD}/pods/${encodeURIComponent(name)}`, query: { force: true, timeout: 10 }, ok: [200, 204] }),
      );
    } catch (err) {
      if (err instanceof PodmanApiError && err.status === 404) return;
      throw err;
    }
  }

  async imageExists(ref: string): Promise<boolean> {
    try {
      await this.#call("image.exists", () =>
        this.#libpod.dial("image.exists", { method: "GET", path: `${LIBPOD}/images/${encodeURIComponent(ref)}/exists`, ok: [200, 204] }),
      );
      return true;
    } catch (err) {
      if (err instanceof PodmanApiError && err.status === 404) return false;
      throw err;
    }
  }

  async pullImage(ref: string, progress: Progress, signal?: AbortSignal): Promise<void> {
    const stream = await this.#call("image.pull", () => this.#docker.pull(ref, signal ? { abortSignal: signal } : {}));
    await streamProgress(stream, progress, `pull ${ref}`);
  }

  async #inspectImage(ref: string): Promise<Docker.ImageInspectInfo | undefined> {
    try {
      return await this.#call("image.inspect", () => this.#docker.getImage(ref).inspect());
    } catch (err) {
      if (err instanceof PodmanApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  async imageRecipe(ref: string): Promise<string | undefined> {
    const info = await this.#inspectImage(ref);
    return info && (info.Config?.Labels?.[RECIPE_LABEL] ?? "");
  }

  async imageId(ref: string): Promise<string | undefined> {
    const info = await this.#inspectImage(ref);
    return info && normalizeImageId(info.Id);
  }

  async tagImage(image: string, repo: string, tag: string): Promise<void> {
    await this.#call("image.tag", () => this.#docker.getImage(image).tag({ repo, tag }));
  }

  buildInputsHash(build: ImageBuildSpec): Promise<string> {
    return hashBuildInputs(build);
  }

  async buildImage(ref: string, build: ImageBuildSpec, recipe: string, progress: Progress, signal?: AbortSignal): Promise<void> {
    const context = await packContext(build, this.#opts.hostCaBundle);
    const stream = await this.#call("image.build", () =>
      this.#docker.buildImage(context.stream, {
        t: ref,
        dockerfile: context.containerfile,
        buildargs: build.args,
        labels: { [RECIPE_LABEL]: recipe },
        pull: false,
        ...(signal ? { abortSignal: signal } : {}),
      } as Docker.ImageBuildOptions),
    );
    await streamProgress(stream, progress, `build ${ref}`);
    if (!(await this.imageExists(ref))) throw new PodwardenError("E_IMAGE", `build ${ref}: finished but the image is missing`);
  }

  async bootstrapImage(ref: string, spec: DebootstrapSpec, recipe: string, progress: Progress, signal?: AbortSignal): Promise<void> {
    await bootstrapRootfs(spec, progress, signal, (tar) =>
      this.#call("image.import", () =>
        this.#libpod.dial("image.import", {
          method: "POST",
          path: `${LIBPOD}/images/import`,
          query: { reference: ref, changes: [`LABEL ${RECIPE_LABEL}=${recipe}`] },
          raw: tar,
          contentType: "application/x-tar",
          ok: [200],
          ...(signal ? { signal } : {}),
        }),
      ),
    );
  }

  async ensureSecret(name: string, value: string): Promise<void> {
    const secrets = await this.#listSecrets();
    if (secrets.some((s) => s.Spec.Name === name)) return;
    await this.#call("secret.create", () =>
      this.#libpod.dial("secret.create", {
        method: "POST",
        path: `${LIBPOD}/secrets/create`,
        query: { name },
        raw: Buffer.from(value, "utf8"),
        contentType: "application/octet-stream",
        ok: [200, 201],
      }),
    );
  }

  #listSecrets(): Promise<SecretInfo[]> {
    return this.#call("secret.list", () => this.#libpod.dial<SecretInfo[]>("secret.list", { method: "GET", path: `${LIBPOD}/secrets/json`, ok: [200] }));
  }

  async pruneSecrets(pod: string, keep: ReadonlySet<string>): Promise<void> {
    const mine = (await this.#listSecrets()).filter((s) => s.Spec.Name.startsWith(`${pod}--`) && !keep.has(s.Spec.Name));
    for (const s of mine) {
      try {
        await this.#call("secret.remove", () =>
          this.#libpod.dial("secret.remove", { method: "DELETE", path: `${LIBPOD}/secrets/${s.ID}`, ok: [200, 204] }),
        );
      } catch (err) {
        // Still used by a container (it will be recreated): leave it for the next prune.
        if (!(err instanceof PodmanApiError)) throw err;
      }
    }
  }

  async createContainer(req: ContainerCreateRequest): Promise<string> {
    const present: ContainerCreateRequest["mounts"][number][] = [];
    for (const m of req.mounts) {
      if (m.create) await mkdir(m.source, { recursive: true, mode: 0o750 });
      if (m.optional && !(await exists(m.source))) continue;
      present.push(m);
    }
    const imageArgv = req.secretFile ? await this.#imageArgv(req.image) : undefined;
    const body = toSpecGenerator(req, present, imageArgv);
    const create = () =>
      this.#call("container.create", () =>
        this.#libpod.dial<{ Id: string }>("container.create", { method: "POST", path: `${LIBPOD}/containers/create`, body, ok: [200, 201] }),
      );
    try {
      return (await create()).Id;
    } catch (err) {
      if (!(err instanceof PodmanApiError && /already in use/.test(err.message))) throw err;
      await this.#removeSquatter(req);
      return (await create()).Id;
    }
  }

  /**
   * A container holds the name podwarden needs. Inside the pod it is drift (replaced by
   * hand) and goes; anywhere else it is somebody else's and podwarden stops with a message.
   */
  async #removeSquatter(req: ContainerCreateRequest): Promise<void> {
    const [other, pod] = await Promise.all([
      this.#libpod.dial<{ Id: string; Pod?: string }>("container.inspect", { method: "GET", path: `${LIBPOD}/containers/${encodeURIComponent(req.name)}/json`, ok: [200] }),
      this.#inspectPod(req.pod),
    ]);
    if (!pod || other.Pod !== pod.id) {
      throw new PodwardenError("E_CONFLICT", `a container named ${req.name} exists outside pod ${req.pod}: remove or rename it (podman rm -f ${req.name})`);
    }
    await this.removeContainer(other.Id);
  }

  async #imageArgv(ref: string): Promise<ImageArgv> {
    const info = await this.#call("image.inspect", () => this.#docker.getImage(ref).inspect());
    const asArray = (v: unknown): string[] | null => (Array.isArray(v) ? (v as string[]) : typeof v === "string" && v ? [v] : null);
    return { entrypoint: asArray(info.Config?.Entrypoint), cmd: asArray(info.Config?.Cmd) };
  }

  async startContainer(id: string): Promise<void> {
    try {
      await this.#call("container.start", () => this.#docker.getContainer(id).start().then(() => undefined, ignoreStatus(304)));
    } catch (err) {
      // Podman 4.3 starts a pod's infra container first and, when that fails (a published host port
      // taken), says only "starting some containers: internal libpod error". Starting the infra
      // container itself gives the reason ("cannot listen on the TCP port: listen tcp4 :4096: bind:
      // address already in use").
      if (!(err instanceof PodmanApiError) || !/internal libpod error/.test(err.message)) throw err;
      const reason = await this.#infraStartFailure(id);
      if (reason === undefined) throw err;
      throw new PodmanApiError("container.start", `the pod's infra container does not start: ${reason}`, err.status, err);
    }
  }

  /** Why the infra container of `id`'s pod does not start, or undefined (it starts, or there is none). */
  async #infraStartFailure(id: string): Promise<string | undefined> {
    try {
      const c = await this.#libpod.dial<{ Pod?: string }>("container.inspect", { method: "GET", path: `${LIBPOD}/containers/${encodeURIComponent(id)}/json`, ok: [200] });
      if (!c.Pod) return undefined;
      const pod = await this.#libpod.dial<PodInspect>("pod.inspect", { method: "GET", path: `${LIBPOD}/pods/${encodeURIComponent(c.Pod)}/json`, ok: [200] });
      if (!pod.InfraContainerID) return undefined;
      await this.#libpod.dial("container.start", { method: "POST", path: `${LIBPOD}/containers/${encodeURIComponent(pod.InfraContainerID)}/start`, ok: [204, 304] });
      return undefined;
    } catch (err) {
      if (!(err instanceof PodmanApiError) || err.operation !== "container.start") return undefined;
      return err.message.replace(/^container\.start: /, "");
    }
  }

  async stopContainer(id: string, timeoutS: number): Promise<void> {
    await this.#call("container.stop", () => this.#docker.getContainer(id).stop({ t: timeoutS }).then(() => undefined, ignoreStatus(304, 404)));
  }

  async pauseContainer(id: string): Promise<void> {
    await this.#call("container.pause", () => this.#docker.getContainer(id).pause());
  }

  async unpauseContainer(id: string): Promise<void> {
    await this.#call("container.unpause", () => this.#docker.getContainer(id).unpause());
  }

  async removeContainer(id: string): Promise<void> {
    await this.#call("container.remove", () =>
      this.#docker.getContainer(id).remove({ force: true, v: false }).then(() => undefined, ignoreStatus(404)),
    );
  }

  async watch(pod: string, onEvent: (e: RuntimeEvent) => void, signal: AbortSignal, onConnected?: () => void): Promise<void> {
    // Before the stream: Podman 4.3 sends the stream's headers only with its first event.
    const closeExits = this.#watchExits(pod, onEvent);
    try {
      const stream = await this.#call("events", () =>
        this.#libpod.dial<Readable>("events", {
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
    } finally {
      closeExits();
    }
  }

  /**
   * Reports a "died" event as soon as conmon writes the exit file of one of the pod's
   * containers (ids from the last observe), ~15 ms after the exit instead of Podman's
   * event 150-300 ms later. Like every event it only says "look now"; the pass that
   * follows reads the state from Podman. Off when the directory cannot be watched.
   */
  #watchExits(pod: string, onEvent: (e: RuntimeEvent) => void): () => void {
    const dir = this.#opts.exitDir ?? CONMON_EXIT_DIR;
    const recent = new Set<string>();
    try {
      const watcher = watchDir(dir, (_type, file) => {
        const id = file === null ? "" : String(file);
        const name = this.#ids.get(pod)?.get(id);
        // One report per exit: conmon's write and rename both notify, and Podman's
        // cleanup removes the file again later.
        if (name === undefined || recent.has(id) || !existsSync(join(dir, id))) return;
        recent.add(id);
        setTimeout(() => recent.delete(id), 500).unref();
        onEvent({ type: "container", action: "died", name, id, exitCode: undefined, at: Date.now() });
      });
      watcher.on("error", () => watcher.close());
      return () => watcher.close();
    } catch {
      return () => undefined;
    }
  }

  async logs(
    name: string,
    opts: { readonly follow: boolean; readonly sinceS?: number; readonly tail?: number },
    out: NodeJS.WritableStream,
    err: NodeJS.WritableStream,
    signal?: AbortSignal,
  ): Promise<void> {
    const container = this.#docker.getContainer(name);
    const query = { stdout: true, stderr: true, ...(opts.sinceS !== undefined ? { since: opts.sinceS } : {}), ...(opts.tail !== undefined ? { tail: opts.tail } : {}) };
    if (!opts.follow) {
      const buffer = await this.#call("container.logs", () => container.logs({ ...query, follow: false }));
      const stream = new PassThrough();
      stream.end(buffer);
      this.#docker.modem.demuxStream(stream, out, err);
      await new Promise((r) => stream.once("end", r));
      return;
    }
    const stream = await this.#call("container.logs", () => container.logs({ ...query, follow: true, ...(signal ? { abortSignal: signal } : {}) }));
    this.#docker.modem.demuxStream(stream, out, err);
    await new Promise<void>((resolve) => {
      stream.once("end", resolve);
      stream.once("close", resolve);
      stream.once("error", () => resolve());
      signal?.addEventListener("abort", () => resolve(), { once: true });
    });
  }

  async healthcheck(id: string, timeoutMs: number): Promise<HealthcheckResult> {
    // Podman does not enforce the check's timeout while the call runs: bound it here.
    const signal = AbortSignal.timeout(timeoutMs + 1_000);
    const r = await this.#call("container.healthcheck", () =>
      this.#libpod.dial<HealthcheckJson>("container.healthcheck", { method: "GET", path: `${LIBPOD}/containers/${id}/healthcheck`, ok: [200], signal }),
    );
    const last = r.Log?.[r.Log.length - 1];
    const output = (last?.Output ?? "").trim().slice(0, 200);
    const ok = (r.Status ?? "").toLowerCase() === "healthy" || last?.ExitCode === 0;
    return { ok, message: ok ? output || "healthy" : `exit ${last?.ExitCode ?? "?"}${output ? `: ${output}` : ""}` };
  }
}

/** The container errors inside a failed pod start's body, if it has them. */
const podStartErrors = (err: unknown): string[] => {
  const json = ((err as Error).cause as { json?: unknown } | undefined)?.json;
  const errs = json && typeof json === "object" ? (json as PodStartJson).Errs : undefined;
  return Array.isArray(errs) ? errs.filter((e): e is string => typeof e === "string") : [];
};

/** Treats the given HTTP statuses (already-started, not-found...) as success. */
const ignoreStatus =
  (...codes: number[]) =>
  (err: unknown): undefined => {
    const status = (err as { statusCode?: number }).statusCode;
    if (status !== undefined && codes.includes(status)) return undefined;
    throw err;
  };
