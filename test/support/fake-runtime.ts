// An in-memory ContainerRuntime with fault injection, for fast deterministic tests of
// the supervisor. It keeps a journal of every operation so tests can assert order.

import type { ContainerCreateRequest, PodCreateRequest } from "../../src/domain/create-request.js";
import type { Observed, ObservedContainer } from "../../src/domain/observed.js";
import { LABELS } from "../../src/domain/spec.js";
import { PodmanApiError, PodmanUnavailableError } from "../../src/lib/errors.js";
import type { ContainerRuntime, CreatePrep, HealthcheckResult, HostInfo, RuntimeEvent } from "../../src/runtime/port.js";
import type { FakeClock } from "./fake-clock.js";

export interface FakeContainer {
  readonly id: string;
  readonly req: ContainerCreateRequest;
  running: boolean;
  startedAt: number | null;
  finishedAt: number | null;
  exitCode: number | null;
}

export interface JournalEntry {
  readonly at: number;
  readonly op: string;
  readonly name: string;
}

export class FakeRuntime implements ContainerRuntime {
  readonly clock: FakeClock;
  pod: { id: string; name: string; labels: Record<string, string>; managed?: boolean } | null = null;
  readonly containers = new Map<string, FakeContainer>();
  readonly images = new Set<string>();
  readonly secrets = new Map<string, string>();
  readonly journal: JournalEntry[] = [];
  /** When true, every call fails as if the socket were gone. */
  unavailable = false;
  /** Logical name -> number of start calls that should still fail. */
  readonly failStarts = new Map<string, number>();
  /** Logical name -> exit code: the process exits at once with it after each start (init steps, crash loops). */
  readonly exitOnStart = new Map<string, number>();
  #seq = 0;
  readonly #watchers = new Set<(e: RuntimeEvent) => void>();

  constructor(clock: FakeClock, images: Iterable<string> = []) {
    this.clock = clock;
    for (const i of images) this.images.add(i);
  }

