// The sd_notify client against a real AF_UNIX datagram socket, bound by a small python3
// receiver that also reads the kernel's SCM_CREDENTIALS: what systemd checks for
// NotifyAccess=main is that the datagram's sender pid is the main process, i.e. this one.

import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  createNotifier,
  messages,
  parseNotifySocket,
  watchdogInterval,
  type NotifierLogger,
} from "../../../src/systemd/sd-notify.js";
import { receivers, startReceiver } from "../../support/notify-receiver.js";

interface Logged {
  readonly level: "warn" | "debug";
  readonly msg: string;
  readonly obj: Record<string, unknown>;
}
const captureLogger = (): NotifierLogger & { lines: Logged[] } => {
  const lines: Logged[] = [];
  return {
    lines,
    warn: (obj, msg) => lines.push({ level: "warn", msg, obj }),
    debug: (obj, msg) => lines.push({ level: "debug", msg, obj }),
  };
};

const isRoot = process.getuid?.() === 0;
const uniqueAbstract = (): string => `@podwarden-test-${process.pid}-${randomBytes(4).toString("hex")}`;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pw-sdnotify-"));
});
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.stop()));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("sd_notify over a socket path (unix-dgram, in process)", () => {
  it("sends each message exactly, from this process's pid", async () => {
    const path = join(dir, "notify.sock");
    const rx = await startReceiver(path);
    const log = captureLogger();
    const n = createNotifier({ NOTIFY_SOCKET: path }, log);
    expect(n.enabled).toBe(true);
    expect(n.transport).toBe("unix-dgram");

    await n.status("starting falkordb (2/4)");
    await n.extendTimeout(30_000_000, "building localhost/podwarden-valkey:local");
    await n.ready("ready 4/4");
    await n.watchdog();
    await n.status("valkey backing off 8s");
    await n.stopping("stopping opencode (1/4)");
    await n.close();

    const got = await rx.waitFor(6);
    expect(got.map((d) => d.data)).toEqual([
      "STATUS=starting falkordb (2/4)",
      "EXTEND_TIMEOUT_USEC=30000000\nSTATUS=building localhost/podwarden-valkey:local",
      "READY=1\nSTATUS=ready 4/4",
      "WATCHDOG=1",
      "STATUS=valkey backing off 8s",
      "STOPPING=1\nSTATUS=stopping opencode (1/4)",
    ]);
    // NotifyAccess=main: the kernel-attested sender is this process, not a helper.
    for (const d of got) expect(d.pid).toBe(process.pid);
    expect(log.lines).toEqual([]);
  });

  it("bare READY=1 and STOPPING=1; a status is kept to one line; timeouts are whole microseconds", async () => {
    const path = join(dir, "bare.sock");
    const rx = await startReceiver(path);
    const n = createNotifier({ NOTIFY_SOCKET: path });
    await n.ready();
    await n.status("line one\nREADY=1\r\n\tline two");
    await n.extendTimeout(1500.2);
    await n.stopping();
    const got = await rx.waitFor(4);
    expect(got.map((d) => d.data)).toEqual(["READY=1", "STATUS=line one READY=1 line two", "EXTEND_TIMEOUT_USEC=1501", "STOPPING=1"]);
  });

  it("does not send an EXTEND_TIMEOUT_USEC that is not a positive number", async () => {
    const path = join(dir, "extend.sock");
    const rx = await startReceiver(path);
    const log = captureLogger();
    const n = createNotifier({ NOTIFY_SOCKET: path }, log);
    await n.extendTimeout(Number.NaN);
    await n.extendTimeout(-5);
    await n.watchdog();
    const got = await rx.waitFor(1);
    expect(got.map((d) => d.data)).toEqual(["WATCHDOG=1"]);
    expect(log.lines.filter((l) => l.level === "warn")).toHaveLength(2);
  });

  it("keeps going when the socket vanishes: no throw, one warning, then works again", async () => {
    const path = join(dir, "vanishing.sock");
    const first = await startReceiver(path);
    const log = captureLogger();
    const n = createNotifier({ NOTIFY_SOCKET: path }, log);
    await n.status("before");
    await first.waitFor(1);

    // Receiver gone, socket file left behind: ECONNREFUSED.
    await first.stop();
    await expect(n.watchdog()).resolves.toBeUndefined();
    // File removed too: ENOENT.
    await rm(path, { force: true });
    await expect(n.status("nobody listens")).resolves.toBeUndefined();
    await expect(n.stopping()).resolves.toBeUndefined();

    const warns = log.lines.filter((l) => l.level === "warn");
    expect(warns).toHaveLength(1);
    expect(String(warns[0]!.obj.err)).toMatch(/ECONNREFUSED/);
    expect(warns[0]!.obj.notifySocket).toBe(path);
    expect(log.lines.filter((l) => l.level === "debug" && String(l.obj.err).includes("ENOENT"))).toHaveLength(2);

    // systemd back (same path): sending works again, and a later failure is warned about anew.
    const second = await startReceiver(path);
    await n.status("after");
    expect((await second.waitFor(1)).map((d) => d.data)).toEqual(["STATUS=after"]);
    await second.stop();
    await rm(path, { force: true });
    await n.watchdog();
    expect(log.lines.filter((l) => l.level === "warn")).toHaveLength(2);
  });

  it("after close() nothing more is sent", async () => {
    const path = join(dir, "closed.sock");
    const rx = await startReceiver(path);
    const n = createNotifier({ NOTIFY_SOCKET: path });
    await n.status("last");
    await n.close();
    await n.ready();
    await n.watchdog();
    await new Promise((r) => setTimeout(r, 200));
    expect(rx.got.map((d) => d.data)).toEqual(["STATUS=last"]);
  });
});

