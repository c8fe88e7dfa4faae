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

export class PodmanImages implements ImageClient {
  readonly #api: PodmanApi;
  readonly #hostCaBundle: string | undefined;

  constructor(api: PodmanApi, hostCaBundle?: string) {
    this.#api = api;
    this.#hostCaBundle = hostCaBundle;
  }

  async imageExists(ref: string): Promise<boolean> {
    const found = await unlessMissing(
      this.#api.call("image.exists", () =>
        this.#api.libpod.dial("image.exists", { method: "GET", path: `${LIBPOD}/images/${encodeURIComponent(ref)}/exists`, ok: [200, 204] }).then(() => true),
      ),
    );
    return found === true;
  }

  async pullImage(ref: string, progress: Progress, signal?: AbortSignal): Promise<void> {
    const stream = await this.#api.call("image.pull", () => this.#api.docker.pull(ref, signal ? { abortSignal: signal } : {}));
    await streamProgress(stream, progress, `pull ${ref}`);
  }

  #inspect(ref: string): Promise<Docker.ImageInspectInfo | undefined> {
    return unlessMissing(this.#api.call("image.inspect", () => this.#api.docker.getImage(ref).inspect()));
  }

  async imageRecipe(ref: string): Promise<string | undefined> {
    const info = await this.#inspect(ref);
    return info && (info.Config?.Labels?.[RECIPE_LABEL] ?? "");
  }

  async imageId(ref: string): Promise<string | undefined> {
    const info = await this.#inspect(ref);
    return info && normalizeImageId(info.Id);
  }

  /** The image's own entrypoint and command (what a container runs unless told otherwise). */
  async imageArgv(ref: string): Promise<ImageArgv> {
    const info = await this.#api.call("image.inspect", () => this.#api.docker.getImage(ref).inspect());
    return { entrypoint: asArray(info.Config?.Entrypoint), cmd: asArray(info.Config?.Cmd) };
  }

  async tagImage(image: string, repo: string, tag: string): Promise<void> {
    await this.#api.call("image.tag", () => this.#api.docker.getImage(image).tag({ repo, tag }));
  }

  buildInputsHash(build: ImageBuildSpec): Promise<string> {
    return hashBuildInputs(build);
  }

  async buildImage(ref: string, build: ImageBuildSpec, recipe: string, progress: Progress, signal?: AbortSignal): Promise<void> {
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
