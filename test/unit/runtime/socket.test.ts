import { describe, expect, it } from "vitest";
import { discoverSocket } from "../../../src/runtime/socket.js";
import { PodmanUnavailableError } from "../../../src/lib/errors.js";

const none = () => false;

describe("socket discovery", () => {
  it("prefers --socket, accepting unix:// URLs and plain paths", () => {
    expect(discoverSocket({ flag: "unix:///tmp/p.sock", env: { CONTAINER_HOST: "unix:///x" }, uid: 0, exists: none }).path).toBe("/tmp/p.sock");
    expect(discoverSocket({ flag: "/tmp/q.sock", env: {}, uid: 0, exists: none }).path).toBe("/tmp/q.sock");
  });

  it("then CONTAINER_HOST, then DOCKER_HOST", () => {
    expect(discoverSocket({ env: { CONTAINER_HOST: "unix:///a.sock", DOCKER_HOST: "unix:///b.sock" }, uid: 0, exists: none })).toEqual({ path: "/a.sock", origin: "CONTAINER_HOST" });
    expect(discoverSocket({ env: { DOCKER_HOST: "unix:///b.sock" }, uid: 0, exists: none })).toEqual({ path: "/b.sock", origin: "DOCKER_HOST" });
  });

  it("rejects TCP hosts with a message naming the variable", () => {
    expect(() => discoverSocket({ env: { DOCKER_HOST: "tcp://10.0.0.1:2375" }, uid: 0, exists: none })).toThrow(/DOCKER_HOST=tcp:\/\/10\.0\.0\.1:2375: only unix sockets/);
  });

  it("falls back to the rootful socket, then the rootless one", () => {
    expect(discoverSocket({ env: {}, uid: 0, exists: (p) => p === "/run/podman/podman.sock" }).path).toBe("/run/podman/podman.sock");
    expect(discoverSocket({ env: {}, uid: 1000, exists: (p) => p === "/run/user/1000/podman/podman.sock" }).path).toBe("/run/user/1000/podman/podman.sock");
    expect(discoverSocket({ env: { XDG_RUNTIME_DIR: "/xdg" }, uid: 1000, exists: (p) => p === "/xdg/podman/podman.sock" }).path).toBe("/xdg/podman/podman.sock");
  });

  it("says how to start the service when no socket exists", () => {
    const attempt = () => discoverSocket({ env: {}, uid: 0, exists: none });
    expect(attempt).toThrow(PodmanUnavailableError);
    expect(attempt).toThrow(/podman system service/);
  });
});
