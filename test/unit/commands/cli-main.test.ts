// The CLI's main() in-process: a command's --help, the one-line usage errors, and the parsed
// options reaching a real command (render flux, logs), with stdout and stderr captured.

import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { main } from "../../../src/cli.js";

const CONFIG = fileURLToPath(new URL("../../../config/opencode-memory-pod.yaml", import.meta.url));

let stdout: string;
let stderr: string;
beforeEach(() => {
  stdout = "";
  stderr = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe("podwarden <command> --help", () => {
  it("prints that command's help and exits 0, before checking anything else", async () => {
    expect(await main(["logs", "--help"])).toBe(0);
    expect(stdout).toMatch(/^podwarden logs — /);
    expect(stdout).toContain("Usage: podwarden logs <container> [options]");
    expect(stdout).toContain("--tail N");
    expect(stdout).not.toContain("--with-memory");
    expect(stderr).toBe("");
  });

  it("podwarden help <command> prints the same", async () => {
    expect(await main(["help", "render"])).toBe(0);
    const viaHelp = stdout;
    stdout = "";
    expect(await main(["render", "-h"])).toBe(0);
    expect(stdout).toBe(viaHelp);
  });
});

describe("usage errors: one line naming the fault, then where the help is; exit 2", () => {
  it.each([
    [["down", "--with-memory"], "podwarden down: --with-memory is an option of render, not down", "down"],
    [["status", "--tail", "5"], "podwarden status: --tail is an option of logs, not status", "status"],
    [["up", "--timout", "5s"], "podwarden up: Unknown option '--timout'", "up"],
    [["render", "kube", "extra"], "podwarden render: usage: podwarden render kube", "render"],
  ])("%j", async (argv, first, command) => {
    expect(await main(argv)).toBe(2);
    const lines = stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain(first);
    expect(lines[1]).toBe(`see podwarden ${command} --help`);
    expect(stdout).toBe("");
  });
});

describe("the options a command receives", () => {
  it("render flux gets its --domain, every --workspace and --image", async () => {
    const argv = ["render", "flux", "-c", CONFIG, "--domain", "example.com", "--workspace", "alpha=https://github.com/o/alpha.git", "--workspace", "beta=https://github.com/o/beta.git#dev", "--image", "ghcr.io/o/opencode-server:1.2.3"];
    expect(await main(argv), stderr).toBe(0);
    for (const ws of ["alpha", "beta"]) expect(stdout).toContain(`${ws}.opencode.example.com`);
    expect(stdout).toContain("ghcr.io/o/opencode-server:1.2.3");
    expect(stdout).toContain("https://github.com/o/beta.git");
  });

  it("logs gets --tail (a bad one is the command's own usage error, before any config or Podman)", async () => {
    expect(await main(["logs", "opencode", "--tail", "many", "-c", "/nonexistent.yaml"])).toBe(2);
    expect(stderr).toBe("podwarden logs: --tail takes a number of lines, not 'many'\nsee podwarden logs --help\n");
  });

  it("status gets --url", async () => {
    expect(await main(["status", "--url", "not a url"])).toBe(2);
    expect(stderr).toContain("--url: 'not a url' is not a URL");
  });
});