  #check(): void {
    if (this.unavailable) throw new PodmanUnavailableError("fake: socket gone");
  }

  #log(op: string, name: string): void {
    this.journal.push({ at: this.clock.now(), op, name });
  }

  logical(c: FakeContainer): string {
    return c.req.labels[LABELS.container] ?? c.req.name;
  }

  byName(logical: string): FakeContainer | undefined {
    return [...this.containers.values()].find((c) => this.logical(c) === logical);
  }

  #emit(action: string, c: FakeContainer): void {
    const e: RuntimeEvent = { type: "container", action, name: this.logical(c), id: c.id, exitCode: c.exitCode ?? undefined, at: this.clock.now() };
    for (const w of this.#watchers) w(e);
  }

  /** The container process dies on its own. */
  crash(logical: string, exitCode = 1): void {
    const c = this.byName(logical);
    if (!c) throw new Error(`no container ${logical}`);
    c.running = false;
    c.exitCode = exitCode;
    c.finishedAt = this.clock.now();
    this.#emit("died", c);
  }

  /** Someone runs `podman rm -f` on the container. */
  removeByHand(logical: string): void {
    const c = this.byName(logical)!;
    this.containers.delete(c.id);
    this.#emit("remove", c);
  }

  /** Someone runs `podman pod rm -f` on the pod. */
  removePodByHand(): void {
    for (const c of [...this.containers.values()]) this.removeByHand(this.logical(c));
    this.pod = null;
  }

  async watch(_pod: string, onEvent: (e: RuntimeEvent) => void, signal: AbortSignal, onConnected?: () => void): Promise<void> {
    this.#check();
    this.#watchers.add(onEvent);
    onConnected?.();
    await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
    this.#watchers.delete(onEvent);
  }

  async ping(): Promise<{ version: string }> {
    this.#check();
    return { version: "fake" };
  }

  async hostInfo(): Promise<HostInfo> {
    this.#check();
    return {
      version: "fake",
      ociRuntime: { name: "runc", version: "fake" },
      networkBackend: "cni",
      cgroupVersion: "v2",
      cgroupManager: "systemd",
      rootless: false,
      graphRoot: "/fake",
      graphDriver: "overlay",
    };
  }

  async observe(pod: string, signal?: AbortSignal): Promise<Observed> {
    this.#check();
    // As the real one does: an aborted request fails instead of answering.
    signal?.throwIfAborted();
    const containers = new Map<string, ObservedContainer>();
    for (const c of this.containers.values()) {
      if (c.req.pod !== pod) continue;
      containers.set(this.logical(c), {
        id: c.id,
        name: this.logical(c),
        podmanName: c.req.name,
        specHash: c.req.labels[LABELS.specHash],
        state: c.running ? "running" : c.startedAt === null ? "created" : "exited",
        running: c.running,
        exitCode: c.running ? null : c.exitCode,
        startedAt: c.startedAt,
        finishedAt: c.finishedAt,
        oomKilled: false,
        health: "none",
        image: c.req.image,
        imageId: `sha256:${c.req.image}`,
      });
    }
    const p = this.pod && this.pod.name === pod ? { id: this.pod.id, name: pod, state: "Running", managed: this.pod.managed ?? true, specHash: this.pod.labels[LABELS.specHash] } : null;
    return { pod: p, containers };
  }

  /** When set, creating any pod fails with this Podman message (a host problem, e.g. catatonit missing). */
  podCreateFault: string | undefined;

  async createPod(req: PodCreateRequest): Promise<void> {
    this.#check();
    if (this.podCreateFault !== undefined) throw new PodmanApiError("pod.create", this.podCreateFault, 500);
    if (this.pod) throw new PodmanApiError("pod.create", "pod already exists", 409);
    this.pod = { id: `pod${++this.#seq}`, name: req.name, labels: { ...req.labels } };
    this.#log("create-pod", req.name);
  }

  /** When set, starting any pod fails with this Podman message (made, but its infra cannot start). */
  podStartFault: string | undefined;

  async startPod(name: string): Promise<void> {
    this.#check();
    if (this.podStartFault !== undefined) throw new PodmanApiError("pod.start", this.podStartFault, 500);
    this.#log("start-pod", name);
  }

  async removePod(name: string): Promise<void> {
    this.#check();
    if (!this.pod || this.pod.name !== name) return;
    for (const [id, c] of this.containers) if (c.req.pod === name) this.containers.delete(id);
    this.pod = null;
    this.#log("remove-pod", name);
  }

  async imageExists(ref: string): Promise<boolean> {
    this.#check();
    return this.images.has(ref);
  }

  async pullImage(ref: string): Promise<void> {
    this.#check();
    this.images.add(ref);
    this.#log("pull", ref);
  }

  /** Image -> recipe label of the images this fake "built". */
  readonly recipes = new Map<string, string>();
  /** Containerfile path -> what buildInputsHash reports (tests change it to simulate an edit). */
  readonly inputs = new Map<string, string>();

  async imageRecipe(ref: string): Promise<string | undefined> {
    this.#check();
    return this.images.has(ref) ? (this.recipes.get(ref) ?? "") : undefined;
  }

  async imageId(ref: string): Promise<string | undefined> {
    this.#check();
    return this.images.has(ref) ? `sha256:${ref}` : undefined;
  }

  async tagImage(image: string, repo: string, tag: string): Promise<void> {
    this.#check();
    this.images.add(`${repo}:${tag}`);
    this.#log("tag", `${image} ${repo}:${tag}`);
  }

  /** Containers paused now (by id). */
  readonly paused = new Set<string>();

  async pauseContainer(id: string): Promise<void> {
    this.#check();
    this.paused.add(id);
    this.#log("pause", id);
  }

  async unpauseContainer(id: string): Promise<void> {
    this.#check();
    this.paused.delete(id);
    this.#log("unpause", id);
  }

  async buildInputsHash(build: { containerfile: string }): Promise<string> {
    return this.inputs.get(build.containerfile) ?? "v1";
  }

  async buildImage(ref: string, _build: unknown, recipe: string): Promise<void> {
    this.#check();
    this.images.add(ref);
    this.recipes.set(ref, recipe);
    this.#log("build", ref);
  }

  async bootstrapImage(ref: string, _spec: unknown, recipe: string): Promise<void> {
    this.#check();
    this.images.add(ref);
    this.recipes.set(ref, recipe);
    this.#log("bootstrap", ref);
  }

  async ensureSecret(name: string, value: string): Promise<void> {
    this.#check();
    this.secrets.set(name, value);
  }

  async pruneSecrets(pod: string, keep: ReadonlySet<string>): Promise<void> {
    for (const name of [...this.secrets.keys()]) if (name.startsWith(`${pod}--`) && !keep.has(name)) this.secrets.delete(name);
  }

  async prepareCreate(_req: ContainerCreateRequest): Promise<CreatePrep> {
    this.#check();
    return {};
  }

  async createContainer(req: ContainerCreateRequest, _prep?: CreatePrep): Promise<string> {
    this.#check();
    if (!this.pod || this.pod.name !== req.pod) throw new PodmanApiError("container.create", `no pod ${req.pod}`, 404);
    if (!this.images.has(req.image)) throw new PodmanApiError("container.create", `no image ${req.image}`, 404);
    const id = `c${++this.#seq}`;
    this.containers.set(id, { id, req, running: false, startedAt: null, finishedAt: null, exitCode: null });
    this.#log("create", req.labels[LABELS.container] ?? req.name);
    return id;
  }

  async startContainer(id: string): Promise<void> {
    this.#check();
    const c = this.#get(id);
    const name = this.logical(c);
    const failing = this.failStarts.get(name) ?? 0;
    if (failing > 0) {
      this.failStarts.set(name, failing - 1);
      this.#log("start-failed", name);
      throw new PodmanApiError("container.start", "fake: start refused", 500);
    }
    c.running = true;
    c.startedAt = this.clock.now();
    c.exitCode = null;
    this.#log("start", name);
    const code = this.exitOnStart.get(name);
    if (code !== undefined) this.crash(name, code);
  }

  async stopContainer(id: string): Promise<void> {
    this.#check();
    const c = this.containers.get(id);
    if (!c || !c.running) return;
    c.running = false;
    c.exitCode = 0;
    c.finishedAt = this.clock.now();
    this.#log("stop", this.logical(c));
  }

  async removeContainer(id: string): Promise<void> {
    this.#check();
    const c = this.containers.get(id);
    if (!c) return;
    this.containers.delete(id);
    this.#log("remove", this.logical(c));
  }

  async logs(): Promise<void> {
    this.#check();
  }

  async healthcheck(id: string): Promise<HealthcheckResult> {
    this.#check();
    const c = this.#get(id);
    return c.running ? { ok: true, message: "fake healthy" } : { ok: false, message: "not running" };
  }

  #get(id: string): FakeContainer {
    const c = this.containers.get(id);
    if (!c) throw new PodmanApiError("container", `no such container ${id}`, 404);
    return c;
  }

  /** Names in the order the given operation happened. */
  order(op: string): string[] {
    return this.journal.filter((j) => j.op === op).map((j) => j.name);
  }
}
