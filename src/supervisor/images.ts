// Makes sure an image exists: present -> nothing; declared in the spec's `images` ->
// bootstrap or build it (after its base); anything else -> pull.

import type { ImageSpec } from "../domain/spec.js";
import { PodwardenError } from "../lib/errors.js";
import type { ContainerRuntime, Progress } from "../runtime/port.js";

export type ImageRuntime = Pick<ContainerRuntime, "imageExists" | "pullImage" | "buildImage" | "bootstrapImage">;

export const ensureImage = async (
  ref: string,
  images: Readonly<Record<string, ImageSpec>>,
  runtime: ImageRuntime,
  progress: Progress,
  signal?: AbortSignal,
  chain: readonly string[] = [],
): Promise<"present" | "pulled" | "built"> => {
  if (chain.includes(ref)) throw new PodwardenError("E_IMAGE", `image ${ref}: base images form a loop (${[...chain, ref].join(" -> ")})`);
  if (await runtime.imageExists(ref)) return "present";
  const spec = images[ref];
  if (!spec) {
    progress(`pulling ${ref}`);
    await runtime.pullImage(ref, progress, signal);
    return "pulled";
  }
  if (spec.from !== undefined) await ensureImage(spec.from, images, runtime, progress, signal, [...chain, ref]);
  if (spec.debootstrap) {
    progress(`bootstrapping ${ref} (debootstrap ${spec.debootstrap.suite})`);
    await runtime.bootstrapImage(ref, spec.debootstrap, progress, signal);
  } else if (spec.build) {
    progress(`building ${ref}`);
    const args = spec.from === undefined ? spec.build.args : { BASE_IMAGE: spec.from, ...spec.build.args };
    await runtime.buildImage(ref, { ...spec.build, args }, progress, signal);
  }
  return "built";
};
