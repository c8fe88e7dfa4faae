// Makes sure an image exists and is current: declared in the spec's `images` -> bootstrap
// or build it (after its base) when missing or when its recipe (inputs, base) changed;
// anything else -> pull when missing.

import { createHash } from "node:crypto";
import type { ImageSpec } from "../domain/spec.js";
import { PodwardenError } from "../lib/errors.js";
import type { ImageClient, Progress } from "./port.js";

export type ImageRuntime = Pick<ImageClient, "imageExists" | "imageRecipe" | "buildInputsHash" | "pullImage" | "buildImage" | "bootstrapImage">;

const hash = (...parts: string[]): string => createHash("sha256").update(parts.join("\0")).digest("hex").slice(0, 16);

/** Recipe labels looked up during one ensureImage: a base is asked once, not once per image built on it. */
type Recipes = Map<string, Promise<string | undefined>>;

const recipeLookup =
  (runtime: ImageRuntime, known: Recipes) =>
  (ref: string): Promise<string | undefined> => {
    let found = known.get(ref);
    if (found === undefined) {
      found = runtime.imageRecipe(ref);
      // Awaited where it is used; an error of a lookup made ahead is that caller's.
      found.catch(() => undefined);
      known.set(ref, found);
    }
    return found;
  };

/** The recipe label an image declared in `images` should carry, given its base as it is now and its inputs' hash. */
const recipeOf = async (spec: ImageSpec, lookup: (ref: string) => Promise<string | undefined>, inputs: Promise<string> | undefined): Promise<string> => {
  if (spec.debootstrap) return hash("debootstrap", JSON.stringify(spec.debootstrap));
  if (!spec.build || inputs === undefined) return "";
  const baseRecipe = spec.from === undefined ? "" : ((await lookup(spec.from)) ?? "");
  return hash("build", await inputs, baseRecipe);
};

const inputsHash = (spec: ImageSpec, runtime: ImageRuntime): Promise<string> | undefined => {
  if (!spec.build || spec.debootstrap) return undefined;
  const inputs = runtime.buildInputsHash(spec.build);
  inputs.catch(() => undefined);
  return inputs;
};

/** Whether a declared image would be rebuilt now (its Containerfile, context, args or base changed, or it is missing). */
export const imageOutdated = async (ref: string, images: Readonly<Record<string, ImageSpec>>, runtime: ImageRuntime): Promise<boolean> => {
  const spec = images[ref];
  if (!spec) return !(await runtime.imageExists(ref));
  const lookup = recipeLookup(runtime, new Map());
  const have = lookup(ref);
  return (await have) !== (await recipeOf(spec, lookup, inputsHash(spec, runtime)));
};

/** Whether ensureImage would make nothing: the image and every base under it are present and current. */
export const imageCurrent = async (ref: string, images: Readonly<Record<string, ImageSpec>>, runtime: ImageRuntime): Promise<boolean> => {
  const seen = new Set<string>();
  for (let r: string | undefined = ref; r !== undefined && !seen.has(r); r = images[r]?.from) {
    seen.add(r);
    if (await imageOutdated(r, images, runtime)) return false;
  }
  return true;
};

export const ensureImage = async (
  ref: string,
  images: Readonly<Record<string, ImageSpec>>,
  runtime: ImageRuntime,
  progress: Progress,
  signal?: AbortSignal,
  chain: readonly string[] = [],
  known: Recipes = new Map(),
): Promise<"present" | "pulled" | "built"> => {
  if (chain.includes(ref)) throw new PodwardenError("E_IMAGE", `image ${ref}: base images form a loop (${[...chain, ref].join(" -> ")})`);
  const spec = images[ref];
  if (!spec) {
    if (await runtime.imageExists(ref)) return "present";
    progress(`pulling ${ref}`);
    await runtime.pullImage(ref, progress, signal);
    return "pulled";
  }
  // What this image carries and what its inputs hash to do not depend on its base: both are
  // asked beside the base's own check, not after it.
  const lookup = recipeLookup(runtime, known);
  const have = lookup(ref);
  const inputs = inputsHash(spec, runtime);
  // The base first: if it was rebuilt, its recipe changed, and so does this image's.
  if (spec.from !== undefined) await ensureImage(spec.from, images, runtime, progress, signal, [...chain, ref], known);
  const recipe = await recipeOf(spec, lookup, inputs);
  if ((await have) === recipe) return "present";
  if (spec.debootstrap) {
    progress(`bootstrapping ${ref} (debootstrap ${spec.debootstrap.suite})`);
    await runtime.bootstrapImage(ref, spec.debootstrap, recipe, progress, signal);
  } else if (spec.build) {
    progress((await have) === undefined ? `building ${ref}` : `rebuilding ${ref}: its Containerfile, context, build args or base changed`);
    const args = spec.from === undefined ? spec.build.args : { BASE_IMAGE: spec.from, ...spec.build.args };
    await runtime.buildImage(ref, { ...spec.build, args }, recipe, progress, signal);
  }
  known.set(ref, Promise.resolve(recipe));
  return "built";
};
