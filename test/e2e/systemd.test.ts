// The shipped systemd unit and its drop-in example, as systemd itself reads them:
// `systemd-analyze verify` (systemd 252, Debian's `systemd` package; it works without
// systemd being PID 1) must load them without a warning, and the effective settings it
// dumps at debug level must be the ones the unit promises.
//
// verify checks that ExecStart's binary exists, so the test verifies a copy whose
// /usr/bin/node is this Node and whose /opt/podwarden is this checkout; nothing else changes.

import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const UNIT = "opencode-memory-pod.service";
const UNIT_FILE = join(ROOT, "systemd", UNIT);
const DROPIN_EXAMPLE = join(ROOT, "systemd", `${UNIT}.d`, "override.conf.example");

interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const analyze = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> =>
  new Promise((resolvePromise, reject) => {
    execFile("systemd-analyze", args, { env: { ...process.env, SYSTEMD_PAGER: "", ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === "ENOENT") {
        reject(new Error("systemd-analyze is not installed: it comes with Debian's `systemd` package (apt-get install systemd)"));
        return;
      }
      resolvePromise({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "pw-systemd-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Writes the unit (and optionally drop-ins) into a fresh directory, paths made to exist here. */
const stage = async (name: string, dropIns: Record<string, string> = {}, edit: (unit: string) => string = (u) => u): Promise<string> => {
  const dir = join(tmp, name);
  await mkdir(dir, { recursive: true });
  const text = (await readFile(UNIT_FILE, "utf8")).replaceAll("/usr/bin/node", process.execPath).replaceAll("/opt/podwarden", ROOT);
  const file = join(dir, UNIT);
  await writeFile(file, edit(text));
  if (Object.keys(dropIns).length > 0) {
    await mkdir(join(dir, `${UNIT}.d`), { recursive: true });
    for (const [n, content] of Object.entries(dropIns)) {
      await writeFile(join(dir, `${UNIT}.d`, n), content.replaceAll("/usr/bin/node", process.execPath).replaceAll("/opt/podwarden", ROOT));
    }
  }
  return file;
};

/** Lines of systemd-analyze's stderr that are about our unit or its drop-ins. */
const aboutUs = (stderr: string, file: string): string[] =>
  stderr.split("\n").filter((l) => l.trim() !== "" && (l.includes(dirname(file)) || l.includes("opencode-memory-pod")));

/** The unit's section of the debug-level unit dump: "Key: value" lines. */
const dumpOf = (output: string): Map<string, string[]> => {
  const start = output.indexOf(`-> Unit ${UNIT}:`);
  expect(start, "the unit dump is in systemd-analyze's debug output").toBeGreaterThanOrEqual(0);
  const props = new Map<string, string[]>();
  for (const line of output.slice(start).split("\n").slice(1)) {
    if (/^\t-> Unit /.test(line)) break;
    const m = /^\t\t([A-Za-z]+): (.*)$/.exec(line);
    if (m) props.set(m[1]!, [...(props.get(m[1]!) ?? []), m[2]!.trim()]);
  }
  return props;
};

/** systemd's view of the unit: its dump at debug level (raw text and Key: value lines). */
const effective = async (file: string): Promise<{ raw: string; props: Map<string, string[]> }> => {
  const r = await analyze(["verify", file], { SYSTEMD_LOG_LEVEL: "debug", SYSTEMD_LOG_COLOR: "0" });
  expect(r.code).toBe(0);
  const raw = `${r.stdout}\n${r.stderr}`;
  return { raw, props: dumpOf(raw) };
};

describe("systemd unit", () => {
  it("passes systemd-analyze verify without a warning", async () => {
    const file = await stage("plain");
    const r = await analyze(["verify", file]);
    expect(aboutUs(r.stderr, file), r.stderr).toEqual([]);
    expect(r.code, r.stderr).toBe(0);
  });

  it("passes with the drop-in example installed, and the drop-in takes effect", async () => {
    const file = await stage("with-dropin", { "override.conf": await readFile(DROPIN_EXAMPLE, "utf8") });
    const r = await analyze(["verify", file]);
    expect(aboutUs(r.stderr, file), r.stderr).toEqual([]);
    expect(r.code, r.stderr).toBe(0);

    const { raw, props: p } = await effective(file);
    expect(raw).toContain(`DropIn Path: ${join(dirname(file), `${UNIT}.d`, "override.conf")}`);
    expect(p.get("Environment")).toContain("PODWARDEN_CONFIG=/etc/podwarden/local.yaml");
    expect(p.get("Environment")).toContain("PODWARDEN_LOG_LEVEL=debug");
    expect(p.get("After")?.some((a) => a.startsWith("vault-agent.service"))).toBe(true);
    expect(p.get("RequiresMountsFor")?.some((a) => a.startsWith("/srv/pod-data"))).toBe(true);
    expect(p.get("TimeoutStartSec")).toEqual(["40min"]);
    expect(p.get("ReadWritePaths")?.[0]).toContain("/srv/pod-data");
  });

  it("has the settings the daemon relies on, as systemd reads them", async () => {
    const { raw, props: p } = await effective(await stage("settings"));
    const one = (k: string): string | undefined => p.get(k)?.[0];
    expect(one("Type")).toBe("notify");
    expect(one("NotifyAccess")).toBe("main");
    expect(one("Restart")).toBe("on-failure");
    expect(one("RestartSec")).toBe("10s");
    expect(one("WatchdogSec")).toBe("30s");
    expect(one("TimeoutStartSec")).toBe("15min");
    // Reverse-order stop: 30 + 30 + 10 + 10 s of stop timeouts plus podwarden's own 30 s slack.
    expect(one("TimeoutStopSec")).toBe("2min 30s");
    expect(one("KillMode")).toBe("mixed");
    expect(one("RuntimeDirectory")).toBe("podwarden");
    // The keep-pod marker of `restart-daemon` survives `systemctl restart`, so it can tell whether the old daemon took it.
    expect(one("RuntimeDirectoryPreserve")).toBe("restart");
    expect(one("MemoryDenyWriteExecute")).toBe("no"); // V8's JIT
    expect(one("ProtectSystem")).toBe("strict");
    // The persisted data and the backups (jobs.backup.dir under /persist/backups in the example).
    expect(one("ReadWritePaths")).toBe("-/run/podman -/persist/containers -/persist/backups");
    // /run read-only too (ProtectSystem=strict alone leaves it writable beside ProtectKernelTunables=).
    expect(one("ReadOnlyPaths")).toBe("/run");
    // /var/lib/podwarden for jobs.stateDir (image pins) under ProtectSystem=strict.
    expect(one("StateDirectory")).toBe("podwarden");
    expect(one("User")).toBe("root");
    expect(p.get("Environment")).toContain("PODWARDEN_CONFIG=/etc/podwarden/opencode-memory-pod.yaml");
    const names = (k: string): string[] => (p.get(k) ?? []).map((v) => v.split(" ")[0]!);
    // The seed's ordering, plus the Podman API socket and service.
    expect(names("After")).toEqual(
      expect.arrayContaining(["network-online.target", "tailscaled.service", "onepassword-secrets.service", "podman.socket", "podman.service"]),
    );
    expect(names("Wants")).toEqual(expect.arrayContaining(["network-online.target", "podman.socket"]));
    // ExecStart runs `podwarden run` on the installed config.
    expect(raw).toMatch(/-> ExecStart:\n\s+Command Line: \S+ --max-semi-space-size=1 --no-sparkplug --no-memory-reducer \S+\/dist\/cli\.js run --config "\\?\$\{PODWARDEN_CONFIG\}"/);
    // ExecReload's lines are JSON (with journal priorities) like the daemon's.
    expect(raw).toMatch(/-> ExecReload:\n\s+Command Line: \S+ \S+\/dist\/cli\.js reload --config "\\?\$\{PODWARDEN_CONFIG\}" .*--log-format json\n/);
  });

  it("keeps what the dump does not show: no restart on exit 78, installed for multi-user.target", async () => {
    const text = await readFile(UNIT_FILE, "utf8");
    const settings = text.split("\n").filter((l) => /^[A-Za-z]+=/.test(l));
    expect(settings).toContain("RestartPreventExitStatus=78");
    expect(settings).toContain("WantedBy=multi-user.target");
    expect(settings).toContain("ExecStart=/usr/bin/node --max-semi-space-size=1 --no-sparkplug --no-memory-reducer /opt/podwarden/dist/cli.js run --config ${PODWARDEN_CONFIG} --log-level ${PODWARDEN_LOG_LEVEL} --log-format json");
    expect(settings).toContain("ExecReload=/usr/bin/node /opt/podwarden/dist/cli.js reload --config ${PODWARDEN_CONFIG} --log-level ${PODWARDEN_LOG_LEVEL} --log-format json");
    expect(settings.some((l) => l.startsWith("MemoryDenyWriteExecute="))).toBe(false);
  });

  it("would report a mistake in the unit (the check above is not vacuous)", async () => {
    const file = await stage("broken", {}, (u) => u.replace("KillMode=mixed", "KillMode=mixed\nKilMode=process"));
    const r = await analyze(["verify", file]);
    expect(aboutUs(r.stderr, file).join("\n")).toMatch(/Unknown key 'KilMode'/);
  });
});
