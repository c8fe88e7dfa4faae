// Finds the Podman API socket: --socket, then CONTAINER_HOST / DOCKER_HOST (unix:// only),
// then the rootful path, then the rootless one.

import { PodmanUnavailableError } from "../lib/errors.js";

export interface SocketSources {
  readonly flag?: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly uid: number;
  readonly exists: (path: string) => boolean;
}

const fromUrl = (value: string, origin: string): string => {
  if (value.startsWith("unix://")) return value.slice("unix://".length);
  if (value.startsWith("/")) return value;
  throw new PodmanUnavailableError(`${origin}=${value}: only unix sockets are supported (unix:///path/to/podman.sock)`);
};

export const socketCandidates = (s: SocketSources): { path: string; origin: string }[] => {
  if (s.flag) return [{ path: fromUrl(s.flag, "--socket"), origin: "--socket" }];
  for (const key of ["CONTAINER_HOST", "DOCKER_HOST"] as const) {
    const v = s.env[key];
    if (v) return [{ path: fromUrl(v, key), origin: key }];
  }
  const runtimeDir = s.env.XDG_RUNTIME_DIR ?? `/run/user/${s.uid}`;
  return [
    { path: "/run/podman/podman.sock", origin: "default (rootful)" },
    { path: `${runtimeDir}/podman/podman.sock`, origin: "default (rootless)" },
  ];
};

/** The first candidate that exists; an explicit choice is returned even if missing (the ping will say so). */
export const discoverSocket = (s: SocketSources): { path: string; origin: string } => {
  const candidates = socketCandidates(s);
  if (candidates.length === 1) return candidates[0]!;
  const found = candidates.find((c) => s.exists(c.path));
  if (found) return found;
  throw new PodmanUnavailableError(
    `no Podman API socket found (tried ${candidates.map((c) => c.path).join(", ")}); ` +
      "start it with `systemctl enable --now podman.socket` or `podman system service --time=0 unix:///run/podman/podman.sock &`, or pass --socket",
  );
};
