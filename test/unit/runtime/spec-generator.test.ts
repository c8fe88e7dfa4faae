// The spec generator on the real pod (config/local.yaml, the four containers the e2e tests
// run): the libpod JSON bodies are pinned by golden files (UPDATE_GOLDEN=1 rewrites them),
// and the secrets' values never reach them.

import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config/load.js";
import { containerCreateRequest, podCreateRequest, SECRET_ENV_TARGET, type ContainerCreateRequest } from "../../../src/domain/create-request.js";
import { secretKeysFor } from "../../../src/domain/secret-env.js";
import type { PodSpec } from "../../../src/domain/spec.js";
import { fixture, REPO_CONFIG_DIR } from "../config/fixture.js";
import { effectiveArgv, toPodSpecGenerator, toSpecGenerator } from "../../../src/runtime/spec-generator.js";
import type { ImageArgv } from "../../../src/runtime/port.js";

const GOLDEN = fileURLToPath(new URL("./golden/", import.meta.url));
const SECRET_VALUES = ["pw-Lm4-distinctive", "dd-Qe7-distinctive"];
const ENV = `OPENCODE_SERVER_PASSWORD=${SECRET_VALUES[0]}\nDD_API_KEY=${SECRET_VALUES[1]}\n`;
/** What an image would say of itself (the Agent's: no ENTRYPOINT, CMD ["/bin/entrypoint.sh"]). */
const IMAGE_ARGV: ImageArgv = { entrypoint: null, cmd: ["/bin/entrypoint.sh"] };

const localPod = async (): Promise<{ spec: PodSpec; envKeys: string[] }> => {
  const f = await fixture(ENV);
  const file = await f.write("local.yaml", { extends: path.join(REPO_CONFIG_DIR, "local.yaml"), pod: { envFile: f.envFile } });
  const { spec, secrets } = await loadConfig(file);
  return { spec, envKeys: [...secrets.keys()].sort() };
};

/** The bodies podwarden would POST for the pod and each container (every mount present). */
const bodies = async (): Promise<Record<string, unknown>> => {
  const { spec, envKeys } = await localPod();
  const containers = spec.containers.map((c) => {
    const keys = secretKeysFor(c, envKeys);
    const req = containerCreateRequest(spec, c, keys.length > 0 ? { secret: `${spec.name}--${c.name}--golden`, keys } : undefined);
    return [c.name, toSpecGenerator(req, req.mounts, IMAGE_ARGV)] as const;
  });
  return { pod: toPodSpecGenerator(podCreateRequest(spec)), containers: Object.fromEntries(containers) };
};

const golden = async (name: string, actual: string): Promise<void> => {
  const file = path.join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === "1") {
    await mkdir(GOLDEN, { recursive: true });
    await writeFile(file, actual);
  }
  expect(actual).toBe(await readFile(file, "utf8"));
};

describe("spec generator", () => {
  it("turns the local pod's create requests into the libpod bodies in the golden file", async () => {
    const text = `${JSON.stringify(await bodies(), null, 2)}\n`;
    await golden("local-pod.json", text);
    for (const v of SECRET_VALUES) expect(text).not.toContain(v);
  });

  it("gives the same bodies for the same requests (pure)", async () => {
    expect(JSON.stringify(await bodies())).toBe(JSON.stringify(await bodies()));
  });

  it("runs a container with secrets under the env wrapper, with the image's argv when the spec gives none", async () => {
    const { containers } = (await bodies()) as { containers: Record<string, Record<string, unknown>> };
    const datadog = containers.datadog!;
    expect(datadog.command).toEqual(["/bin/entrypoint.sh"]);
    expect(datadog.secrets).toEqual([{ Source: "opencode-memory-pod--datadog--golden", Target: SECRET_ENV_TARGET, Mode: 0o400, UID: 0, GID: 0 }]);
    expect(containers.valkey!.secrets).toBeUndefined();
    expect(containers.valkey!.restart_policy).toBe("no");
  });

  it("puts the spec's entrypoint before its command, else the image's entrypoint before the spec's or the image's command", () => {
    const req: ContainerCreateRequest = { name: "x", pod: "p", image: "i", env: {}, mounts: [], labels: {}, stopTimeoutS: 1, command: ["b"] };
    expect(effectiveArgv({ ...req, entrypoint: ["a"] }, { entrypoint: ["x"], cmd: ["y"] })).toEqual(["a", "b"]);
    expect(effectiveArgv(req, { entrypoint: ["x"], cmd: ["y"] })).toEqual(["x", "b"]);
    expect(effectiveArgv({ ...req, command: undefined }, { entrypoint: ["x"], cmd: ["y"] })).toEqual(["x", "y"]);
  });
});
