// `images` -> Record<ref, ImageSpec>: how to obtain images that cannot be pulled.

import { stat } from "node:fs/promises";
import path from "node:path";
import type { ImageSpec } from "../domain/spec.js";
import { parseImageRef } from "../domain/image-ref.js";
import { describeCycle, findCycles } from "./cycles.js";
import type { FieldPath } from "./field-path.js";
import { compact } from "./freeze.js";
import type { Issues } from "./issues.js";
import { describeFsError } from "./fs-error.js";
import { DEBOOTSTRAP_DEFAULTS, type ImageSection } from "./schema.js";
import { show } from "./schema-errors.js";

/**
 * `sections` holds the images that passed the schema; `allRefs` every key of `images`, so that `from`
 * pointing at an image with a schema error is not also reported as unknown.
 */
export async function buildImages(
  sections: ReadonlyMap<string, ImageSection>,
  allRefs: readonly string[],
  issues: Issues,
): Promise<Record<string, ImageSpec>> {
  const images: Record<string, ImageSpec> = {};
  for (const [ref, section] of sections) {
    images[ref] = await buildImage(ref, section, ["images", ref], allRefs, issues);
  }
  const graph = [...sections].map(([ref, { from }]) => ({ name: ref, dependsOn: from === undefined ? [] : [{ name: from }] }));
  for (const cycle of findCycles(graph)) {
    issues.error(["images", cycle.from, "from"], `image cycle: ${describeCycle(cycle)}`);
  }
  return images;
}

async function buildImage(
  ref: string,
  section: ImageSection,
  at: FieldPath,
  allRefs: readonly string[],
  issues: Issues,
): Promise<ImageSpec> {
  const { from, build, debootstrap } = section;
  const refBad = parseImageRef(ref);
  if (typeof refBad === "string") issues.error(at, `${show(ref)} is not an image reference: ${refBad}`);
  if ((build === undefined) === (debootstrap === undefined)) {
    issues.error(at, `must have exactly one of build or debootstrap (found ${build === undefined ? "neither" : "both"})`);
  }
  if (from !== undefined) checkFrom(from, [...at, "from"], build !== undefined, allRefs, issues);
  if (build !== undefined) {
    const containerfile = build.containerfile;
    const context = build.context ?? path.dirname(containerfile);
    await checkExists(containerfile, "file", [...at, "build", "containerfile"], issues);
    if (build.context !== undefined) await checkExists(context, "directory", [...at, "build", "context"], issues);
    return compact({ ref, from, build: { containerfile, context, args: { ...build.args } } });
  }
  return {
    ref,
    debootstrap: {
      suite: debootstrap?.suite ?? "",
      variant: debootstrap?.variant ?? DEBOOTSTRAP_DEFAULTS.variant,
      mirror: debootstrap?.mirror ?? DEBOOTSTRAP_DEFAULTS.mirror,
    },
  };
}

function checkFrom(from: string, at: FieldPath, isBuild: boolean, allRefs: readonly string[], issues: Issues): void {
  if (!isBuild) {
    issues.error(at, "only a build image can have a base (from is passed to the build as BASE_IMAGE)");
  } else if (!allRefs.includes(from)) {
    issues.error(at, `unknown image ${JSON.stringify(from)}: from must name another key of images (${allRefs.join(", ")})`);
  }
}

/**
 * A missing Containerfile is an error. A missing context directory is only a warning: images are built
 * only when absent, and the build itself says what is missing.
 */
async function checkExists(file: string, kind: "file" | "directory", at: FieldPath, issues: Issues): Promise<void> {
  let problem: string | undefined;
  try {
    const stats = await stat(file);
    const ok = kind === "file" ? stats.isFile() : stats.isDirectory();
    if (!ok) problem = `is not a ${kind}`;
  } catch (err) {
    problem = describeFsError(err);
  }
  if (problem === undefined) return;
  if (kind === "file") issues.error(at, `Containerfile ${file}: ${problem}`);
  else issues.warn(at, `build context ${file}: ${problem}; building this image will fail until it exists`);
}
