// PodmanRuntime: the ContainerRuntime port over the Podman API socket. The pod's and its
// containers' lifecycle is here; observation (pod-observer.ts), exit notices
// (exit-watcher.ts), images, secrets and logs are clients of their own over one PodmanApi.

import { mkdir, stat } from "node:fs/promises";
import type { ContainerCreateRequest, PodCreateRequest } from "../domain/create-request.js";
import type { Observed } from "../domain/observed.js";
import type { DebootstrapSpec, ImageBuildSpec } from "../domain/spec.js";
import { PodmanApiError, PodmanUnavailableError, PodwardenError } from "../lib/errors.js";
import { CONMON_EXIT_DIR, watchPod } from "./exit-watcher.js";
import { mapInfo, pingVersion, type InfoJson } from "./host-info.js";
import { PodmanImages } from "./image-client.js";
import { LIBPOD } from "./libpod.js";
import { isEnding } from "./map-event.js";
import { PodmanLogs } from "./log-client.js";
import { PodObserver } from "./pod-observer.js";
import { ignoreStatus, PodmanApi, unlessMissing, type ApiCallListener } from "./podman-api.js";
import type { ContainerRuntime, CreatePrep, HealthcheckResult, HostInfo, LogOptions, Progress, RuntimeEvent } from "./port.js";
import { PodmanSecrets } from "./secret-client.js";
import { toPodSpecGenerator, toSpecGenerator } from "./spec-generator.js";

// The bench's alternatives build their containers with podwarden's own generator.
export { toSpecGenerator } from "./spec-generator.js";

/** Pod start answers 409/500 with {"Errs": [...]}: the per-container errors say what went wrong. */
interface PodStartJson {
  Errs?: string[] | null;
}

interface HealthcheckJson {
  Status?: string;
  Log?: { ExitCode?: number; Output?: string }[] | null;
}

const exists = async (path: string): Promise<boolean> => {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
};

export interface PodmanRuntimeOptions {
  readonly socketPath: string;
  /** conmon's exit directory (default CONMON_EXIT_DIR); watch() skips it when it cannot be watched. */
  readonly exitDir?: string;
  /** Host CA bundle added to build contexts that ask for it (see Dockerfile.opencode). */
  readonly hostCaBundle?: string;
  /** Records each API call's operation, duration and outcome (metrics). */
  readonly onApiCall?: ApiCallListener;
}

export class PodmanRuntime implements ContainerRuntime {
  readonly #api: PodmanApi;
  readonly #opts: PodmanRuntimeOptions;
  readonly #observer: PodObserver;
  readonly #images: PodmanImages;
  readonly #secrets: PodmanSecrets;
  readonly #logs: PodmanLogs;

  constructor(opts: PodmanRuntimeOptions) {
    this.#opts = opts;
    this.#api = new PodmanApi(opts.socketPath, opts.onApiCall);
    this.#observer = new PodObserver(this.#api);
    this.#images = new PodmanImages(this.#api, opts.hostCaBundle);
    this.#secrets = new PodmanSecrets(this.#api);
    this.#logs = new PodmanLogs(this.#api);
  }

  async ping(): Promise<{ version: string }> {
    try {
      return { version: await this.#api.call("version", () => pingVersion(this.#opts.socketPath)) };
    } catch (err) {
      throw new PodmanUnavailableError(
        `Podman API at ${this.#opts.socketPath} did not answer (${(err as Error).message}); ` +
          "is the service running? `systemctl enable --now podman.socket`, or pass --socket",
        err,
      );
    }
  }

  async hostInfo(): Promise<HostInfo> {
    return mapInfo(await this.#api.get<InfoJson>("info", "/info"));
  }

  observe(pod: string, signal?: AbortSignal): Promise<Observed> {
    return this.#observer.observe(pod, signal);
  }

  async createPod(req: PodCreateRequest): Promise<void> {
    await this.#api.call("pod.create", () =>
      this.#api.libpod.dial("pod.create", { method: "POST", path: `${LIBPOD}/pods/create`, body: toPodSpecGenerator(req), ok: [200, 201] }),
    );
  }

  async startPod(name: string): Promise<void> {
    try {
      await this.#api.call("pod.start", () =>
        this.#api.libpod.dial("pod.start", { method: "POST", path: `${LIBPOD}/pods/${encodeURIComponent(name)}/start`, ok: [200, 304] }),
      );
    } catch (err) {
      const errs = podStartErrors(err);
      if (errs.length > 0 && err instanceof PodmanApiError) throw new PodmanApiError("pod.start", errs.join("; "), err.status, err);
      throw err;
    }
  }

