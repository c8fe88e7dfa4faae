// Property tests of the config loader, from a small seeded generator (same cases every run; the
// seed is in each failure message). Properties:
//   - random YAML documents, random text and random env files load or fail with a ConfigError
//     (exit 78), nothing else, and return (no hang: the test's timeout would fail it);
//   - no env-file problem ever shows a value;
//   - a generated valid config always loads, as generated;
//   - a mutation of a valid config fails naming the mutated field.

import { writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { parseEnv } from "../../../src/config/env-parse.js";
import { loadConfig, type LoadedConfig } from "../../../src/config/load.js";
import { ConfigError } from "../../../src/lib/errors.js";
import { fixture, type Fixture } from "./fixture.js";
import { mulberry32 } from "../../support/prng.js";

/** mulberry32: a tiny deterministic generator. */
const rng = (seed: number) => {
  const next = mulberry32(seed);
  const int = (n: number): number => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  const chance = (p: number): boolean => next() < p;
  return { next, int, pick, chance };
};
type Rng = ReturnType<typeof rng>;

const CONFIG_WORDS = [
  "pod", "name", "ports", "envFile", "persistRoot", "dns", "containers", "image", "command", "entrypoint", "env", "secretEnv",
  "requiredSecrets", "mounts", "source", "target", "readOnly", "optional", "create", "dependsOn", "restart", "soft", "probe",
  "redis", "http", "tcp", "exec", "port", "path", "auth", "passwordKey", "interval", "timeout", "retries", "startPeriod",
  "stopTimeout", "workdir", "user", "init", "update", "policy", "schedule", "images", "build", "containerfile", "from",
  "debootstrap", "suite", "defaults", "jobs", "backup", "dir", "keep", "http", "enabled", "tokenFile", "extends", "workspace",
  "__proto__", "constructor", "toString", "a-b", "A.B", "", " ", "0", "valkey", "web",
];
const STRANGE = ["", " ", "/", "/..", "../../etc", "/proc", "-1", "1e400", "\u0000", "\u202e", "ü", "🙂", "${X}", "*", "&a", "!!str", "~", "null", "10s", "0s", "x".repeat(300)];

const scalar = (r: Rng): unknown =>
  r.pick<() => unknown>([
    () => r.int(70000) - 100,
    () => r.next() * 1e6,
    () => r.chance(0.5),
    () => null,
    () => r.pick(STRANGE),
    () => r.pick(CONFIG_WORDS),
    () => `localhost/img${r.int(5)}:t`,
  ])();

const randomValue = (r: Rng, depth: number): unknown => {
  if (depth <= 0 || r.chance(0.35)) return scalar(r);
  if (r.chance(0.3)) return Array.from({ length: r.int(4) }, () => randomValue(r, depth - 1));
  return Object.fromEntries(Array.from({ length: r.int(5) }, () => [r.pick(CONFIG_WORDS), randomValue(r, depth - 1)]));
};

/** A document that mostly looks like a config: the right sections, random insides. */
const randomDocument = (r: Rng, envFile: string): unknown => {
  const doc: Record<string, unknown> = {
    pod: r.chance(0.8) ? { name: r.pick(["p", "Bad", 7]), envFile: r.chance(0.8) ? envFile : randomValue(r, 1), persistRoot: "d", ...(r.chance(0.5) ? { ports: randomValue(r, 2) } : {}) } : randomValue(r, 2),
    containers: Object.fromEntries(Array.from({ length: r.int(4) }, () => [r.pick(["a", "b", "c", "Bad", "x y"]), randomValue(r, 4)])),
  };
  for (const key of ["images", "defaults", "jobs", "http", "workspace"]) if (r.chance(0.2)) doc[key] = randomValue(r, 3);
  return doc;
};

const YAML_BITS = ["key: value", "- item", "a: [1, 2", "{", "}", ": :", "&anchor x", "*anchor", "*missing", "!!binary x", "? complex", "---", "...", "\t", "  ", "'unclosed", "\"esc\\x\"", "%YAML 1.2", "<<: *a", "#c", "|\n  block", ">-", "\u0000", "pod:", "containers:", "  a:", "    image: x"];

const randomText = (r: Rng): string =>
  Array.from({ length: r.int(30) }, () => (r.chance(0.7) ? r.pick(YAML_BITS) : String.fromCharCode(r.int(0x3000)))).join(r.pick(["\n", " ", "", "\n  "]));

const ENV_KEYS = ["A", "B_2", "_x", "A-B", "A.B", "1A", "MY KEY", "export", "export X", " K", "ü", ""];
const ENV_VALUE_BITS = ["'", '"', "`", "#", " #", "\\", "\\n", "=", "\r", "\n", "\u0000", "$X", " ", "ü"];

/** Values carry a marker that keys never do, so a leaked value is easy to see. */
const randomEnv = (r: Rng): string =>
  Array.from({ length: r.int(12) }, (_, i) => {
    const value = `V@${i}${Array.from({ length: r.int(5) }, () => r.pick(ENV_VALUE_BITS)).join("")}@`;
    return r.pick<() => string>([
      () => `${r.pick(ENV_KEYS)}=${value}`,
      () => `${r.pick(ENV_KEYS)} = '${value}'`,
      () => `${r.pick(ENV_KEYS)}="${value}"`,
      () => `# ${value}`,
      () => value,
      () => "",
    ])();
  }).join(r.pick(["\n", "\r\n"]));

/** Loads `file`: the config, or the ConfigError; anything else fails the test. */
async function loadOrConfigError(file: string, seed: number): Promise<LoadedConfig | ConfigError> {
  try {
    return await loadConfig(file);
  } catch (err) {
    if (err instanceof ConfigError && err.exitCode === 78) return err;
    throw new Error(`seed ${seed}: not a ConfigError: ${(err as Error).stack ?? String(err)}`);
  }
}

const writeText = async (fx: Fixture, name: string, text: string): Promise<string> => {
  const file = path.join(fx.dir, name);
  await writeFile(file, text, { mode: 0o600 });
  return file;
};

// ---- a generator of valid configs -------------------------------------------------------------

interface Valid {
  readonly doc: Record<string, unknown>;
  readonly names: readonly string[];
  readonly secretKeys: readonly string[];
}

const generateValid = (r: Rng, envFile: string, secretKeys: readonly string[]): Valid => {
  const count = 1 + r.int(8);
  const names = Array.from({ length: count }, (_, i) => `c${i}${r.pick(["", "-x", "db"])}`);
  const ports = names.map((_, i) => 20000 + i);
  const containers: Record<string, unknown> = {};
  names.forEach((name, i) => {
    const earlier = names.slice(0, i);
    const probe = r.pick<() => unknown>([
      () => ({ tcp: { port: ports[i] } }),
      () => ({ http: { port: ports[i], path: r.pick(["/", "/health", "/a/b?c=d"]) } }),
      () => ({ redis: { port: ports[i] } }),
      () => ({ exec: ["true"] }),
    ])();
    containers[name] = {
      image: r.pick(["valkey", "localhost/app:1", "docker.io/library/redis:7", `registry.example.com:5000/a/b@sha256:${"0".repeat(64)}`]),
      ...(r.chance(0.5) ? { command: ["run", String(i)] } : {}),
      ...(r.chance(0.5) ? { env: { [`E_${i}`]: "v", LOG: "1" } } : {}),
      ...(r.chance(0.5) ? { secretEnv: secretKeys.filter(() => r.chance(0.5)) } : {}),
      ...(r.chance(0.5) ? { mounts: [{ source: name, target: r.pick(["/data", "/var/lib/x", "/srv/a b"]), create: true }] } : {}),
      ...(earlier.length > 0 && r.chance(0.7) ? { dependsOn: earlier.filter(() => r.chance(0.5)) } : {}),
      ...(r.chance(0.8) ? { probe } : {}),
      ...(r.chance(0.3) ? { stopTimeout: r.pick(["1s", "30s", "2m"]) } : {}),
    };
  });
  return { doc: { pod: { name: `p${r.int(100)}`, ports, envFile, persistRoot: "data" }, containers }, names, secretKeys };
};

interface Mutation {
  readonly name: string;
  /** Changes `doc` and returns the field path an error must name (a prefix of it is enough). */
  apply(doc: Record<string, unknown>, r: Rng, names: readonly string[]): string;
}

const containerOf = (doc: Record<string, unknown>, name: string): Record<string, unknown> =>
  (doc.containers as Record<string, Record<string, unknown>>)[name] as Record<string, unknown>;

const MUTATIONS: readonly Mutation[] = [
  { name: "image with spaces", apply: (d, r, n) => { const c = r.pick(n); containerOf(d, c).image = "my image"; return `containers.${c}.image`; } },
  { name: "image with uppercase path", apply: (d, r, n) => { const c = r.pick(n); containerOf(d, c).image = "Valkey"; return `containers.${c}.image`; } },
  { name: "mount target /", apply: (d, r, n) => { const c = r.pick(n); containerOf(d, c).mounts = [{ source: "x", target: "/" }]; return `containers.${c}.mounts[0].target`; } },
  { name: "mount target /proc/x", apply: (d, r, n) => { const c = r.pick(n); containerOf(d, c).mounts = [{ source: "x", target: "/proc/x" }]; return `containers.${c}.mounts[0].target`; } },
  { name: "mount source /", apply: (d, r, n) => { const c = r.pick(n); containerOf(d, c).mounts = [{ source: "/", target: "/x" }]; return `containers.${c}.mounts[0].source`; } },
  { name: "relative mount target", apply: (d, r, n) => { const c = r.pick(n); containerOf(d, c).mounts = [{ source: "x", target: "data" }]; return `containers.${c}.mounts[0].target`; } },
  { name: "unknown dependency", apply: (d, r, n) => { const c = r.pick(n); containerOf(d, c).dependsOn = ["nobody"]; return `containers.${c}.dependsOn[0]`; } },
  { name: "self dependency", apply: (d, r, n) => { const c = r.pick(n); containerOf(d, c).dependsOn = [c]; return `containers.${c}.dependsOn[0]`; } },
  { name: "env key not a name", apply: (d, r, n) => { const c = r.pick(n); containerOf(d, c).env = { "A-B": "1" }; return `containers.${c}.env.A-B`; } },
  { name: "secretEnv key absent", apply: (d, r, n) => { const c = r.pick(n); containerOf(d, c).secretEnv = ["NOT_THERE"]; return `containers.${c}.secretEnv[0]`; } },
  { name: "stopTimeout not a duration", apply: (d, r, n) => { const c = r.pick(n); containerOf(d, c).stopTimeout = "soon"; return `containers.${c}.stopTimeout`; } },
  { name: "unknown container key", apply: (d, r, n) => { const c = r.pick(n); containerOf(d, c).restartPolicy = "always"; return `containers.${c}.restartPolicy`; } },
  { name: "probe path with a space", apply: (d, r, n) => { const c = r.pick(n); containerOf(d, c).probe = { http: { port: (d.pod as { ports: number[] }).ports[0], path: "/a b" } }; return `containers.${c}.probe.http.path`; } },
  { name: "probe port not published", apply: (d, r, n) => { const c = r.pick(n); containerOf(d, c).probe = { tcp: { port: 1 } }; return `containers.${c}.probe.tcp.port`; } },
  { name: "bad container name", apply: (d, r, n) => { const c = r.pick(n); const cs = d.containers as Record<string, unknown>; cs[`${c.toUpperCase()}_X`] = cs[c]; delete cs[c]; return `containers.${c.toUpperCase()}_X`; } },
  { name: "bad pod name", apply: (d) => { (d.pod as Record<string, unknown>).name = "Pod Name"; return "pod.name"; } },
  { name: "port out of range", apply: (d) => { (d.pod as { ports: unknown[] }).ports.push(70000); return `pod.ports[${(d.pod as { ports: unknown[] }).ports.length - 1}]`; } },
];

describe("config loader properties (seeded)", () => {
  it("random YAML documents: a config or a ConfigError, nothing else (400 cases)", async () => {
    const fx = await fixture();
    let errors = 0;
    for (let seed = 1; seed <= 400; seed += 1) {
      const file = await writeText(fx, "random.yaml", stringify(randomDocument(rng(seed), fx.envFile)));
      if ((await loadOrConfigError(file, seed)) instanceof ConfigError) errors += 1;
    }
    expect(errors).toBeGreaterThan(300);
  }, 60_000);

  it("random text: a config or a ConfigError, nothing else (400 cases)", async () => {
    const fx = await fixture();
    for (let seed = 1; seed <= 400; seed += 1) {
      const file = await writeText(fx, "random.yaml", randomText(rng(seed)));
      expect(await loadOrConfigError(file, seed)).toBeInstanceOf(ConfigError);
    }
  }, 60_000);

  it("random env files: a config or a ConfigError naming env-file lines, never a value (600 cases)", async () => {
    const fx = await fixture();
    const config = await fx.write("pod.yaml", { pod: { name: "p", envFile: "random.env", persistRoot: "d" }, containers: { a: { image: "x", secretEnv: "all" } } });
    const outcomes = { loaded: 0, refused: 0 };
    for (let seed = 1; seed <= 600; seed += 1) {
      const text = randomEnv(rng(seed));
      const envFile = await writeText(fx, "random.env", text);
      const result = await loadOrConfigError(config, seed);
      const parsed = parseEnv(text);
      if (result instanceof ConfigError) {
        outcomes.refused += 1;
        expect(result.message, `seed ${seed}: ${JSON.stringify(text)}`).not.toMatch(/V@\d/);
        for (const issue of result.issues) expect(issue.file === envFile && /^line \d+$|^keys$/.test(issue.path), `seed ${seed}: ${issue.path}`).toBe(true);
      } else {
        outcomes.loaded += 1;
        expect(parsed.problems, `seed ${seed}`).toEqual([]);
        expect(Object.fromEntries(result.secrets), `seed ${seed}`).toEqual(Object.fromEntries(parsed.entries.map((e) => [e.key, e.value])));
      }
      const lines = text.split("\n").length;
      for (const p of parsed.problems) expect(p.line >= 1 && p.line <= lines, `seed ${seed}: line ${p.line} of ${lines}`).toBe(true);
    }
    expect(outcomes.loaded).toBeGreaterThan(50);
    expect(outcomes.refused).toBeGreaterThan(300);
  }, 60_000);

  it("a generated valid config always loads, as generated (300 cases)", async () => {
    const fx = await fixture();
    const keys = ["OPENCODE_SERVER_PASSWORD", "DD_API_KEY", "CACHE_PASSWORD"];
    for (let seed = 1; seed <= 300; seed += 1) {
      const valid = generateValid(rng(seed), fx.envFile, keys);
      const file = await fx.write("valid.yaml", valid.doc);
      const loaded = await loadOrConfigError(file, seed);
      if (loaded instanceof ConfigError) throw new Error(`seed ${seed}: a valid config was refused:\n${loaded.message}`);
      expect(loaded.spec.containers.map((c) => c.name)).toEqual(valid.names);
    }
  }, 60_000);

  it("every mutation of a valid config fails naming the mutated field (17 mutations x 30 configs)", async () => {
    const fx = await fixture();
    const keys = ["OPENCODE_SERVER_PASSWORD", "DD_API_KEY", "CACHE_PASSWORD"];
    let cases = 0;
    for (let seed = 1; seed <= 30; seed += 1) {
      for (const mutation of MUTATIONS) {
        const r = rng(seed * 1000 + cases);
        const valid = generateValid(r, fx.envFile, keys);
        const doc = structuredClone(valid.doc);
        const field = mutation.apply(doc, r, valid.names);
        const file = await fx.write("mutated.yaml", doc);
        const result = await loadOrConfigError(file, seed);
        expect(result, `seed ${seed}, ${mutation.name}: loaded`).toBeInstanceOf(ConfigError);
        const paths = (result as ConfigError).issues.map((i) => i.path);
        expect(paths.some((p) => p === field || p.startsWith(`${field}.`) || p.startsWith(`${field}[`)), `seed ${seed}, ${mutation.name}: ${field} not in ${paths.join(", ")}`).toBe(true);
        cases += 1;
      }
    }
    expect(cases).toBe(MUTATIONS.length * 30);
  }, 60_000);
});
