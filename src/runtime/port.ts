// The runtime ports: what podwarden needs from Podman, in its own types, split by concern
// (host, pod, events, images, secrets, logs) so each user depends on the part it uses.
// ContainerRuntime is all of them: PodmanRuntime implements it over the API socket; tests
// use a fake.

import type { ContainerCreateRequest, PodCreateRequest } from "../domain/create-request.js";
import type { Observed } from "../domain/observed.js";
import type { DebootstrapSpec, ImageBuildSpec } from "../domain/spec.js";

/** Label on images podwarden builds: the hash of their inputs, so a changed Containerfile rebuilds. */
export const RECIPE_LABEL = "io.podwarden.recipe";

/** Every Podman API operation the runtime performs: a bounded label set for metrics. */
export const API_OPERATIONS = [
  "version",
  "info",
  "pod.inspect",
  "pod.create",
  "pod.start",
  "pod.remove",
  "container.list",
  "container.inspect",
  "container.create",
  "container.start",
  "container.stop",
  "container.remove",
  "container.healthcheck",
  "container.pause",
  "container.unpause",
  "container.logs",
  "image.exists",
  "image.inspect",
  "image.pull",
  "image.build",
  "image.import",
  "image.tag",
  "secret.list",
  "secret.create",
  "secret.remove",
  "events",
] as const;
export type ApiOperation = (typeof API_OPERATIONS)[number];

/** One line of progress from a pull, build or base-image bootstrap. */
export type Progress = (line: string) => void;

export interface HealthcheckResult {
  readonly ok: boolean;
  readonly message: string;
}

/** A Podman event about the pod or one of its managed containers. */
export interface RuntimeEvent {
  readonly type: "container" | "pod";
  /** libpod action: died, start, stop, remove, create, pause, oom, ... */
  readonly action: string;
  /** Logical container name (io.podwarden.container label); the pod's name for pod events. */
  readonly name: string;
  readonly id: string;
  /** Meaningful on `died` only. */
  readonly exitCode: number | undefined;
  /** Podman's time of the event, epoch ms. */
  readonly at: number;
}

/** Static facts about the Podman host (GET /libpod/info). */
export interface HostInfo {
  readonly version: string;
  /** The OCI runtime's name (runc, crun) and the first line of its version. */
  readonly ociRuntime: { readonly name: string; readonly version: string };
  /** cni or netavark. */
  readonly networkBackend: string;
  /** v1 or v2. */
  readonly cgroupVersion: string;
  /** cgroupfs or systemd. */
  readonly cgroupManager: string;
  readonly rootless: boolean;
  /** Podman's storage: where and with which driver. */
  readonly graphRoot: string;
  readonly graphDriver: string;
}

/** The Podman host itself. */
export interface HostClient {
  /** Fails with PodmanUnavailableError when the API socket does not answer. */
  ping(signal?: AbortSignal): Promise<{ version: string }>;
  /** What Podman says about its host: runtime, network backend, cgroups. */
  hostInfo(): Promise<HostInfo>;
}

/** An image's own entrypoint and command (what a container runs unless told otherwise). */
export interface ImageArgv {
  readonly entrypoint: readonly string[] | null;
  readonly cmd: readonly string[] | null;
}

/** What a container's create needs from the host besides its request (see prepareCreate). */
export interface CreatePrep {
  /** Present when the request has a secret file: its command is wrapped. */
  readonly imageArgv?: ImageArgv;
}

/** The pod and its containers: what the reconciler observes and acts on. */
export interface PodClient {
  /**
   * The pod and the containers podwarden manages in it (by label). One list call when
   * nothing changed since the last call; containers new or changed since are inspected.
   * An aborted signal aborts the request in flight.
   */
  observe(pod: string, signal?: AbortSignal): Promise<Observed>;
  createPod(req: PodCreateRequest): Promise<void>;
  /** Starts the pod's infra container (and anything else in it). */
  startPod(name: string): Promise<void>;
  /** Force-removes the pod (and anything left in it). Missing pod: no error. */
  removePod(name: string): Promise<void>;
  /**
   * What the create will need from the image (its own command, which a secret-file wrapper
   * runs), read ahead of time so that the create itself is one call.
   */
  prepareCreate(req: ContainerCreateRequest): Promise<CreatePrep>;
  /** Creates missing persist directories, then the container; returns its id. Without `prep`, reads it first. */
  createContainer(req: ContainerCreateRequest, prep?: CreatePrep): Promise<string>;
  startContainer(id: string): Promise<void>;
  stopContainer(id: string, timeoutS: number): Promise<void>;
  removeContainer(id: string): Promise<void>;
  /** Freezes every process of the container (cgroup freezer) / thaws it. */
  pauseContainer(id: string): Promise<void>;
  unpauseContainer(id: string): Promise<void>;
  /** Runs the container's exec health check once, now (libpod healthcheck endpoint); gives up after timeoutMs. */
  healthcheck(id: string, timeoutMs: number): Promise<HealthcheckResult>;
}

/** What turns a container's exit (or any change of the pod) into a notice. */
export interface EventClient {
  /**
   * Follows Podman's event stream for this pod until it ends (resolves) or breaks (rejects),
   * calling `onEvent` for every event about the pod or its managed containers, and for each
   * exit of one of its containers as soon as conmon records it.
   * `onConnected` is called once the stream is open.
   */
  watch(pod: string, onEvent: (e: RuntimeEvent) => void, signal: AbortSignal, onConnected?: () => void): Promise<void>;
}

/** Local images: present, current (recipe label), pulled, built or bootstrapped. */
export interface ImageClient {
  imageExists(ref: string): Promise<boolean>;
  /** The recipe label of a local image podwarden made (undefined: no such image; "" : no label). */
  imageRecipe(ref: string): Promise<string | undefined>;
  /** The image's id (sha256:...), or undefined when there is no such image. */
  imageId(ref: string): Promise<string | undefined>;
  /** Adds the name repo:tag to an image (a tagged image is never pruned as dangling). */
  tagImage(image: string, repo: string, tag: string): Promise<void>;
  /** A hash of what a build uses: the Containerfile, the context's files and the build args. */
  buildInputsHash(build: ImageBuildSpec): Promise<string>;
  pullImage(ref: string, progress: Progress, signal?: AbortSignal): Promise<void>;
  /** Builds and labels the image with `recipe`. */
  buildImage(ref: string, build: ImageBuildSpec, recipe: string, progress: Progress, signal?: AbortSignal): Promise<void>;
  bootstrapImage(ref: string, spec: DebootstrapSpec, recipe: string, progress: Progress, signal?: AbortSignal): Promise<void>;
}

/** Podman secrets holding the containers' env-file keys. */
export interface SecretClient {
  /** Creates the secret unless one with this name exists (names are content-addressed). */
  ensureSecret(name: string, value: string): Promise<void>;
  /** Removes the pod's secrets whose names are not in `keep`. */
  pruneSecrets(pod: string, keep: ReadonlySet<string>): Promise<void>;
}

export interface LogOptions {
  readonly follow: boolean;
  readonly sinceS?: number;
  readonly tail?: number;
}

export interface LogClient {
  /** Copies a container's logs (by Podman name) to out/err; with follow, until the signal aborts or the container goes. */
  logs(name: string, opts: LogOptions, out: NodeJS.WritableStream, err: NodeJS.WritableStream, signal?: AbortSignal): Promise<void>;
}

/** Everything podwarden needs from Podman; each part depends only on the clients it uses. */
export interface ContainerRuntime extends HostClient, PodClient, EventClient, ImageClient, SecretClient, LogClient {}
