// The host as the checks see it: paths, modes, free space, who holds a port, which binaries
// are on PATH, whether this process runs in a systemd unit with a private /tmp. A thin edge
// over node:fs and /proc; the parsing is pure and exported for tests.

import { constants } from "node:fs";
import { access, readFile, readdir, readlink, stat, statfs } from "node:fs/promises";
import { createSocket } from "node:dgram";
import { createServer } from "node:net";
import { delimiter, dirname, join } from "node:path";
import { processArgv } from "../lib/proc.js";

export interface PathFacts {
  readonly exists: boolean;
  readonly isDirectory: boolean;
  readonly writable: boolean;
  /** When the path does not exist: its nearest existing ancestor. */
  readonly ancestor?: { readonly path: string; readonly isDirectory: boolean; readonly writable: boolean };
  /** Bytes available to this user on the file system of the path (or of its ancestor). */
  readonly freeBytes?: number;
}

export interface PortHolder {
  /** Undefined when the socket belongs to no process this user may look at. */
  readonly pid: number | undefined;
  /** The process's argv (empty when unknown). */
  readonly argv: readonly string[];
}

export interface PortQuery {
  readonly port: number;
  readonly protocol: "tcp" | "udp";
}

export interface HostFacts {
  path(path: string): Promise<PathFacts>;
  /** The file's permission bits, or undefined when it cannot be read. */
  fileMode(path: string): Promise<number | undefined>;
  /** The binary's path on $PATH, or undefined. */
  which(binary: string): Promise<string | undefined>;
  /** Per "tcp/4096": the processes listening on (or bound to, for udp) that port, any address. */
  portHolders(ports: readonly PortQuery[]): Promise<ReadonlyMap<string, readonly PortHolder[]>>;
  /**
   * underUnit: started by systemd (INVOCATION_ID). hidden: and its /tmp is not the /tmp of the
   * rest of the host (PrivateTmp=yes): a separate mount namespace, or one that cannot be compared.
   */
  unitTmp(): Promise<{ readonly underUnit: boolean; readonly hidden: boolean }>;
  /** A TCP port nobody listens on right now. */
  freePort(): Promise<number>;
}

export const portKey = (q: PortQuery): string => `${q.protocol}/${q.port}`;

const TCP_LISTEN = "0A";

/**
 * Socket inodes bound to `port` in the text of /proc/net/{tcp,tcp6,udp,udp6}: TCP sockets
 * that listen, UDP sockets of any state.
 */
export const socketInodes = (procNet: string, port: number, protocol: "tcp" | "udp"): string[] => {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  const inodes: string[] = [];
  for (const line of procNet.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    const local = f[1];
    if (local === undefined || f[9] === undefined) continue;
    if (local.slice(local.lastIndexOf(":") + 1).toUpperCase() !== hexPort) continue;
    if (protocol === "tcp" && f[3] !== TCP_LISTEN) continue;
    if (f[9] !== "0") inodes.push(f[9]);
  }
  return inodes;
};

/** "socket:[61366]" -> "61366". */
export const socketInodeOfLink = (link: string): string | undefined => /^socket:\[(\d+)\]$/.exec(link)?.[1];

const readText = (path: string): Promise<string> => readFile(path, "utf8").catch(() => "");

/**
 * Whether this process can bind the port on every address now (and so nobody listens on it,
 * or holds it for UDP). A refusal for any reason (in use, a privileged port) is a no: then
 * /proc says who, if anyone.
 */
const canBind = (q: PortQuery): Promise<boolean> =>
  new Promise((resolve) => {
    if (q.protocol === "udp") {
      const socket = createSocket("udp4");
      socket.once("error", () => {
        socket.close();
        resolve(false);
      });
      socket.bind({ port: q.port, exclusive: true }, () => socket.close(() => resolve(true)));
      return;
    }
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ port: q.port, host: "0.0.0.0", exclusive: true }, () => server.close(() => resolve(true)));
  });

