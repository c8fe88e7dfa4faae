// Hashes for drift detection. The only domain file that may import node:crypto.
//
// Secret content is only ever hashed with a key (HMAC-SHA-256, a random key kept root-only
// in the state directory: config/naming-key.ts). Secret names are listed by anyone who can
// run `podman secret ls`, and the spec-hash label is shown by `podman inspect`: an unkeyed
// hash of the secret file in either would let them test guessed passwords offline. The
// spec hash covers the secret's (keyed) name, never its content, so it is keyed as well.

import { createHash, createHmac } from "node:crypto";
import type { ContainerCreateRequest, PodCreateRequest } from "./create-request.js";
import { collate } from "./collate.js";

/** Bytes of the secret-naming key. */
export const NAMING_KEY_BYTES = 32;

/** JSON with object keys sorted, so equal requests always hash equally. */
export const canonicalJson = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => collate(a, b)))
      : v,
  );

const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

/**
 * Hash of the rendered create request (labels included, the spec-hash label excluded). A
 * request never holds secret values: only the keyed secret name (see secretName).
 */
export const specHash = (req: ContainerCreateRequest | PodCreateRequest): string => sha256(canonicalJson(req)).slice(0, 16);

/**
 * Podman secret name for a container's env file: `<pod>--<container>--<tag>`, the tag a
 * truncated HMAC-SHA-256 of the content under `key` (pod and container included, so equal
 * files in two containers get unrelated names). New values make a new name; the same values
 * and the same key always make the same name (a restarted daemon adopts its containers).
 */
export const secretName = (key: Uint8Array, pod: string, container: string, content: string): string =>
  `${pod}--${container}--${createHmac("sha256", key).update(`${pod}\0${container}\0${content}`).digest("hex").slice(0, 16)}`;
