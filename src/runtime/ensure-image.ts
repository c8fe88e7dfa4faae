// Makes sure an image exists and is current: declared in the spec's `images` -> bootstrap
// or build it (after its base) when missing or when its recipe (inputs, base) changed;
// anything else -> pull when missing.

import { createHash } from "node:crypto";
import type { ImageSpec } from "../domain/spec.js";
import { PodwardenError } from "../lib/errors.js";
import type { ImageClient, Progress } from "./port.js";

export type ImageRuntime = Pick<ImageClient, "imageExists" | "imageRecipe" | "buildInputsHash" | "pullImage" | "buildImage" | "bootstrapImage">;

const hash = (...parts: string[]): string => createHash("sha256").update(parts.join("\0")).digest("hex").slice(0, 16);

/** The recipe label an image declared in `images` should carry, given its base as it is now. */
const recipeOf = async (spec: ImageSpec, runtime: ImageRuntime): Promise<string> => {
  const baseRecipe = spec.from === undefined ? "" : ((await runtime.imageRecipe(spec.from)) ?? "");
  if (spec.debootstrap) return hash("debootstrap", JSON.stringify(spec.debootstrap));
  return spec.build ? hash("build", await runtime.buildInputsHash(spec.build), baseRecipe) : "";
};

/** Whether a declared image would be rebuilt now (its Containerfile, context, args or base changed, or it is missing). */
export const imageOutdated = async (ref: string, images: Readonly<Record<string, ImageSpec>>, runtime: ImageRuntime): Promise<boolean> => {
  const spec = images[ref];
  if (!spec) return !(await runtime.imageExists(ref));
  return (await runtime.imageRecipe(ref)) !== (await recipeOf(spec, runtime));
};

export const ensureImage = async (
  ref: string,
  images: Readonly<Record<string, ImageSpec>>,
  runtime: ImageRuntime,
  progress: Progress,
  signal?: AbortSignal,
  chain: readonly string[] = [],
): Promise<"present" | "pulled" | "built"> => {
  if (chain.includes(ref)) throw new PodwardenError("E_IMAGE", `image ${ref}: base images form a loop (${[...chain, ref].join(" -> ")})`);
  const spec = images[ref];
  if (!spec) {
    if (await runtime.imageExists(ref)) return "present";
    progress(`pulling ${ref}`);
    await runtime.pullImage(ref, progress, signal);
    return "pulled";
  }
  // The base first: if it was rebuilt, its recipe changed, and so does this image's.
  if (spec.from !== undefined) await ensureImage(spec.from, images, runtime, progress, signal, [...chain, ref]);
  const recipe = await recipeOf(spec, runtime);
  const have = await runtime.imageRecipe(ref);
  if (have === recipe) return "present";
  if (spec.debootstrap) {
    progress(`bootstrapping ${ref} (debootstrap ${spec.debootstrap.suite})`);
    await runtime.bootstrapImage(ref, spec.debootstrap, recipe, progress, signal);
  } else if (spec.build) {
    progress(have === undefined ? `building ${ref}` : `rebuilding ${ref}: its Containerfile, context, build args or base changed`);
    const args = spec.from === undefined ? spec.build.args : { BASE_IMAGE: spec.from, ...spec.build.args };
    await runtime.buildImage(ref, { ...spec.build, args }, recipe, progress, signal);
  }
  return "built";
};