describe("sd_notify over systemd-notify (abstract names, and the fallback)", () => {
  it("reaches an abstract socket (@name), in order", async () => {
    const address = uniqueAbstract();
    const rx = await startReceiver(address);
    const log = captureLogger();
    const n = createNotifier({ NOTIFY_SOCKET: address }, log);
    expect(n.transport).toBe("systemd-notify");
    // Not awaited one by one: the queue must keep the order although each send spawns.
    const sends = [n.status("starting valkey (1/4)"), n.ready("ready 4/4"), n.watchdog(), n.extendTimeout(90_000_000), n.stopping()];
    await Promise.all(sends);
    const got = await rx.waitFor(5);
    // systemd-notify --pid=<ours> adds MAINPID=<ours> (which we are already) before our lines.
    const main = `MAINPID=${process.pid}\n`;
    expect(got.map((d) => d.data)).toEqual([
      `${main}STATUS=starting valkey (1/4)`,
      `${main}READY=1\nSTATUS=ready 4/4`,
      `${main}WATCHDOG=1`,
      `${main}EXTEND_TIMEOUT_USEC=90000000`,
      `${main}STOPPING=1`,
    ]);
    // As root, the credentials carry our pid, so NotifyAccess=main accepts them.
    if (isRoot) for (const d of got) expect(d.pid).toBe(process.pid);
    expect(log.lines).toEqual([]);
  });

  it("can be chosen for a path too, and survives a vanished socket", async () => {
    const path = join(dir, "spawned.sock");
    const rx = await startReceiver(path);
    const log = captureLogger();
    const n = createNotifier({ NOTIFY_SOCKET: path }, log, { transport: "systemd-notify" });
    await n.ready();
    expect((await rx.waitFor(1)).map((d) => d.data)).toEqual([`MAINPID=${process.pid}\nREADY=1`]);
    await rx.stop();
    await rm(path, { force: true });
    await expect(n.watchdog()).resolves.toBeUndefined();
    await expect(n.watchdog()).resolves.toBeUndefined();
    expect(log.lines.filter((l) => l.level === "warn")).toHaveLength(1);
  });

  it("a missing systemd-notify binary is a logged warning, not an exception", async () => {
    const log = captureLogger();
    const n = createNotifier({ NOTIFY_SOCKET: uniqueAbstract() }, log, { systemdNotifyPath: join(dir, "no-such-systemd-notify") });
    await expect(n.ready()).resolves.toBeUndefined();
    await expect(n.watchdog()).resolves.toBeUndefined();
    const warns = log.lines.filter((l) => l.level === "warn");
    expect(warns).toHaveLength(1);
    expect(String(warns[0]!.obj.err)).toMatch(/ENOENT/);
  });
});

