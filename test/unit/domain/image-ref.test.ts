import { describe, expect, it } from "vitest";
import { formatImageRef, parseImageRef } from "../../../src/domain/image-ref.js";

const DIGEST = `sha256:${"a".repeat(64)}`;

describe("parseImageRef: the reference grammar", () => {
  it.each([
    ["valkey", { path: "valkey" }],
    ["valkey/valkey:8.0", { path: "valkey/valkey", tag: "8.0" }],
    ["docker.io/falkordb/falkordb:latest", { domain: "docker.io", path: "falkordb/falkordb", tag: "latest" }],
    ["localhost/opencode-server:local", { domain: "localhost", path: "opencode-server", tag: "local" }],
    ["localhost:5000/a/b_c/d__e/f-g/h--i:v1.2-rc_3", { domain: "localhost:5000", path: "a/b_c/d__e/f-g/h--i", tag: "v1.2-rc_3" }],
    ["gcr.io/datadoghq/agent:7", { domain: "gcr.io", path: "datadoghq/agent", tag: "7" }],
    [`registry.example.com:443/app@${DIGEST}`, { domain: "registry.example.com:443", path: "app", digest: DIGEST }],
    [`app:1@${DIGEST}`, { path: "app", tag: "1", digest: DIGEST }],
    ["[::1]:5000/app", { domain: "[::1]:5000", path: "app" }],
    ["Registry/app", { domain: "Registry", path: "app" }],
    ["localhost:5000", { path: "localhost", tag: "5000" }],
    [`a:${"t".repeat(128)}`, { path: "a", tag: "t".repeat(128) }],
  ])("%s", (text, parts) => {
    expect(parseImageRef(text)).toEqual(parts);
    expect(formatImageRef(parts)).toBe(text);
  });

  it.each([
    ["", /is empty/],
    ["bad image ref", /whitespace/],
    ["valkey\t", /whitespace/],
    ["Valkey", /path component "Valkey"/],
    ["library/Valkey:1", /path component "Valkey"/],
    ["a//b", /path component ""/],
    ["a/", /path component ""/],
    ["-a", /path component "-a"/],
    ["a_", /path component "a_"/],
    ["a___b", /path component "a___b"/],
    ["a:", /tag ""/],
    ["a:-x", /tag "-x"/],
    [`a:${"t".repeat(129)}`, /tag/],
    ["a:b:c", /path component "a:b"|registry|tag/],
    ["a@sha256:abc", /digest "sha256:abc"/],
    ["a@", /digest ""/],
    ["exa_mple.com/a", /registry host "exa_mple.com"/],
    ["example.com:99999/a", /registry port "99999"/],
    ["example.com:/a", /registry port ""/],
    [":tag", /has no name/],
    [`${"a".repeat(256)}`, /256 characters, more than 255/],
  ])("refuses %j", (text, message) => {
    const result = parseImageRef(text);
    expect(typeof result).toBe("string");
    expect(result).toMatch(message);
  });

  it("returns on long hostile input (a catastrophic regex would not, within the test's timeout)", () => {
    expect(parseImageRef(`${"a-".repeat(200)}!`)).toMatch(/name is 401 characters/);
    expect(parseImageRef(`x/${"a-".repeat(60)}-!`)).toMatch(/path component/);
    expect(parseImageRef(`a:${"b".repeat(5000)}!`)).toMatch(/tag/);
  });
});
