import { describe, expect, it } from "vitest";
import { classifyHostError, hostProblemIn } from "../../../src/domain/host-problems.js";

// Error texts as Podman 4.3 / runc 1.1 / crun / CNI print them (seen on these machines where noted).
describe("classifyHostError", () => {
  it.each([
    // Seen: a fresh Debian 12 host, and an isolated Podman service without catatonit.
    ['pod.create: failed to make pod: building local pause image: finding pause binary: exec: "catatonit": executable file not found in $PATH', "catatonit", "apt-get install catatonit"],
    // Seen: an isolated service without the default_ulimits drop-in.
    [
      "pod.start: starting container e474: runc: runc create failed: unable to start container process: error during container init: error setting rlimits for ready process: error setting rlimit type 7: operation not permitted: OCI permission denied",
      "rlimits",
      "default_ulimits",
    ],
    ["crun: setrlimit `RLIMIT_NPROC`: Operation not permitted: OCI permission denied", "rlimits", "default_ulimits"],
    ["crun: cgroups in hybrid mode not supported, drop all controllers from cgroupv2: OCI runtime error", "cgroups", 'runtime = "runc"'],
    ['default OCI runtime "crun" not found: invalid argument', "oci-runtime", "apt-get install runc"],
    ["could not find a working conmon binary (configured options: [/usr/libexec/podman/conmon /usr/bin/conmon])", "conmon", "apt-get install conmon"],
    // Seen: an isolated service whose cni_plugin_dirs is empty.
    ['pod.start: starting container cefa: plugin type="bridge" failed (add): failed to find plugin "bridge" in path [/x/nocni]', "cni-plugin", "apt-get install containernetworking-plugins"],
    ['plugin type="portmap" failed (add): exec: "iptables": executable file not found in $PATH', "iptables", "apt-get install iptables"],
    ['could not find "netavark" in one of [/usr/local/libexec/podman /usr/libexec/podman]', "netavark", 'network_backend = "cni"'],
    ["container.create: statfs /tmp/pw-e2e-1/persist/valkey: no such file or directory", "mount-source", "pod.persistRoot"],
    ["write /var/lib/containers/storage/overlay/x: no space left on device", "disk-full", "podman system df"],
    ["rootlessport listen tcp 0.0.0.0:4096: bind: address already in use", "port-in-use", "pod.ports"],
  ])("%s -> %s", (text, id, fix) => {
    const c = classifyHostError(text);
    expect(c?.id).toBe(id);
    expect(c?.fix).toContain(fix);
    expect(c?.cause.length).toBeLessThan(70);
  });

  it("names the taken host port (Podman 4.3's words when the infra container cannot start)", () => {
    const seen = "container.start: the pod's infra container does not start: cannot listen on the TCP port: listen tcp4 :47613: bind: address already in use";
    expect(classifyHostError(seen)).toMatchObject({ id: "port-in-use", cause: "host port 47613 is taken", port: { port: 47613, protocol: "tcp" } });
    expect(classifyHostError("listen udp4 127.0.0.1:5353: bind: address already in use")).toMatchObject({ cause: "host port 5353/udp is taken", port: { port: 5353, protocol: "udp" } });
    expect(classifyHostError("bind: address already in use")).toMatchObject({ cause: "a published host port is taken" });
    expect(classifyHostError("bind: address already in use")?.port).toBeUndefined();
    expect(hostProblemIn(null, [["valkey", seen]])).toEqual({
      check: "valkey",
      cause: "host port 47613 is taken",
      fix: expect.stringContaining("pod.ports") as string,
      port: { port: 47613, protocol: "tcp" },
    });
  });

  it("names the missing piece in the cause", () => {
    expect(classifyHostError('failed to find plugin "portmap" in path [/usr/lib/cni]')?.cause).toBe("CNI plugin portmap missing");
    expect(classifyHostError('default OCI runtime "crun" not found')?.cause).toBe("OCI runtime crun missing");
    expect(classifyHostError("statfs /tmp/x/valkey: no such file or directory")?.cause).toContain("/tmp/x/valkey");
  });

  it.each([
    "container.start: container exited with code 1",
    "Podman API socket unreachable (ECONNREFUSED)",
    "not ready after 900000 ms",
    "pod.create: name pw is in use: pod already exists",
  ])("leaves unknown errors alone: %s", (text) => {
    expect(classifyHostError(text)).toBeUndefined();
  });
});

describe("hostProblemIn", () => {
  it("prefers the pass error, then the first container failure it recognises", () => {
    expect(hostProblemIn('pod.create: exec: "catatonit": executable file not found in $PATH', [["valkey", "statfs /x: no such file or directory"]])).toEqual({
      check: "pod",
      cause: "catatonit missing",
      fix: "apt-get install catatonit",
    });
    expect(hostProblemIn(null, [["valkey", "exited 1"], ["falkordb", "container.create: statfs /tmp/p/falkordb: no such file or directory"]])).toMatchObject({
      check: "falkordb",
      fix: expect.stringContaining("pod.persistRoot"),
    });
    expect(hostProblemIn("Podman API socket unreachable (ENOENT)", [["valkey", null]])).toBeUndefined();
  });
});