/** Which process has each inode open: one walk over /proc/<pid>/fd. */
const ownersOf = async (inodes: ReadonlySet<string>): Promise<Map<string, number>> => {
  const owners = new Map<string, number>();
  if (inodes.size === 0) return owners;
  const pids = (await readdir("/proc").catch(() => [] as string[])).filter((p) => /^\d+$/.test(p));
  await Promise.all(
    pids.map(async (pid) => {
      const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
      for (const fd of fds) {
        const inode = socketInodeOfLink(await readlink(`/proc/${pid}/fd/${fd}`).catch(() => ""));
        if (inode !== undefined && inodes.has(inode) && !owners.has(inode)) owners.set(inode, Number(pid));
      }
    }),
  );
  return owners;
};


const isWritable = (path: string): Promise<boolean> => access(path, constants.W_OK).then(() => true, () => false);

const freeBytes = async (path: string): Promise<number | undefined> => {
  try {
    const s = await statfs(path);
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
};

/** The real edges, for this process's environment. */
export const nodeHostFacts = (env: Readonly<Record<string, string | undefined>>): HostFacts => ({
  async path(path) {
    const s = await stat(path).catch(() => undefined);
    if (s) return { exists: true, isDirectory: s.isDirectory(), writable: await isWritable(path), freeBytes: await freeBytes(path) };
    let up = dirname(path);
    for (;;) {
      const a = await stat(up).catch(() => undefined);
      if (a) {
        return {
          exists: false,
          isDirectory: false,
          writable: false,
          ancestor: { path: up, isDirectory: a.isDirectory(), writable: await isWritable(up) },
          freeBytes: await freeBytes(up),
        };
      }
      if (up === dirname(up)) return { exists: false, isDirectory: false, writable: false };
      up = dirname(up);
    }
  },

  fileMode: async (path) => (await stat(path).catch(() => undefined))?.mode,

  async which(binary) {
    for (const dir of (env.PATH ?? "").split(delimiter).filter(Boolean)) {
      const candidate = join(dir, binary);
      if (await access(candidate, constants.X_OK).then(() => true, () => false)) return candidate;
    }
    return undefined;
  },

  async portHolders(ports) {
    // A port this process can bind is held by nobody: only the others are looked up in /proc,
    // whose socket tables take the kernel some 12 ms to write out on this host.
    const free = await Promise.all(ports.map(canBind));
    const taken = ports.filter((_, i) => !free[i]);
    if (taken.length === 0) return new Map(ports.map((q) => [portKey(q), []]));
    const [tcp, tcp6, udp, udp6] = await Promise.all(["/proc/net/tcp", "/proc/net/tcp6", "/proc/net/udp", "/proc/net/udp6"].map(readText));
    const tables = { tcp: tcp! + tcp6!, udp: udp! + udp6! };
    const wanted = new Map(ports.map((q, i) => [portKey(q), free[i] ? [] : socketInodes(tables[q.protocol], q.port, q.protocol)]));
    const owners = await ownersOf(new Set([...wanted.values()].flat()));
    const result = new Map<string, PortHolder[]>();
    for (const [key, inodes] of wanted) {
      const pids = [...new Set(inodes.map((i) => owners.get(i)))];
      result.set(key, await Promise.all(pids.map(async (pid) => ({ pid, argv: pid === undefined ? [] : await processArgv(pid) }))));
    }
    return result;
  },

  async unitTmp() {
    const underUnit = (env.INVOCATION_ID ?? "") !== "";
    if (!underUnit) return { underUnit, hidden: false };
    const [self, init] = await Promise.all([readlink("/proc/self/ns/mnt").catch(() => ""), readlink("/proc/1/ns/mnt").catch(() => "")]);
    // Unknown (no right to look at PID 1, as under the shipped unit): assume the unit's PrivateTmp=yes.
    return { underUnit, hidden: self === "" || init === "" || self !== init };
  },

  freePort: () =>
    new Promise((resolve, reject) => {
      const server = createServer();
      server.once("error", reject);
      server.listen(0, "0.0.0.0", () => {
        const address = server.address();
        server.close(() => (address && typeof address === "object" ? resolve(address.port) : reject(new Error("no port"))));
      });
    }),
});
