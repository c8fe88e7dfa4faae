// Hashes for drift detection. The only domain file that may import node:crypto.

import { createHash } from "node:crypto";
import type { ContainerCreateRequest, PodCreateRequest } from "./create-request.js";

/** JSON with object keys sorted, so equal requests always hash equally. */
export const canonicalJson = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );

const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

/** Hash of the rendered create request (labels included, the spec-hash label excluded). */
export const specHash = (req: ContainerCreateRequest | PodCreateRequest): string => sha256(canonicalJson(req)).slice(0, 16);

/** Podman secret name for a container's env file: content-addressed, so new values make a new secret. */
export const secretName = (pod: string, container: string, content: string): string =>
  `${pod}--${container}--${sha256(content).slice(0, 12)}`;
