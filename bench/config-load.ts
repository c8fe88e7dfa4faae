// Time and peak memory of loading the biggest configs the bounds allow (src/config/limits.ts): not a
// test, figures only. The parent writes each shape's file; a child process of its own loads it, so
// its peak RSS is the loader's (plus node and tsx).
//   npx tsx bench/config-load.ts

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { loadConfig } from "../src/config/load.js";
import { LIMITS } from "../src/config/limits.js";

type Doc = Record<string, unknown>;

const pad = (n: number, width: number): string => String(n).padStart(width, "0");

/** An env file just under its byte limit: LIMITS.envKeys keys with long values. */
const envFile = (): string => {
  const valueLength = Math.floor(LIMITS.envFileBytes / LIMITS.envKeys) - 16;
  return Array.from({ length: LIMITS.envKeys }, (_, i) => `KEY_${pad(i, 4)}=${"v".repeat(valueLength)}\n`).join("");
};

const base = (envPath: string, containers: Record<string, Doc>): Doc => ({
  pod: { name: "bench", envFile: envPath, persistRoot: "data", ports: [8080] },
  containers,
});

/** Fills `make(i)` entries until the YAML text reaches the config byte limit. */
const fill = (render: (n: number) => string, lo = 1, hi = 1 << 20): number => {
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (Buffer.byteLength(render(mid)) <= LIMITS.configBytes) lo = mid;
    else hi = mid - 1;
  }
  return lo;
};

const SHAPES: Record<string, (envPath: string) => string> = {
  /** 64 containers in a dependency chain, each with an env map: the file at its byte limit. */
  "64-containers-chain"(envPath) {
    const render = (perContainer: number): string => {
      const containers: Record<string, Doc> = {};
      for (let c = 0; c < LIMITS.containers; c += 1) {
        containers[`c${c}`] = {
          image: `localhost/bench-${c}:latest`,
          secretEnv: ["KEY_0000"],
          env: Object.fromEntries(Array.from({ length: perContainer }, (_, i) => [`E_${i}`, "x"])),
          dependsOn: c === 0 ? [] : Array.from({ length: c }, (_, d) => `c${d}`),
          mounts: [{ source: `c${c}`, target: "/data", create: true }],
          probe: { tcp: { port: 8080 } },
        };
      }
      return stringify(base(envPath, containers));
    };
    return render(fill((n) => render(n), 1, 4000));
  },
  /** One container whose env map fills the file (the most keys in one YAML mapping). */
  "one-env-map"(envPath) {
    const render = (n: number): string =>
      stringify(base(envPath, { app: { image: "localhost/app:latest", env: Object.fromEntries(Array.from({ length: n }, (_, i) => [`E${i}`, "x"])) } }));
    return render(fill(render));
  },
  /** One container whose command list fills the file. */
  "one-long-list"(envPath) {
    const render = (n: number): string => stringify(base(envPath, { app: { image: "localhost/app:latest", command: Array.from({ length: n }, () => "x") } }));
    return render(fill(render));
  },
  /** Every env key invalid: the most errors one file can make. */
  "all-errors"(envPath) {
    const render = (n: number): string =>
      stringify(base(envPath, { app: { image: "localhost/app:latest", env: Object.fromEntries(Array.from({ length: n }, (_, i) => [`${i}-bad`, "x"])) } }));
    return render(fill(render));
  },
};

const vmHwmKiB = (): number => Number(/VmHWM:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? 0);

/** In the child: load `file` once, print the figures. */
async function load(shape: string, file: string): Promise<void> {
  const before = vmHwmKiB();
  const started = performance.now();
  const outcome = await loadConfig(file).then(
    (c) => `loaded: ${c.spec.containers.length} containers, ${c.secrets.size} env keys`,
    (err: unknown) => `${(err as { issues?: unknown[] }).issues?.length ?? "?"} config errors`,
  );
  const ms = performance.now() - started;
  const bytes = readFileSync(file).length;
  console.log(JSON.stringify({ shape, configBytes: bytes, ms: Math.round(ms), peakRssMiB: +(vmHwmKiB() / 1024).toFixed(1), rssBeforeLoadMiB: +(before / 1024).toFixed(1), outcome }));
}

if (process.argv[2] !== undefined) await load(process.argv[2], process.argv[3] ?? "");
else {
  const self = fileURLToPath(import.meta.url);
  const dir = mkdtempSync(path.join(tmpdir(), "podwarden-bench-config-"));
  try {
    const envPath = path.join(dir, "bench.env");
    writeFileSync(envPath, envFile(), { mode: 0o600 });
    for (const [name, make] of Object.entries(SHAPES)) {
      const file = path.join(dir, `${name}.yaml`);
      writeFileSync(file, make(envPath));
      process.stdout.write(execFileSync(process.execPath, ["--import", "tsx", self, name, file], { encoding: "utf8" }));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
