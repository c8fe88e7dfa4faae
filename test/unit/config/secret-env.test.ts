// secretEnv patterns in a config: what they are checked for against the env file, and the
// keys each container then receives.

import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config/load.js";
import { secretKeysFor } from "../../../src/domain/secret-env.js";
import { expectIssue, fixture, loadError, writeConfig } from "./fixture.js";

const ENV = "OPENCODE_SERVER_PASSWORD=s3cret\nOPENCODE_SERVER_USERNAME=me\nDD_API_KEY=dd\nDD_SITE=eu\nANTHROPIC_API_KEY=a\nCACHE_PASSWORD=c\n";

describe("secretEnv patterns", () => {
  it("give each container exactly the keys its patterns match", async () => {
    const fx = await fixture(ENV);
    const file = await writeConfig(fx, {
      "containers.web.secretEnv": ["OPENCODE_*", "*_API_KEY", "!DD_*"],
      "containers.agent.secretEnv": ["DD_*"],
      "containers.cache.secretEnv": ["CACHE_PASSWORD"],
    });
    const { spec, secrets, warnings } = await loadConfig(file);
    expect(warnings).toEqual([]);
    const keys = Object.fromEntries(spec.containers.map((c) => [c.name, secretKeysFor(c, secrets.keys())]));
    expect(keys).toEqual({
      cache: ["CACHE_PASSWORD"],
      web: ["ANTHROPIC_API_KEY", "OPENCODE_SERVER_PASSWORD", "OPENCODE_SERVER_USERNAME"],
      agent: ["DD_API_KEY", "DD_SITE"],
    });
  });

  it('"all" still works, with a warning that it hands every key over', async () => {
    const fx = await fixture(ENV);
    const file = await writeConfig(fx, { "containers.agent.secretEnv": "all" });
    const { spec, secrets, warnings } = await loadConfig(file);
    expect(secretKeysFor(spec.containers[2]!, secrets.keys())).toEqual([...secrets.keys()].sort());
    expect(warnings).toEqual([
      `${file}: containers.agent.secretEnv: "all" hands every key of the env file to this container, keys meant for other containers included: ` +
        "list only the keys it needs (KEY, DD_*, !DD_*)",
    ]);
  });

  it('a bare "*" warns the same way; with an exclusion it does not', async () => {
    const fx = await fixture(ENV);
    const star = await loadConfig(await writeConfig(fx, { "containers.agent.secretEnv": ["*"] }));
    expect(star.warnings).toEqual([expect.stringContaining('containers.agent.secretEnv: "*" hands every key of the env file')]);
    const fx2 = await fixture(ENV);
    const most = await loadConfig(await writeConfig(fx2, { "containers.agent.secretEnv": ["*", "!OPENCODE_*"] }));
    expect(most.warnings).toEqual([]);
  });

  it("a glob that matches no key is a warning naming it", async () => {
    const fx = await fixture(ENV);
    const file = await writeConfig(fx, { "containers.agent.secretEnv": ["DD_*", "DATADOG_*", "!NOPE_*"] });
    const { warnings } = await loadConfig(file);
    expect(warnings).toEqual([`${file}: containers.agent.secretEnv[1]: DATADOG_* matches no key of the env file ${fx.envFile}: the container receives none`]);
  });

  it("a glob that matches only keys it also leaves out is not unmatched", async () => {
    const fx = await fixture("OPENCODE_SERVER_PASSWORD=s3cret\nDD_API_KEY=dd\nCACHE_PASSWORD=c\n");
    const file = await writeConfig(fx, { "containers.web.secretEnv": ["OPENCODE_*", "*_API_KEY", "!DD_*"] });
    const { spec, secrets, warnings } = await loadConfig(file);
    expect(warnings).toEqual([]);
    expect(secretKeysFor(spec.containers[1]!, secrets.keys())).toEqual(["OPENCODE_SERVER_PASSWORD"]);
  });

  it("rejects an exact key that a ! pattern of the same list leaves out, and a list of only exclusions", async () => {
    const fx = await fixture(ENV);
    const file = await writeConfig(fx, {
      "containers.agent.secretEnv": ["DD_API_KEY", "!DD_*"],
      "containers.cache.secretEnv": ["!DD_*"],
    });
    const error = await loadError(file);
    expectIssue(error, file, "containers.agent.secretEnv[0]", /DD_API_KEY is also left out by a ! pattern of this list/);
    expectIssue(error, file, "containers.cache.secretEnv", /has only ! patterns, which leave keys out of nothing/);
    expect(error.issues).toHaveLength(2);
  });

  it("rejects patterns that are not keys or globs over keys", async () => {
    const fx = await fixture(ENV);
    const file = await writeConfig(fx, { "containers.agent.secretEnv": ["DD-*"] });
    const hint = /must be an env-file key \(letters, digits, _\), a pattern with \* \(DD_\*\), or ! before either to leave keys out \(got "DD-\*"\)/;
    expectIssue(await loadError(file), file, "containers.agent.secretEnv[0]", hint);
    const fx2 = await fixture(ENV);
    const other = await writeConfig(fx2, { "containers.agent.secretEnv": "some" });
    expectIssue(await loadError(other), other, "containers.agent.secretEnv", /must be a list of env-file keys and patterns \(KEY, DD_\*, !DD_\*\), or "all"/);
  });

  it("a probe password or required key that an exclusion keeps from the container is a warning", async () => {
    const fx = await fixture(ENV);
    const file = await writeConfig(fx, {
      "containers.web.secretEnv": ["*", "!OPENCODE_SERVER_PASSWORD"],
      "containers.agent.requiredSecrets": ["DD_API_KEY"],
      "containers.agent.secretEnv": ["*_API_KEY", "!DD_*"],
    });
    const { warnings } = await loadConfig(file);
    expect(warnings).toEqual([
      expect.stringContaining("containers.agent.requiredSecrets[0]: DD_API_KEY is not in containers.agent.secretEnv: the container does not receive it"),
      expect.stringContaining("containers.web.probe.http.auth.passwordKey: OPENCODE_SERVER_PASSWORD is not in containers.web.secretEnv"),
    ]);
  });
});