  async removePod(name: string): Promise<void> {
    await unlessMissing(
      this.#api.call("pod.remove", () =>
        this.#api.libpod.dial("pod.remove", { method: "DELETE", path: `${LIBPOD}/pods/${encodeURIComponent(name)}`, query: { force: true, timeout: 10 }, ok: [200, 204] }),
      ),
    );
  }

  async prepareCreate(req: ContainerCreateRequest): Promise<CreatePrep> {
    return req.secretFile ? { imageArgv: await this.#images.imageArgv(req.image) } : {};
  }

  async createContainer(req: ContainerCreateRequest, prep?: CreatePrep): Promise<string> {
    const present: ContainerCreateRequest["mounts"][number][] = [];
    for (const m of req.mounts) {
      if (m.create) await mkdir(m.source, { recursive: true, mode: 0o750 });
      if (m.optional && !(await exists(m.source))) continue;
      present.push(m);
    }
    const { imageArgv } = prep ?? (await this.prepareCreate(req));
    const body = toSpecGenerator(req, present, imageArgv);
    const create = () =>
      this.#api.call("container.create", () =>
        this.#api.libpod.dial<{ Id: string }>("container.create", { method: "POST", path: `${LIBPOD}/containers/create`, body, ok: [200, 201] }),
      );
    let id: string;
    try {
      id = (await create()).Id;
    } catch (err) {
      if (!(err instanceof PodmanApiError && /already in use/.test(err.message))) throw err;
      await this.#removeSquatter(req);
      id = (await create()).Id;
    }
    // A new container is started next: the observe after that inspects it beside the list, not after it.
    this.#observer.noticed(req.pod, id);
    return id;
  }

  /**
   * A container holds the name podwarden needs. Inside the pod it is drift (replaced by
   * hand) and goes; anywhere else it is somebody else's and podwarden stops with a message.
   */
  async #removeSquatter(req: ContainerCreateRequest): Promise<void> {
    const [other, pod] = await Promise.all([
      this.#api.libpod.dial<{ Id: string; Pod?: string }>("container.inspect", { method: "GET", path: `${LIBPOD}/containers/${encodeURIComponent(req.name)}/json`, ok: [200] }),
      this.#observer.inspectPod(req.pod),
    ]);
    if (!pod || other.Pod !== pod.id) {
      throw new PodwardenError("E_CONFLICT", `a container named ${req.name} exists outside pod ${req.pod}: remove or rename it (podman rm -f ${req.name})`);
    }
    await this.removeContainer(other.Id);
  }

  async startContainer(id: string): Promise<void> {
    try {
      await this.#api.call("container.start", () => this.#api.docker.getContainer(id).start().then(() => undefined, ignoreStatus(304)));
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
    const { libpod } = this.#api;
    try {
      const c = await libpod.dial<{ Pod?: string }>("container.inspect", { method: "GET", path: `${LIBPOD}/containers/${encodeURIComponent(id)}/json`, ok: [200] });
      if (!c.Pod) return undefined;
      const pod = await libpod.dial<{ InfraContainerID?: string }>("pod.inspect", { method: "GET", path: `${LIBPOD}/pods/${encodeURIComponent(c.Pod)}/json`, ok: [200] });
      if (!pod.InfraContainerID) return undefined;
      await libpod.dial("container.start", { method: "POST", path: `${LIBPOD}/containers/${encodeURIComponent(pod.InfraContainerID)}/start`, ok: [204, 304] });
      return undefined;
    } catch (err) {
      if (!(err instanceof PodmanApiError) || err.operation !== "container.start") return undefined;
      return err.message.replace(/^container\.start: /, "");
    }
  }

  async stopContainer(id: string, timeoutS: number): Promise<void> {
    await this.#api.call("container.stop", () => this.#api.docker.getContainer(id).stop({ t: timeoutS }).then(() => undefined, ignoreStatus(304, 404)));
  }

  async pauseContainer(id: string): Promise<void> {
    await this.#api.call("container.pause", () => this.#api.docker.getContainer(id).pause());
  }

  async unpauseContainer(id: string): Promise<void> {
    await this.#api.call("container.unpause", () => this.#api.docker.getContainer(id).unpause());
  }

  async removeContainer(id: string): Promise<void> {
    await this.#api.call("container.remove", () =>
      this.#api.docker.getContainer(id).remove({ force: true, v: false }).then(() => undefined, ignoreStatus(404)),
    );
  }

  async healthcheck(id: string, timeoutMs: number): Promise<HealthcheckResult> {
    // Podman does not enforce the check's timeout while the call runs: bound it here.
    const r = await this.#api.get<HealthcheckJson>("container.healthcheck", `/containers/${id}/healthcheck`, undefined, AbortSignal.timeout(timeoutMs + 1_000));
    const last = r.Log?.[r.Log.length - 1];
    const output = (last?.Output ?? "").trim().slice(0, 200);
    const ok = (r.Status ?? "").toLowerCase() === "healthy" || last?.ExitCode === 0;
    return { ok, message: ok ? output || "healthy" : `exit ${last?.ExitCode ?? "?"}${output ? `: ${output}` : ""}` };
  }

  watch(pod: string, onEvent: (e: RuntimeEvent) => void, signal: AbortSignal, onConnected?: () => void): Promise<void> {
    const opts = { pod, exitDir: this.#opts.exitDir ?? CONMON_EXIT_DIR, nameOf: (id: string) => this.#observer.nameOf(pod, id) };
    const notice = (e: RuntimeEvent): void => {
      // What ended is read beside the next observe's list (see pod-observer.ts). A start or a
      // create is most often the echo of podwarden's own (inspected after its start anyway), and
      // the list shows one it did not make.
      if (isEnding(e)) this.#observer.noticed(pod, e.type === "pod" ? "" : e.id);
      onEvent(e);
    };
    return watchPod(this.#api, opts, notice, signal, onConnected);
  }

  // Images, secrets and logs: their own clients.
  imageExists(ref: string): Promise<boolean> {
    return this.#images.imageExists(ref);
  }
  imageRecipe(ref: string): Promise<string | undefined> {
    return this.#images.imageRecipe(ref);
  }
  imageId(ref: string): Promise<string | undefined> {
    return this.#images.imageId(ref);
  }
  tagImage(image: string, repo: string, tag: string): Promise<void> {
    return this.#images.tagImage(image, repo, tag);
  }
  buildInputsHash(build: ImageBuildSpec): Promise<string> {
    return this.#images.buildInputsHash(build);
  }
  pullImage(ref: string, progress: Progress, signal?: AbortSignal): Promise<void> {
    return this.#images.pullImage(ref, progress, signal);
  }
  buildImage(ref: string, build: ImageBuildSpec, recipe: string, progress: Progress, signal?: AbortSignal): Promise<void> {
    return this.#images.buildImage(ref, build, recipe, progress, signal);
  }
  bootstrapImage(ref: string, spec: DebootstrapSpec, recipe: string, progress: Progress, signal?: AbortSignal): Promise<void> {
    return this.#images.bootstrapImage(ref, spec, recipe, progress, signal);
  }
  ensureSecret(name: string, value: string): Promise<void> {
    return this.#secrets.ensureSecret(name, value);
  }
  pruneSecrets(pod: string, keep: ReadonlySet<string>): Promise<void> {
    return this.#secrets.pruneSecrets(pod, keep);
  }
  logs(name: string, opts: LogOptions, out: NodeJS.WritableStream, err: NodeJS.WritableStream, signal?: AbortSignal): Promise<void> {
    return this.#logs.logs(name, opts, out, err, signal);
  }
}

/** The container errors inside a failed pod start's body, if it has them. */
const podStartErrors = (err: unknown): string[] => {
  const json = ((err as Error).cause as { json?: unknown } | undefined)?.json;
  const errs = json && typeof json === "object" ? (json as PodStartJson).Errs : undefined;
  return Array.isArray(errs) ? errs.filter((e): e is string => typeof e === "string") : [];
};
