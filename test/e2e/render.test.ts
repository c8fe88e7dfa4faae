// `podman kube play` of `podwarden render kube` on real Podman with the local images: the
// containers start and OpenCode answers its authenticated health check from inside the pod
// (the same command as the rendered exec probe). Unique names; everything removed after.

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { cli, LOCAL_CONFIG, podman, waitFor } from "../support/podman-harness.js";

const id = `pw-kube-${randomBytes(3).toString("hex")}`;
const password = `pw-${randomBytes(6).toString("hex")}`;
let dir = "";
let kubeFile = "";

const names = ["valkey", "falkordb", "datadog", "opencode"];

afterAll(async () => {
  if (kubeFile) await podman("kube", "down", kubeFile).catch(() => "");
  await podman("pod", "rm", "-f", "--ignore", `${id}-pod-0`).catch(() => "");
  for (const n of ["valkey", "falkordb", "opencode"]) await podman("volume", "rm", "-f", `${id}-${n}`).catch(() => "");
  await podman("secret", "rm", `${id}-env`).catch(() => "");
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("render kube + podman kube play", () => {
  it("plays the rendered Deployment: every container runs, OpenCode's authenticated probe passes", async () => {
    dir = await mkdtemp(join(tmpdir(), "podwarden-render-e2e-"));
    await writeFile(join(dir, "secrets.env"), `OPENCODE_SERVER_PASSWORD=${password}\nDD_API_KEY=dd-e2e\n`, { mode: 0o600 });
    // workdir: podman 4.3's kube play does not create the image's WORKDIR (/workspace) the way `podman run` does.
    await writeFile(join(dir, "config.yaml"), stringify({ extends: LOCAL_CONFIG, pod: { name: id, envFile: "secrets.env" }, containers: { opencode: { workdir: "/root" } } }));
    const rendered = await cli(["render", "kube", "--config", join(dir, "config.yaml")]);
    expect(rendered.code, rendered.stderr).toBe(0);
    expect(rendered.stdout).not.toContain(password);
    kubeFile = join(dir, "kube.yaml");
    await writeFile(kubeFile, rendered.stdout);

    // podman 4.3 reads a secretRef's podman secret as JSON {KEY: base64(value)}.
    const secretFile = join(dir, "secret.json");
    await writeFile(secretFile, JSON.stringify({ OPENCODE_SERVER_PASSWORD: Buffer.from(password).toString("base64"), DD_API_KEY: Buffer.from("dd-e2e").toString("base64") }), { mode: 0o600 });
    await podman("secret", "create", `${id}-env`, secretFile);

    await podman("kube", "play", kubeFile);
    await waitFor(
      "all containers running",
      async () => {
        const out = await podman("ps", "--filter", `pod=${id}-pod-0`, "--format", "{{.Names}} {{.Status}}");
        // podman 4.3 prints "Up 3 seconds ago (starting)" as the status of a running container.
        const running = out.split("\n").filter((l) => / Up /.test(l));
        return names.every((n) => running.some((l) => l.startsWith(`${id}-pod-0-${n} `))) ? running : undefined;
      },
      120_000,
      500,
    );
    const health = await waitFor(
      "OpenCode health with the password",
      async () => {
        const probe = `printf 'user = "%s:%s"\\n' opencode "$OPENCODE_SERVER_PASSWORD" | curl -fsS --max-time 5 -K - http://127.0.0.1:4096/global/health`;
        return podman("exec", `${id}-pod-0-opencode`, "sh", "-c", probe).catch(() => undefined);
      },
      120_000,
      500,
    );
    expect(JSON.parse(health)).toMatchObject({ healthy: true });
  }, 300_000);
});
