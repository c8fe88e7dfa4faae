// The manifest is input like any other: every field checked, every path contained.

import { describe, expect, it } from "vitest";
import { archivePathProblem, checkManifest } from "../../../src/domain/archive-rules.js";

const SHA = "a".repeat(64);
const mount = { container: "valkey", source: "/srv/pod/valkey", target: "/data", path: "data/valkey/0" };
const manifest = (over: Record<string, unknown> = {}, entries: unknown[] = [{ path: "data/valkey/0", type: "dir" }, { path: "data/valkey/0/dump.rdb", type: "file", size: 3, sha256: SHA }]) =>
  JSON.stringify({ format: 2, pod: "p", createdAt: "2026-01-01T00:00:00.000Z", mounts: [mount], entries, bytes: 3, ...over });
const problem = (text: string, max = 1_000): string => {
  const v = checkManifest(text, max);
  return "problem" in v ? v.problem : "accepted";
};

describe("archive paths", () => {
  it.each([
    ["data/valkey/0/x", undefined],
    ["data/valkey/0/ spaces and ünïcode/-dash\nnewline", undefined],
    ["", "an empty path"],
    ["/etc/passwd", "an absolute path"],
    ["data/valkey/0/../../etc", 'a ".." path segment'],
    ["data/./x", 'a "." path segment'],
    ["data//x", "an empty path segment (// or a trailing /)"],
    ["data/x/", "an empty path segment (// or a trailing /)"],
    ["data/x\0y", "a NUL byte in the path"],
  ])("%j: %s", (p, want) => expect(archivePathProblem(p)).toBe(want));
});

describe("manifest checks", () => {
  it("accepts a well-formed manifest, links included", () => {
    const entries = [
      { path: "data/valkey/0", type: "dir" },
      { path: "data/valkey/0/a", type: "file", size: 3, sha256: SHA },
      { path: "data/valkey/0/b", type: "link", target: "data/valkey/0/a" },
      { path: "data/valkey/0/up", type: "symlink", target: "../../../etc" },
      { path: "data/valkey/0/abs", type: "symlink", target: "/etc" },
    ];
    expect(problem(manifest({}, entries))).toBe("accepted");
  });

  it.each<[string, string, RegExp]>([
    ["not JSON", "{", /not JSON/],
    ["unknown format", manifest({ format: 9 }), /format 9/],
    ["a mount path with ..", manifest({ mounts: [{ ...mount, path: "data/valkey/../../../etc" }] }), /mounts\[0\]\.path .*"\.\." path segment/],
    ["a mount path of another container", manifest({ mounts: [{ ...mount, path: "data/opencode/0" }] }), /is not data\/valkey\/<n>/],
    ["a relative mount source", manifest({ mounts: [{ ...mount, source: "srv/valkey" }] }), /not an absolute path/],
    ["a mount source with ..", manifest({ mounts: [{ ...mount, source: "/srv/pod/../../etc" }] }), /"\.\." path segment/],
    ["an absolute entry", manifest({}, [{ path: "/etc/shadow", type: "dir" }]), /an absolute path/],
    ["an entry outside every mount", manifest({ bytes: 0 }, [{ path: "data/valkey/0", type: "dir" }, { path: "data/other", type: "dir" }]), /not inside the directory of any mount/],
    ["a symlink as the mount's directory", manifest({ bytes: 0 }, [{ path: "data/valkey/0", type: "symlink", target: "../../etc" }]), /must be a directory/],
    ["an entry listed twice", manifest({ bytes: 6 }, [{ path: "data/valkey/0", type: "dir" }, { path: "data/valkey/0/a", type: "file", size: 3, sha256: SHA }, { path: "data/valkey/0/a", type: "file", size: 3, sha256: SHA }]), /listed twice/],
    ["an entry under a symlink", manifest({ bytes: 0 }, [{ path: "data/valkey/0", type: "dir" }, { path: "data/valkey/0/l", type: "symlink", target: "/etc" }, { path: "data/valkey/0/l/passwd", type: "dir" }]), /parent data\/valkey\/0\/l is not a directory/],
    ["a hard link to a path outside", manifest({ bytes: 0 }, [{ path: "data/valkey/0", type: "dir" }, { path: "data/valkey/0/h", type: "link", target: "/etc/shadow" }]), /hard link target/],
    ["a hard link to a later entry", manifest({}, [{ path: "data/valkey/0", type: "dir" }, { path: "data/valkey/0/h", type: "link", target: "data/valkey/0/a" }, { path: "data/valkey/0/a", type: "file", size: 3, sha256: SHA }]), /hard link target/],
    ["a bad checksum field", manifest({}, [{ path: "data/valkey/0", type: "dir" }, { path: "data/valkey/0/a", type: "file", size: 3, sha256: "x" }]), /sha256/],
    ["a negative size", manifest({ bytes: -1 }, [{ path: "data/valkey/0", type: "dir" }, { path: "data/valkey/0/a", type: "file", size: -1, sha256: SHA }]), /size/],
    ["bytes that are not the sum", manifest({ bytes: 1 }), /not the sum/],
    ["more than the limit", manifest({ bytes: 5000 }, [{ path: "data/valkey/0", type: "dir" }, { path: "data/valkey/0/a", type: "file", size: 5000, sha256: SHA }]), /more than the limit of 1000/],
    ["an unknown type", manifest({ bytes: 0 }, [{ path: "data/valkey/0", type: "dir" }, { path: "data/valkey/0/f", type: "fifo" }]), /type "fifo"/],
    ["a mount without its directory", manifest({ bytes: 0 }, []), /directory of mount data\/valkey\/0 is not listed/],
  ])("refuses %s", (_, text, want) => expect(problem(text)).toMatch(want));

  it("reads format 1 (regular files only; directories implied)", () => {
    const v = checkManifest(JSON.stringify({ format: 1, pod: "p", createdAt: "x", mounts: [mount], files: [{ path: "data/valkey/0/dump.rdb", size: 3, sha256: SHA }], bytes: 3 }), 10);
    expect("ok" in v && v.ok.implicitDirs).toBe(true);
  });
});