describe("without NOTIFY_SOCKET", () => {
  it("every call is a no-op that resolves, and there is no watchdog to ping", async () => {
    const log = captureLogger();
    for (const env of [{}, { NOTIFY_SOCKET: "" }, { NOTIFY_SOCKET: undefined, WATCHDOG_USEC: "30000000" }]) {
      const n = createNotifier(env, log);
      expect(n.enabled).toBe(false);
      expect(n.transport).toBe("none");
      expect(n.watchdogIntervalMs).toBeUndefined();
      await expect(Promise.all([n.ready("x"), n.status("x"), n.watchdog(), n.stopping(), n.extendTimeout(1), n.close()])).resolves.toBeDefined();
    }
    expect(log.lines).toEqual([]);
  });

  it("an unusable NOTIFY_SOCKET is one warning, then no-ops", async () => {
    const log = captureLogger();
    const n = createNotifier({ NOTIFY_SOCKET: "run/relative.sock", WATCHDOG_USEC: "30000000" }, log);
    expect(n.enabled).toBe(false);
    expect(n.watchdogIntervalMs).toBeUndefined();
    await n.ready();
    await n.watchdog();
    expect(log.lines).toHaveLength(1);
    expect(log.lines[0]!.level).toBe("warn");
  });
});

describe("watchdog interval (WATCHDOG_USEC, WATCHDOG_PID)", () => {
  const socket = "/run/systemd/notify";
  it.each([
    [{ WATCHDOG_USEC: "30000000" }, 15_000],
    [{ WATCHDOG_USEC: "30000000", WATCHDOG_PID: String(process.pid) }, 15_000],
    [{ WATCHDOG_USEC: " 5000000 ", WATCHDOG_PID: ` ${process.pid}` }, 2_500],
    [{ WATCHDOG_USEC: "1" }, 1],
    [{ WATCHDOG_USEC: "30000000", WATCHDOG_PID: String(process.pid + 1) }, undefined],
    [{ WATCHDOG_USEC: "30000000", WATCHDOG_PID: "1" }, undefined],
    [{ WATCHDOG_USEC: "30000000", WATCHDOG_PID: "self" }, undefined],
    [{ WATCHDOG_USEC: "0" }, undefined],
    [{ WATCHDOG_USEC: "-30000000" }, undefined],
    [{ WATCHDOG_USEC: "30s" }, undefined],
    [{ WATCHDOG_USEC: "" }, undefined],
    [{}, undefined],
  ])("%j -> %s ms", (env, expected) => {
    expect(watchdogInterval(env, process.pid)).toBe(expected);
    expect(createNotifier({ NOTIFY_SOCKET: socket, ...env }).watchdogIntervalMs).toBe(expected);
  });

  it("compares WATCHDOG_PID with the given pid", () => {
    expect(watchdogInterval({ WATCHDOG_USEC: "20000000", WATCHDOG_PID: "4242" }, 4242)).toBe(10_000);
    expect(createNotifier({ NOTIFY_SOCKET: socket, WATCHDOG_USEC: "20000000", WATCHDOG_PID: "4242" }, undefined, { pid: 4242 }).watchdogIntervalMs).toBe(10_000);
  });
});

describe("pure parts", () => {
  it("parses NOTIFY_SOCKET addresses", () => {
    expect(parseNotifySocket("/run/systemd/notify")).toEqual({ kind: "path", value: "/run/systemd/notify" });
    expect(parseNotifySocket("@/org/freedesktop/systemd1/notify")).toEqual({ kind: "abstract", value: "@/org/freedesktop/systemd1/notify" });
    expect(parseNotifySocket("@").kind).toBe("unsupported");
    expect(parseNotifySocket("vsock:2:1234").kind).toBe("unsupported");
    expect(parseNotifySocket(`/${"x".repeat(106)}`).kind).toBe("path");
    expect(parseNotifySocket(`/${"x".repeat(107)}`).kind).toBe("unsupported");
  });

  it("formats the protocol lines exactly", () => {
    expect(messages.ready()).toEqual(["READY=1"]);
    expect(messages.ready("ok")).toEqual(["READY=1", "STATUS=ok"]);
    expect(messages.status(" a\nb ")).toEqual(["STATUS=a b"]);
    expect(messages.watchdog()).toEqual(["WATCHDOG=1"]);
    expect(messages.stopping()).toEqual(["STOPPING=1"]);
    expect(messages.extendTimeout(30e6)).toEqual(["EXTEND_TIMEOUT_USEC=30000000"]);
  });
});
