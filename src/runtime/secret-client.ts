// SecretClient over libpod's secrets endpoints. Names are content-addressed, so a secret
// that exists is never rewritten; the pod's unused ones are pruned once all moved on.

import { PodmanApiError } from "../lib/errors.js";
import { LIBPOD } from "./libpod.js";
import type { PodmanApi } from "./podman-api.js";
import type { SecretClient } from "./port.js";

interface SecretInfo {
  ID: string;
  Spec: { Name: string };
}

export class PodmanSecrets implements SecretClient {
  readonly #api: PodmanApi;

  constructor(api: PodmanApi) {
    this.#api = api;
  }

  async ensureSecret(name: string, value: string): Promise<void> {
    const secrets = await this.#list();
    if (secrets.some((s) => s.Spec.Name === name)) return;
    await this.#api.call("secret.create", () =>
      this.#api.libpod.dial("secret.create", {
        method: "POST",
        path: `${LIBPOD}/secrets/create`,
        query: { name },
        raw: Buffer.from(value, "utf8"),
        contentType: "application/octet-stream",
        ok: [200, 201],
      }),
    );
  }

  #list(): Promise<SecretInfo[]> {
    return this.#api.get<SecretInfo[]>("secret.list", "/secrets/json");
  }

  async pruneSecrets(pod: string, keep: ReadonlySet<string>): Promise<void> {
    const mine = (await this.#list()).filter((s) => s.Spec.Name.startsWith(`${pod}--`) && !keep.has(s.Spec.Name));
    for (const s of mine) {
      try {
        await this.#api.call("secret.remove", () =>
          this.#api.libpod.dial("secret.remove", { method: "DELETE", path: `${LIBPOD}/secrets/${s.ID}`, ok: [200, 204] }),
        );
      } catch (err) {
        // Still used by a container (it will be recreated): leave it for the next prune.
        if (!(err instanceof PodmanApiError)) throw err;
      }
    }
  }
}
