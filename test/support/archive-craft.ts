// Hand-made tar entries for tests that feed the archive reader crafted (hostile) archives.

import { createHash } from "node:crypto";
import { END_OF_ARCHIVE, encodeHeader, entryPadding, type TarHeader } from "../../src/jobs/tar.js";

/** A manifest entry as JSON (any fields, so tests can write invalid ones). */
export interface Listed {
  path: string;
  type: string;
  size?: number;
  sha256?: string;
  target?: string;
}

export const sha = (b: Buffer | string): string => createHash("sha256").update(b).digest("hex");

export const header = (path: string, type: TarHeader["type"], size = 0, linkTarget = ""): TarHeader => ({ path, type, size, mode: 0o755, uid: 0, gid: 0, mtime: 1_700_000_000, linkTarget });

/** One entry: header block(s), body, padding. */
export const entry = (h: TarHeader, body: Buffer = Buffer.alloc(0)): Buffer => Buffer.concat([encodeHeader(h), body, entryPadding(body.length)]);

/** An uncompressed tar: manifest.json (the bytes given) first, then `parts`, then the end marker. */
export const withManifest = (manifest: Buffer, ...parts: Buffer[]): Buffer => Buffer.concat([entry(header("manifest.json", "file", manifest.length), manifest), ...parts, END_OF_ARCHIVE]);
