// The checks against the in-memory runtime and a scripted host: what each finds, and the fix.

import { describe, expect, it } from "vitest";
import { runChecks, type CheckInput } from "../../../src/doctor/checks.js";
import type { HostFacts, PathFacts, PortHolder } from "../../../src/doctor/host-facts.js";
import { exitCodeFor, type Check } from "../../../src/doctor/report.js";
import type { PodSpec } from "../../../src/domain/spec.js";
import { ConfigError } from "../../../src/lib/errors.js";
import { FakeClock } from "../../support/fake-clock.js";
import { FakeRuntime } from "../../support/fake-runtime.js";
import { chainSpec } from "../../support/pod-spec.js";

const GiB = 1024 ** 3;

const host = ({ holders = {}, path, ...over }: Partial<Omit<HostFacts, "path">> & { holders?: Record<string, PortHolder[]>; path?: PathFacts } = {}): HostFacts => ({
  path: async () => path ?? { exists: true, isDirectory: true, writable: true, freeBytes: 50 * GiB },
  fileMode: async () => 0o100600,
  which: async (b) => `/usr/sbin/${b}`,
  portHolders: async (ports) => new Map(ports.map((p) => [`${p.protocol}/${p.port}`, holders[`${p.protocol}/${p.port}`] ?? []])),
  unitTmp: async () => ({ underUnit: false, hidden: false }),
  freePort: async () => 45_000,
  ...over,
});

const spec = (over: Partial<PodSpec> = {}): PodSpec =>
  chainSpec({ ports: [{ host: 4096, container: 4096, protocol: "tcp" }], envFile: "/run/secrets/opencode.env", persistRoot: "/persist/containers", ...over });

const setup = (images = spec().containers.map((c) => c.image)) => new FakeRuntime(new FakeClock(), images);

const check = (input: Partial<CheckInput> & { runtime?: FakeRuntime }): Promise<Check[]> =>
  runChecks({
    socket: "/run/podman/podman.sock",
    runtime: input.runtime ?? setup(),
    config: input.config ?? { spec: spec(), secretCount: 2, warnings: [] },
    facts: input.facts ?? host(),
    probe: input.probe ?? "always",
    info: input.info ?? true,
    probeName: "podwarden-doctor-test",
    ...(input.socketError !== undefined ? { socketError: input.socketError } : {}),
    ...(input.removeLater ? { removeLater: input.removeLater } : {}),
    ...(input.realPod ? { realPod: input.realPod } : {}),
    ...(input.createAhead ? { createAhead: input.createAhead } : {}),
  });

const byName = (checks: readonly Check[], name: string): Check[] => checks.filter((c) => c.name === name);

