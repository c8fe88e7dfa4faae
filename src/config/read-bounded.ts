// Reading a file named by a config: only a regular file, only up to a size limit. A FIFO is opened
// without blocking and a device (/dev/zero) is never read, so a hostile path cannot hang the loader.

import { constants } from "node:fs";
import { open } from "node:fs/promises";
import { describeFsError } from "./fs-error.js";
import { formatBytes } from "./limits.js";

export type Bounded = { readonly content: Buffer; readonly mode: number } | { readonly reason: string };

export async function readBounded(file: string, limit: number): Promise<Bounded> {
  try {
    const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const stats = await handle.stat();
      if (!stats.isFile()) return { reason: stats.isDirectory() ? "is a directory, not a file" : "is not a regular file" };
      if (stats.size > limit) return { reason: `it is ${stats.size} bytes, more than the limit of ${formatBytes(limit)}` };
      return { content: await handle.readFile(), mode: stats.mode };
    } finally {
      await handle.close();
    }
  } catch (err) {
    return { reason: describeFsError(err) };
  }
}
