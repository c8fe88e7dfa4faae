// Temporary config directories for the config tests, and assertions on ConfigError.

import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { expect, onTestFinished } from "vitest";
import { stringify } from "yaml";
import { loadConfig } from "../../../src/config/load.js";
import { ConfigError } from "../../../src/lib/errors.js";

export const REPO_CONFIG_DIR = fileURLToPath(new URL("../../../config/", import.meta.url));

export const SECRETS = "OPENCODE_SERVER_PASSWORD=s3cret\nDD_API_KEY=dd-key\nCACHE_PASSWORD=c4che\n";

export interface Fixture {
  readonly dir: string;
  /** Absolute path of the env file (mode 0600) holding SECRETS. */
  readonly envFile: string;
  /** Writes `content` (YAML text, or an object serialised as YAML) to `name` under dir; returns its path. */
  write(name: string, content: string | object, mode?: number): Promise<string>;
}

/** A fresh directory under the OS temp dir, removed when the test ends. */
export async function fixture(secrets: string = SECRETS): Promise<Fixture> {
  const dir = await mkdtemp(path.join(tmpdir(), "podwarden-config-"));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  const write = async (name: string, content: string | object, mode = 0o600): Promise<string> => {
    const file = path.join(dir, name);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, typeof content === "string" ? content : stringify(content));
    await chmod(file, mode);
    return file;
  };
  return { dir, envFile: await write("secrets.env", secrets), write };
}

/**
 * A valid config: three containers (cache <- web <- agent) covering each probe kind but exec.
 * Tests change a copy of it.
 */
export const validConfig = (envFile: string) => ({
  pod: { name: "testpod", ports: [6380, "18080:8080", 8126], envFile, persistRoot: "data" },
  containers: {
    cache: {
      image: "localhost/cache:test",
      command: ["valkey-server", "--port", "6380"],
      mounts: [{ source: "cache", target: "/data", create: true }],
      probe: { redis: { port: 6380, passwordKey: "CACHE_PASSWORD" } },
    },
    web: {
      image: "localhost/web:test",
      secretEnv: ["OPENCODE_SERVER_PASSWORD"],
      dependsOn: ["cache"],
      probe: { http: { port: 8080, path: "/health", auth: { passwordKey: "OPENCODE_SERVER_PASSWORD" } } },
    },
    agent: {
      image: "localhost/agent:test",
      secretEnv: ["DD_*"],
      dependsOn: [{ name: "web", restart: true }],
      probe: { tcp: { port: 8126 } },
    },
  },
});

/**
 * Writes the valid config with `edits` applied to `name` and returns its path. Each edit sets a dotted
 * path (`containers.cache.probe.redis.port`, `pod.ports[1]`) to a value; undefined deletes the key.
 */
export async function writeConfig(fx: Fixture, edits: Record<string, unknown> = {}, name = "pod.yaml"): Promise<string> {
  const config: Record<string, unknown> = structuredClone(validConfig(fx.envFile));
  for (const [at, value] of Object.entries(edits)) setAt(config, at, value);
  return fx.write(name, config);
}

function setAt(root: Record<string, unknown>, at: string, value: unknown): void {
  const keys = at.split(/\.|\[(\d+)\]/).filter((k) => k !== undefined && k !== "");
  const last = keys.pop() ?? "";
  let node = root as Record<string, unknown>;
  for (const key of keys) {
    node[key] ??= {};
    node = node[key] as Record<string, unknown>;
  }
  if (value === undefined) delete node[last];
  else node[last] = value;
}

/** Loads `file`, expecting a ConfigError with the bad-config exit code. */
export async function loadError(file: string): Promise<ConfigError> {
  const outcome: unknown = await loadConfig(file).then(
    () => "loaded without error",
    (err: unknown) => err,
  );
  expect(outcome).toBeInstanceOf(ConfigError);
  const error = outcome as ConfigError;
  expect(error.exitCode).toBe(78);
  expect(error.code).toBe("E_CONFIG");
  return error;
}

/** The error names `file` and the field `fieldPath`, with a message matching `message`. */
export function expectIssue(error: ConfigError, file: string, fieldPath: string, message: RegExp): void {
  const line = error.message.split("\n").find((l) => l.includes(`${file}: ${fieldPath}: `));
  expect(line, `no line for ${file}: ${fieldPath} in:\n${error.message}`).toBeDefined();
  expect(line).toMatch(message);
}
