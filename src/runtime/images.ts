// Image plumbing for PodmanRuntime: build contexts as tar streams, progress from
// pull/build JSON streams, and Debian base images bootstrapped with debootstrap.

import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { tmpdir } from "node:os";
import type { Readable } from "node:stream";
import tar from "tar-fs";
import type { DebootstrapSpec, ImageBuildSpec } from "../domain/spec.js";
import { PodwardenError } from "../lib/errors.js";
import type { Progress } from "./port.js";
import { collate } from "../domain/collate.js";

/** Name of the Containerfile inside the context when it lives outside the context dir. */
const EXTERNAL_CONTAINERFILE = ".podwarden.Containerfile";
/** Where the host CA bundle goes in a context that has a `build-ca/` directory. */
const CA_IN_CONTEXT = "build-ca/host-ca.crt";

export interface PackedContext {
  readonly stream: Readable;
  /** The Containerfile's path inside the tar. */
  readonly containerfile: string;
}

/**
 * Packs the build context. A Containerfile outside the context is added to the tar; a
 * context with a `build-ca/` directory gets the host's CA bundle there, for build steps
 * that fetch over a TLS-intercepting proxy (only a throwaway build stage may use it).
 */
export const packContext = async (build: ImageBuildSpec, hostCaBundle?: string): Promise<PackedContext> => {
  const context = resolve(build.context);
  const rel = relative(context, resolve(build.containerfile));
  const inside = !rel.startsWith("..") && !rel.startsWith(sep);
  const extra: { name: string; content: Buffer }[] = [];
  if (!inside) extra.push({ name: EXTERNAL_CONTAINERFILE, content: await readFile(build.containerfile) });
  if (hostCaBundle) {
    const ca = await readFile(hostCaBundle).catch(() => undefined);
    if (ca) extra.push({ name: CA_IN_CONTEXT, content: ca });
  }
  const stream = tar.pack(context, {
    ignore: (name) => basename(name) === "host-ca.crt" && basename(dirname(name)) === "build-ca",
    finalize: extra.length === 0,
    finish: (pack) => {
      if (extra.length === 0) return;
      for (const e of extra) pack.entry({ name: e.name, mode: 0o644 }, e.content);
      pack.finalize();
    },
  });
  return { stream, containerfile: inside ? rel.split(sep).join("/") : EXTERNAL_CONTAINERFILE };
};

/** Files of a directory, recursively, as paths relative to it (sorted; the CA slot excluded). */
const listFiles = async (root: string, rel = ""): Promise<string[]> => {
  const entries = await readdir(join(root, rel), { withFileTypes: true });
  const out: string[] = [];
  for (const e of entries.sort((a, b) => collate(a.name, b.name))) {
    const path = rel ? `${rel}/${e.name}` : e.name;
    if (path === "build-ca") continue;
    if (e.isDirectory()) out.push(...(await listFiles(root, path)));
    else if (e.isFile()) out.push(path);
  }
  return out;
};

/** Hash of the Containerfile, every file of the context (names and contents) and the build args. */
export const hashBuildInputs = async (build: ImageBuildSpec): Promise<string> => {
  const h = createHash("sha256");
  h.update(await readFile(build.containerfile)).update("\0").update(JSON.stringify(Object.entries(build.args).sort()));
  for (const file of await listFiles(resolve(build.context))) {
    h.update("\0").update(file).update("\0").update(await readFile(join(resolve(build.context), file)));
  }
  return h.digest("hex").slice(0, 16);
};

interface StreamMessage {
  stream?: string;
  status?: string;
  progress?: string;
  id?: string;
  error?: string;
  errorDetail?: { message?: string };
}

/** Reads a pull/build JSON stream, passes each line to `progress`, throws on an error line. */
export const streamProgress = async (stream: NodeJS.ReadableStream, progress: Progress, what: string): Promise<void> => {
  const lines = createInterface({ input: stream as Readable, crlfDelay: Infinity });
  let failure: string | undefined;
  for await (const line of lines) {
    if (!line.trim()) continue;
    let msg: StreamMessage;
    try {
      msg = JSON.parse(line) as StreamMessage;
    } catch {
      progress(line);
      continue;
    }
    if (msg.error || msg.errorDetail?.message) {
      failure = msg.errorDetail?.message ?? msg.error;
      continue;
    }
    const text = (msg.stream ?? [msg.status, msg.id, msg.progress].filter(Boolean).join(" ")).trimEnd();
    for (const l of text.split("\n")) if (l.trim()) progress(l);
  }
  if (failure !== undefined) throw new PodwardenError("E_IMAGE", `${what} failed: ${failure.trim()}`);
};

const run = (cmd: string, args: string[], progress: Progress, signal?: AbortSignal): Promise<void> =>
  new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], ...(signal ? { signal } : {}) });
    for (const s of [child.stdout, child.stderr]) {
      createInterface({ input: s }).on("line", (l) => l.trim() && progress(l));
    }
    child.once("error", (err) =>
      reject(new PodwardenError("E_IMAGE", `${cmd}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "not installed (apt-get install debootstrap)" : err.message}`, { cause: err })),
    );
    child.once("close", (code) => (code === 0 ? resolvePromise() : reject(new PodwardenError("E_IMAGE", `${cmd} exited with code ${code}`))));
  });

/**
 * Bootstraps a minimal Debian root file system in a temporary directory and hands a tar
 * stream of it to `importTar`. The directory is always removed afterwards.
 */
export const bootstrapRootfs = async (
  spec: DebootstrapSpec,
  progress: Progress,
  signal: AbortSignal | undefined,
  importTar: (tar: Readable) => Promise<unknown>,
): Promise<void> => {
  const dir = await mkdtemp(resolve(process.platform === "linux" ? "/var/tmp" : tmpdir(), "podwarden-rootfs-"));
  try {
    await run("debootstrap", [`--variant=${spec.variant}`, spec.suite, `${dir}/rootfs`, spec.mirror], progress, signal);
    progress("importing the root file system into Podman");
    // GNU tar keeps device nodes, owners and hard links exactly as debootstrap made them.
    // Downloaded packages and package lists are left out: every build refreshes them anyway.
    const packer = spawn(
      "tar",
      ["-C", `${dir}/rootfs`, "--numeric-owner", "--exclude=./var/cache/apt/archives/*.deb", "--exclude=./var/lib/apt/lists/*_*", "-c", "."],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const exited = new Promise<number | null>((r) => packer.once("close", r));
    await importTar(packer.stdout);
    if ((await exited) !== 0) throw new PodwardenError("E_IMAGE", "tar of the bootstrapped root file system failed");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
};