describe("runChecks", () => {
  it("all is well: every line ok, exit 0, and the throwaway pod is made, started and removed", async () => {
    const runtime = setup();
    const checks = await check({ runtime });
    expect(checks.map((c) => [c.name, c.status])).toEqual([
      ["socket", "ok"],
      ["runtime", "ok"],
      ["config", "ok"],
      ["env-file", "ok"],
      ["persist-root", "ok"],
      ["port 4096", "ok"],
      ...spec().containers.map(() => ["image", "ok"]),
    ]);
    expect(checks[0]!.detail).toContain("runtime runc fake, network cni, cgroups v2 (systemd)");
    expect(byName(checks, "env-file")[0]!.detail).toBe("/run/secrets/opencode.env: 2 keys, mode 0600");
    expect(exitCodeFor(checks)).toBe(0);
    expect(runtime.journal.map((j) => [j.op, j.name])).toEqual([
      ["create-pod", "podwarden-doctor-test"],
      ["start-pod", "podwarden-doctor-test"],
      ["remove-pod", "podwarden-doctor-test"],
    ]);
    expect(runtime.pod).toBeNull();
  });

  it("a pod that cannot be made: the cause and the fix, blocking, exit 72, nothing left", async () => {
    const runtime = setup();
    runtime.podCreateFault = 'failed to make pod: building local pause image: finding pause binary: exec: "catatonit": executable file not found in $PATH';
    const checks = await check({ runtime });
    const [r] = byName(checks, "runtime");
    expect(r).toMatchObject({ status: "error", blocking: true, cause: "catatonit missing", fix: "apt-get install catatonit" });
    expect(r!.detail).toContain("finding pause binary");
    expect(exitCodeFor(checks)).toBe(72);
    expect(runtime.pod).toBeNull();
  });

  it("an error it does not know: an error (exit 72) with Podman's words, but not blocking", async () => {
    const runtime = setup();
    runtime.podCreateFault = "something odd";
    const [r] = byName(await check({ runtime }), "runtime");
    expect(r).toMatchObject({ status: "error", detail: "a throwaway pod failed: pod.create: something odd" });
    expect(r!.blocking).toBeUndefined();
  });

  it("up and run do not remove the throwaway pod themselves: the removal is handed over once it has started, and a failed one names the fix", async () => {
    const runtime = setup();
    const handed: Promise<void>[] = [];
    let release!: () => void;
    const removing = new Promise<void>((resolve) => (release = resolve));
    const remove = runtime.removePod.bind(runtime);
    runtime.removePod = async (name) => {
      await removing;
      await remove(name);
      throw new Error("pod is busy");
    };
    const checks = await check({ runtime, probe: "unless-running", removeLater: (remove) => void handed.push(remove()) });
    // The verdict is in before the removal has run.
    expect(byName(checks, "runtime")[0]).toMatchObject({ status: "ok" });
    expect(handed).toHaveLength(1);
    expect(runtime.pod).not.toBeNull();
    release();
    await expect(handed[0]).rejects.toThrow("the throwaway pod podwarden-doctor-test was not removed (pod is busy): podman pod rm -f podwarden-doctor-test");
    // A pod that cannot be made is cleaned up before the verdict, as doctor does.
    const failing = setup();
    failing.podCreateFault = "something odd";
    const later: (() => Promise<void>)[] = [];
    await check({ runtime: failing, probe: "unless-running", removeLater: (remove) => void later.push(remove) });
    expect(later).toHaveLength(0);
  });

  it("up and run skip the throwaway pod when the pod already runs", async () => {
    const runtime = setup();
    await runtime.createPod({ name: "testpod", labels: {}, ports: [] });
    const checks = await check({ runtime, probe: "unless-running" });
    expect(byName(checks, "runtime")[0]!.detail).toContain("pod testpod is running");
    expect(runtime.journal.filter((j) => j.op === "create-pod")).toHaveLength(1);
  });

  describe("up and run with no pod yet: the real pod is the runtime check", () => {
    const realPod = { name: "testpod", labels: { "io.podwarden.spec-hash": "h1" }, ports: spec().ports };

    it("made and its infra started, and left for the start: no throwaway pod", async () => {
      const runtime = setup();
      const checks = await check({ runtime, probe: "unless-running", realPod, removeLater: () => expect.unreachable("no throwaway pod to remove") });
      expect(byName(checks, "runtime")[0]).toMatchObject({ status: "ok" });
      expect(byName(checks, "runtime")[0]!.detail).toMatch(/^pod testpod made and its infra started/);
      expect(runtime.journal.map((j) => [j.op, j.name])).toEqual([
        ["create-pod", "testpod"],
        ["start-pod", "testpod"],
      ]);
      expect(runtime.pod).toMatchObject({ name: "testpod", labels: realPod.labels });
    });

    it("one that cannot start: removed again, the cause and fix named, blocking", async () => {
      const runtime = setup();
      runtime.podStartFault = 'failed to make pod: building local pause image: finding pause binary: exec: "catatonit": executable file not found in $PATH';
      const checks = await check({ runtime, probe: "unless-running", realPod });
      expect(byName(checks, "runtime")[0]).toMatchObject({ status: "error", blocking: true, cause: "catatonit missing" });
      expect(runtime.pod).toBeNull();
      runtime.podStartFault = "something odd";
      const odd = await check({ runtime, probe: "unless-running", realPod });
      expect(byName(odd, "runtime")[0]).toMatchObject({ status: "error", detail: "pod testpod failed: pod.start: something odd" });
      expect(runtime.pod).toBeNull();
    });

    it("another check blocks (a port taken by another process): the pod made here is removed again", async () => {
      const runtime = setup();
      const facts = host({ holders: { "tcp/4096": [{ pid: 4321, argv: ["python3", "-m", "http.server", "4096"] }] } });
      const checks = await check({ runtime, probe: "unless-running", realPod, facts });
      expect(byName(checks, "port 4096")[0]).toMatchObject({ status: "error", blocking: true });
      expect(byName(checks, "runtime")[0]).toMatchObject({ status: "ok" });
      expect(runtime.journal.map((j) => j.op)).toEqual(["create-pod", "start-pod", "remove-pod"]);
      expect(runtime.pod).toBeNull();
    });

    it("a port taken in the moment after the ports were looked at: the pod's start fails, naming the port and its holder", async () => {
      const runtime = setup();
      runtime.podStartFault = "cannot listen on the TCP port: listen tcp4 :4096: bind: address already in use";
      let asked = 0;
      const squatter = { pid: 4321, argv: ["python3", "-m", "http.server", "4096"] };
      // Free when the ports are looked at; taken by the time the pod's infra binds them.
      const facts = host({ portHolders: async (ports) => new Map(ports.map((p) => [`${p.protocol}/${p.port}`, asked++ === 0 ? [] : [squatter]])) });
      const checks = await check({ runtime, probe: "unless-running", realPod, facts });
      expect(byName(checks, "port 4096")[0]).toMatchObject({ status: "ok" });
      const r = byName(checks, "runtime")[0]!;
      expect(r).toMatchObject({ status: "error", blocking: true, cause: "host port 4096 is taken" });
      expect(r.detail).toBe("host port 4096 is taken, held by pid 4321 (python3 -m http.server 4096) (Podman: pod.start: cannot listen on the TCP port: listen tcp4 :4096: bind: address already in use)");
      expect(runtime.pod).toBeNull();
    });

    it("while the infra starts, creating ahead is told whether every other check passed", async () => {
      const told: boolean[] = [];
      const createAhead = async (othersPassed: Promise<boolean>): Promise<void> => void told.push(await othersPassed);
      await check({ runtime: setup(), probe: "unless-running", realPod, createAhead });
      const facts = host({ holders: { "tcp/4096": [{ pid: 4321, argv: ["python3", "-m", "http.server", "4096"] }] } });
      await check({ runtime: setup(), probe: "unless-running", realPod, facts, createAhead });
      expect(told).toEqual([true, false]);
    });

    it("an infra that cannot start: the pod goes once what was created ahead is created (with it)", async () => {
      const runtime = setup();
      runtime.podStartFault = "something odd";
      let created!: () => void;
      const createAhead = (): Promise<void> => new Promise<void>((resolve) => (created = resolve));
      const checks = check({ runtime, probe: "unless-running", realPod, createAhead });
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(runtime.pod).not.toBeNull();
      created();
      expect(byName(await checks, "runtime")[0]).toMatchObject({ status: "error" });
      expect(runtime.pod).toBeNull();
    });

    it("doctor never makes the real pod; a pod that exists but does not run gets a throwaway pod", async () => {
      const runtime = setup();
      await check({ runtime, probe: "always", realPod });
      expect(runtime.journal.map((j) => j.name)).toEqual(["podwarden-doctor-test", "podwarden-doctor-test", "podwarden-doctor-test"]);
    });
  });

  it("no Podman: one socket error (exit 69), nothing that needs Podman", async () => {
    const runtime = setup();
    runtime.unavailable = true;
    const checks = await check({ runtime });
    expect(checks[0]).toMatchObject({ name: "socket", status: "error", kind: "podman" });
    expect(checks[0]!.fix).toContain("podman.socket");
    expect(byName(checks, "runtime")).toEqual([]);
    expect(byName(checks, "image")).toEqual([]);
    expect(exitCodeFor(checks)).toBe(69);
  });

  it("a config that does not load: one error per problem (exit 78); Podman is still checked", async () => {
    const error = new ConfigError([
      { file: "/etc/p.yaml", path: "pod.envFile", message: "cannot read env file /run/secrets/opencode.env: no such file" },
      { file: "/etc/p.yaml", path: "pod.ports[1]", message: "must be 1-65535" },
    ]);
    const checks = await check({ config: { error } });
    expect(byName(checks, "config").map((c) => [c.status, c.detail])).toEqual([
      ["error", "/etc/p.yaml: pod.envFile: cannot read env file /run/secrets/opencode.env: no such file"],
      ["error", "/etc/p.yaml: pod.ports[1]: must be 1-65535"],
    ]);
    expect(byName(checks, "runtime")[0]!.status).toBe("ok");
    expect(exitCodeFor(checks)).toBe(78);
  });

  it("every config warning is a warn line; the env file's mode is said once, on its own line, with chmod", async () => {
    const warnings = [
      "/etc/p.yaml: containers.datadog: DD_API_KEY is not in the env file: the Agent exits without it",
      "/etc/p.yaml: pod.envFile: env file /x holds secrets but is accessible by group or others (mode 0644); chmod 600 it",
    ];
    const checks = await check({ config: { spec: spec(), secretCount: 1, warnings }, facts: host({ fileMode: async () => 0o100644 }) });
    expect(byName(checks, "config").map((c) => c.status)).toEqual(["ok", "warn"]);
    expect(byName(checks, "config")[1]!.detail).toContain("DD_API_KEY");
    expect(byName(checks, "env-file")[0]).toMatchObject({ status: "warn", fix: "chmod 600 /run/secrets/opencode.env" });
    expect(byName(checks, "env-file")[0]!.detail).toContain("1 key, mode 0644");
    expect(exitCodeFor(checks)).toBe(0);
  });

  describe("persistRoot", () => {
    const tmpSpec = spec({ persistRoot: "/tmp/pw/persist" });
    const missing: PathFacts = { exists: false, isDirectory: false, writable: false, ancestor: { path: "/tmp", isDirectory: true, writable: true }, freeBytes: 9 * GiB };

    it("under /tmp in a unit with a private /tmp: a config error naming pod.persistRoot (exit 78)", async () => {
      const checks = await check({ config: { spec: tmpSpec, secretCount: 1, warnings: [] }, facts: host({ path: missing, unitTmp: async () => ({ underUnit: true, hidden: true }) }) });
      const [p] = byName(checks, "persist-root");
      expect(p).toMatchObject({ status: "error", kind: "config", field: "pod.persistRoot", blocking: true });
      expect(p!.detail).toContain("statfs");
      expect(p!.fix).toContain("outside /tmp and /var/tmp");
      expect(exitCodeFor(checks)).toBe(78);
    });

    it("under /tmp from a shell: a warning with the same fix", async () => {
      const checks = await check({ config: { spec: tmpSpec, secretCount: 1, warnings: [] }, facts: host({ path: missing }) });
      expect(byName(checks, "persist-root")).toMatchObject([{ status: "warn", fix: expect.stringContaining("outside /tmp") }]);
    });

    it.each([
      [{ exists: false, isDirectory: false, writable: false, ancestor: { path: "/persist", isDirectory: true, writable: true }, freeBytes: 9 * GiB }, "ok", "will be created under /persist"],
      [{ exists: false, isDirectory: false, writable: false, ancestor: { path: "/persist", isDirectory: true, writable: false } }, "error", "cannot be created (/persist is not writable)"],
      [{ exists: false, isDirectory: false, writable: false, ancestor: { path: "/persist", isDirectory: false, writable: true } }, "error", "(/persist is not a directory)"],
      [{ exists: true, isDirectory: false, writable: true }, "error", "not a directory"],
      [{ exists: true, isDirectory: true, writable: false }, "error", "not writable"],
      [{ exists: true, isDirectory: true, writable: true, freeBytes: 0.2 * GiB }, "warn", "only 0.2 GiB free"],
    ] as [PathFacts, string, string][])("%# %j", async (path, status, text) => {
      const [p] = byName(await check({ facts: host({ path }) }), "persist-root");
      expect(p!.status).toBe(status);
      expect(p!.detail).toContain(text);
      if (status === "error") expect(p!.blocking).toBe(true);
    });
  });

  describe("host ports", () => {
    it("held by another process: names its pid and command, blocking", async () => {
      const holders = { "tcp/4096": [{ pid: 4242, argv: ["/usr/bin/python3", "-m", "http.server", "4096"] }] };
      const [p] = byName(await check({ facts: host({ holders }) }), "port 4096");
      expect(p).toMatchObject({ status: "error", blocking: true, detail: "held by pid 4242 (/usr/bin/python3 -m http.server 4096)" });
      expect(p!.fix).toContain('"HOST:4096"');
    });

    it("held by this pod's own conmon: fine", async () => {
      const runtime = setup();
      await runtime.createPod({ name: "testpod", labels: {}, ports: [] });
      const podId = (await runtime.observe("testpod")).pod!.id;
      const holders = { "tcp/4096": [{ pid: 77, argv: ["/usr/bin/conmon", "-c", "abc", "-n", `${podId.slice(0, 12)}-infra`] }] };
      const [p] = byName(await check({ runtime, facts: host({ holders }), probe: "unless-running" }), "port 4096");
      expect(p).toMatchObject({ status: "ok", detail: "held by pod testpod's own conmon (pid 77)" });
    });

    it("held by a process outside this PID namespace while the pod exists (podwarden in a container): fine; without the pod: blocking", async () => {
      const holders = { "tcp/4096": [{ pid: undefined, argv: [] }] };
      const runtime = setup();
      await runtime.createPod({ name: "testpod", labels: {}, ports: [] });
      const [withPod] = byName(await check({ runtime, facts: host({ holders }), probe: "unless-running" }), "port 4096");
      expect(withPod).toMatchObject({ status: "ok", detail: expect.stringContaining("pod testpod exists and publishes this port") });
      const [without] = byName(await check({ facts: host({ holders }) }), "port 4096");
      expect(without).toMatchObject({ status: "error", blocking: true, detail: "held by a process podwarden cannot see" });
    });

    it("held by a conmon while Podman does not answer: a warning (it may be this pod's), not a block", async () => {
      const runtime = setup();
      runtime.unavailable = true;
      const holders = { "tcp/4096": [{ pid: 77, argv: ["/usr/bin/conmon", "-n", "0123456789ab-infra"] }] };
      const [p] = byName(await check({ runtime, facts: host({ holders }) }), "port 4096");
      expect(p).toMatchObject({ status: "warn", detail: expect.stringContaining("which pod cannot be told now") });
    });

    it("held by another pod's conmon while Podman answers: blocking", async () => {
      const holders = { "tcp/4096": [{ pid: 77, argv: ["/usr/bin/conmon", "-n", "0123456789ab-infra"] }] };
      const [p] = byName(await check({ facts: host({ holders }) }), "port 4096");
      expect(p).toMatchObject({ status: "error", blocking: true, detail: "held by pid 77 (/usr/bin/conmon -n 0123456789ab-infra)" });
    });
  });

  describe("images", () => {
    const withImages = spec({
      images: {
        "localhost/base:bookworm": { ref: "localhost/base:bookworm", debootstrap: { suite: "bookworm", variant: "minbase", mirror: "http://deb.debian.org/debian" } },
        "localhost/valkey:test": { ref: "localhost/valkey:test", from: "localhost/base:bookworm", build: { containerfile: "/c/valkey.Containerfile", context: "/c", args: {} } },
      },
    });
    const config = { spec: withImages, secretCount: 1, warnings: [] };

    it("present with its id, buildable (base first), or to be pulled (a warning: doctor never contacts a registry)", async () => {
      const runtime = setup(["localhost/falkordb:test"]);
      const images = byName(await check({ runtime, config }), "image");
      expect(images.map((c) => [c.status, c.detail])).toEqual([
        ["ok", "localhost/valkey:test: missing, will be built from /c/valkey.Containerfile; its base localhost/base:bookworm: missing, will be bootstrapped with /usr/sbin/debootstrap (bookworm)"],
        ["ok", "localhost/falkordb:test: present (localhost/fa)"],
        ["warn", "localhost/datadog:test: missing, will be pulled from its registry (doctor does not contact registries)"],
        ["warn", "localhost/opencode:test: missing, will be pulled from its registry (doctor does not contact registries)"],
      ]);
      expect(runtime.journal.filter((j) => j.op === "pull")).toEqual([]);
    });

    it("a base that needs debootstrap when debootstrap is not installed: blocking, with apt-get install", async () => {
      const [valkey] = byName(await check({ runtime: setup([]), config, facts: host({ which: async () => undefined }) }), "image");
      expect(valkey).toMatchObject({ status: "error", blocking: true, fix: "apt-get install debootstrap" });
      expect(valkey!.detail).toContain("its base localhost/base:bookworm: missing, and debootstrap");
    });
  });
});
