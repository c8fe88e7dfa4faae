// ImageClient over the Podman API: existence, recipe labels and ids of local images, and
// pulling, building (a packed context) and bootstrapping (debootstrap + import) them.

import type Docker from "dockerode";
import type { DebootstrapSpec, ImageBuildSpec } from "../domain/spec.js";
import { PodwardenError } from "../lib/errors.js";
import { bootstrapRootfs, hashBuildInputs, packContext, streamProgress } from "./images.js";
import { LIBPOD } from "./libpod.js";
import { normalizeImageId } from "./map-inspect.js";
import { unlessMissing, type PodmanApi } from "./podman-api.js";
import { RECIPE_LABEL, type ImageArgv, type ImageClient, type Progress } from "./port.js";


const asArray = (v: unknown): string[] | null => (Array.isArray(v) ? (v as string[]) : typeof v === "string" && v ? [v] : null);

/**
 * How long an image's inspect, or a build's input hash, answers again for the same ref or build.
 * A start asks about each image several times within a second (the host checks, the recipe check
 * of it and of every image built on it, the create's read of its command), and three images share
 * one build context: one inspect and one read of the context serve them all. Anything this client
 * changes (a pull, a build, an import, a tag) forgets every answer at once.
 */
export const INSPECT_REUSE_MS = 1_000;

/** Answers (or ones in flight) by key, reused for INSPECT_REUSE_MS; a failed one is not kept. */
class Recent<T> {
  readonly #now: () => number;
  readonly #answers = new Map<string, { readonly at: number; readonly answer: Promise<T> }>();

  constructor(now: () => number) {
    this.#now = now;
  }

  get(key: string, ask: () => Promise<T>): Promise<T> {
    const now = this.#now();
    const recent = this.#answers.get(key);
    if (recent !== undefined && now - recent.at < INSPECT_REUSE_MS) return recent.answer;
    const entry = { at: now, answer: ask() };
    this.#answers.set(key, entry);
    entry.answer.catch(() => {
      if (this.#answers.get(key) === entry) this.#answers.delete(key);
    });
    return entry.answer;
  }

  clear(): void {
    this.#answers.clear();
  }
}

/** What podwarden reads from an image's inspect (kept, not the whole answer: its layers and history are large). */
interface ImageFacts {
  readonly id: string;
  readonly recipe: string;
  readonly argv: ImageArgv;
}

type ImageInfo = ImageFacts | undefined;

const factsOf = (info: Docker.ImageInspectInfo): ImageFacts => ({
  id: normalizeImageId(info.Id),
  recipe: info.Config?.Labels?.[RECIPE_LABEL] ?? "",
  argv: { entrypoint: asArray(info.Config?.Entrypoint), cmd: asArray(info.Config?.Cmd) },
});

export class PodmanImages implements ImageClient {
  readonly #api: PodmanApi;
  readonly #hostCaBundle: string | undefined;
  /** Recent inspects by ref, and input hashes by build. */
  readonly #inspected: Recent<ImageInfo>;
  readonly #hashed: Recent<string>;

  constructor(api: PodmanApi, hostCaBundle?: string, now: () => number = () => performance.now()) {
    this.#api = api;
    this.#hostCaBundle = hostCaBundle;
    this.#inspected = new Recent(now);
    this.#hashed = new Recent(now);
  }

  /** Runs a change to the local images; every inspect answer is forgotten, before and after. */
  async #changing<T>(change: () => Promise<T>): Promise<T> {
    this.#forget();
    try {
      return await change();
    } finally {
      this.#forget();
    }
  }

  #forget(): void {
    this.#inspected.clear();
    this.#hashed.clear();
  }

  async imageExists(ref: string): Promise<boolean> {
    const found = await unlessMissing(
      this.#api.call("image.exists", () =>
        this.#api.libpod.dial("image.exists", { method: "GET", path: `${LIBPOD}/images/${encodeURIComponent(ref)}/exists`, ok: [200, 204] }).then(() => true),
      ),
    );
    return found === true;
  }

  pullImage(ref: string, progress: Progress, signal?: AbortSignal): Promise<void> {
    return this.#changing(async () => {
      const stream = await this.#api.call("image.pull", () => this.#api.docker.pull(ref, signal ? { abortSignal: signal } : {}));
      await streamProgress(stream, progress, `pull ${ref}`);
    });
  }

  #inspect(ref: string): Promise<ImageInfo> {
    return this.#inspected.get(ref, () => unlessMissing(this.#api.call("image.inspect", () => this.#api.docker.getImage(ref).inspect())).then((i) => i && factsOf(i)));
  }

  async imageRecipe(ref: string): Promise<string | undefined> {
    return (await this.#inspect(ref))?.recipe;
  }

  async imageId(ref: string): Promise<string | undefined> {
    return (await this.#inspect(ref))?.id;
  }

  /** The image's own entrypoint and command (what a container runs unless told otherwise). */
  async imageArgv(ref: string): Promise<ImageArgv> {
    const info = await this.#inspect(ref);
    if (info === undefined) throw new PodwardenError("E_IMAGE", `image ${ref}: not found (its command is needed to create the container)`);
    return info.argv;
  }

  async tagImage(image: string, repo: string, tag: string): Promise<void> {
    await this.#changing(() => this.#api.call("image.tag", () => this.#api.docker.getImage(image).tag({ repo, tag })));
  }

  buildInputsHash(build: ImageBuildSpec): Promise<string> {
    return this.#hashed.get(JSON.stringify([build.containerfile, build.context, build.args]), () => hashBuildInputs(build));
  }

  buildImage(ref: string, build: ImageBuildSpec, recipe: string, progress: Progress, signal?: AbortSignal): Promise<void> {
    return this.#changing(() => this.#build(ref, build, recipe, progress, signal));
  }

  async #build(ref: string, build: ImageBuildSpec, recipe: string, progress: Progress, signal?: AbortSignal): Promise<void> {
    const context = await packContext(build, this.#hostCaBundle);
    const stream = await this.#api.call("image.build", () =>
      this.#api.docker.buildImage(context.stream, {
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
    await this.#changing(() => this.#bootstrap(ref, spec, recipe, progress, signal));
  }

  async #bootstrap(ref: string, spec: DebootstrapSpec, recipe: string, progress: Progress, signal?: AbortSignal): Promise<void> {
    await bootstrapRootfs(spec, progress, signal, (tar) =>
      this.#api.call("image.import", () =>
        this.#api.libpod.dial("image.import", {
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
}
