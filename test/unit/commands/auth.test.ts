// `podwarden auth import` in-process, with real files and a stand-in `doppler` on PATH
// that records its argv and stdin.

import { chmod, mkdir, mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { beforeEach, describe, expect, it } from "vitest";
import { importAuth } from "../../../src/commands/auth.js";
import type { CommandContext } from "../../../src/commands/context.js";
import { LOCAL_CONFIG } from "../../support/podman-harness.js";

const COPILOT = { type: "oauth", refresh: "ghu_REFRESHTOKEN_abc123", access: "tid=ACCESSTOKEN_xyz", expires: 0 };

let dir: string;
let out: string[];
let config: string;

const ctx = (): CommandContext<{ readonly json: boolean }> =>
  ({
    global: { config, env: { HOME: dir }, logLevel: "silent", logFormat: "json", version: "0" },
    args: [],
    options: { json: false },
    out: new Writable({ write: (c, _e, cb) => (out.push(String(c)), cb()) }),
    err: new Writable({ write: (_c, _e, cb) => cb() }),
  }) as unknown as CommandContext<{ readonly json: boolean }>;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "pw-auth-"));
  out = [];
  await writeFile(join(dir, "env"), "OPENCODE_SERVER_PASSWORD=auth-test-password\n", { mode: 0o600 });
  config = join(dir, "pod.yaml");
  // A port nobody listens on: the "tell the running server" step finds no server.
  await writeFile(config, `extends: ${LOCAL_CONFIG}\npod:\n  name: pw-auth\n  ports: [6379, 6380, 3000, 8126, "1:4096"]\n  envFile: ${join(dir, "env")}\n  persistRoot: ${join(dir, "persist")}\n`);
  await writeFile(join(dir, "source.json"), JSON.stringify({ "github-copilot": COPILOT, anthropic: { type: "api", key: "sk-other" } }));
});

const persisted = () => join(dir, "persist", "opencode", "auth.json");

describe("auth import", () => {
  it("into an empty data directory: the entry only, mode 0600; a second run changes nothing", async () => {
    expect(await importAuth(ctx(), { from: join(dir, "source.json"), provider: "github-copilot" })).toBe(0);
    expect(JSON.parse(await readFile(persisted(), "utf8"))).toEqual({ "github-copilot": COPILOT });
    expect((await stat(persisted())).mode & 0o777).toBe(0o600);
    const before = (await stat(persisted())).mtimeMs;
    expect(await importAuth(ctx(), { from: join(dir, "source.json"), provider: "github-copilot" })).toBe(0);
    expect(out.at(-1)).toMatch(/already holds this github-copilot entry: nothing changed/);
    expect((await stat(persisted())).mtimeMs).toBe(before);
    expect(out.join("")).not.toContain("REFRESHTOKEN");
  });

  it("into a populated auth.json: other providers are kept", async () => {
    await mkdir(join(dir, "persist", "opencode"), { recursive: true });
    await writeFile(persisted(), JSON.stringify({ openai: { type: "api", key: "sk-keep" }, "github-copilot": { type: "oauth", refresh: "old" } }), { mode: 0o644 });
    await importAuth(ctx(), { from: join(dir, "source.json"), provider: "github-copilot" });
    expect(JSON.parse(await readFile(persisted(), "utf8"))).toEqual({ openai: { type: "api", key: "sk-keep" }, "github-copilot": COPILOT });
    expect((await stat(persisted())).mode & 0o777).toBe(0o600);
  });

  it("a missing provider entry is an error naming the file and provider", async () => {
    await expect(importAuth(ctx(), { from: join(dir, "source.json"), provider: "nope" })).rejects.toThrow(/source\.json has no "nope" entry/);
  });

  it("--doppler-secret: the value goes on stdin, never argv; an unchanged value is not pushed", async () => {
    const bin = join(dir, "bin");
    await mkdir(bin);
    const log = join(dir, "doppler.log");
    const store = join(dir, "doppler.value");
    await writeFile(
      join(bin, "doppler"),
      `#!/bin/sh\nprintf '%s\\n' "ARGV $*" >> ${log}\nif [ "$2" = get ]; then [ -f ${store} ] && cat ${store}; exit 0; fi\nif [ "$2" = set ]; then cat > ${store}; printf 'STDIN %s\\n' "$(cat ${store})" >> ${log}; fi\n`,
    );
    await chmod(join(bin, "doppler"), 0o755);
    const path = process.env.PATH;
    process.env.PATH = `${bin}:${path}`;
    try {
      const opts = { from: join(dir, "source.json"), provider: "github-copilot", doppler: { secret: "OPENCODE_FLUX_COPILOT_AUTH_JSON", project: "k8s", config: "prd" } };
      await importAuth(ctx(), opts);
      await importAuth(ctx(), opts);
    } finally {
      process.env.PATH = path;
    }
    const lines = (await readFile(log, "utf8")).trim().split("\n");
    const argv = lines.filter((l) => l.startsWith("ARGV"));
    expect(argv).toEqual([
      "ARGV secrets get OPENCODE_FLUX_COPILOT_AUTH_JSON --plain --project k8s --config prd",
      "ARGV secrets set OPENCODE_FLUX_COPILOT_AUTH_JSON --project k8s --config prd",
      "ARGV secrets get OPENCODE_FLUX_COPILOT_AUTH_JSON --plain --project k8s --config prd",
    ]);
    expect(argv.join("\n")).not.toContain("REFRESHTOKEN");
    expect(lines.filter((l) => l.startsWith("STDIN"))).toEqual([`STDIN ${JSON.stringify({ "github-copilot": COPILOT })}`]);
    expect(out.at(-1)).toMatch(/already holds this github-copilot entry: nothing pushed/);
  });
});
