// Mount paths that cannot work, whatever the host: what is wrong with a target inside the
// container or a source on the host, or undefined. Pure (the POSIX path rules only).

import path from "node:path";
import { SECRET_ENV_PATH } from "../domain/create-request.js";

/**
 * Kernel interfaces: in a container the runtime mounts its own there (a bind mount over them breaks
 * it); on the host, binding them into a container hands it the host.
 */
const KERNEL_ROOTS = ["/proc", "/sys", "/dev"];

const hasControl = (p: string): boolean => [...p].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);

const within = (p: string, root: string): boolean => p === root || p.startsWith(`${root}/`);

const hasDotDot = (p: string): boolean => p.split("/").includes("..");

/** `target` as written (absolute, the schema checked that). */
export function targetProblem(target: string): string | undefined {
  if (hasControl(target)) return "has a control character in it";
  if (hasDotDot(target)) return `must not contain ".." (write the directory it means: ${path.posix.resolve(target)})`;
  const resolved = path.posix.resolve(target);
  if (resolved === "/") return "cannot be / (a mount over the container's root hides its whole file system)";
  const owned = KERNEL_ROOTS.find((root) => within(resolved, root));
  if (owned !== undefined) return `cannot be ${owned} or under it: the container runtime mounts its own ${owned} there`;
  if (within(resolved, SECRET_ENV_PATH)) return `cannot be ${SECRET_ENV_PATH}: podwarden mounts the container's secrets there`;
  return undefined;
}

/** `source` as written: absolute (a host path) or relative (under pod.persistRoot, checked elsewhere). */
export function sourceProblem(source: string): string | undefined {
  if (hasControl(source)) return "has a control character in it";
  // A relative source is checked against pod.persistRoot where it is resolved.
  if (!path.isAbsolute(source)) return undefined;
  if (hasDotDot(source)) return `must not contain ".." (name the directory itself: ${path.posix.resolve(source)})`;
  const resolved = path.posix.resolve(source);
  if (resolved === "/") return "cannot be / (that would hand the container the host's whole file system)";
  const kernel = KERNEL_ROOTS.find((root) => within(resolved, root));
  if (kernel !== undefined) return `cannot be ${kernel} or under it: the host's kernel interfaces stay out of containers`;
  return undefined;
}
