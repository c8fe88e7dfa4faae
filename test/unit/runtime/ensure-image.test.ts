import { describe, expect, it } from "vitest";
import type { ImageSpec } from "../../../src/domain/spec.js";
import { ensureImage } from "../../../src/runtime/ensure-image.js";
import { FakeClock } from "../../support/fake-clock.js";
import { FakeRuntime } from "../../support/fake-runtime.js";

const images: Record<string, ImageSpec> = {
  "localhost/base:1": { ref: "localhost/base:1", debootstrap: { suite: "bookworm", variant: "minbase", mirror: "http://deb.debian.org/debian" } },
  "localhost/app:1": { ref: "localhost/app:1", from: "localhost/base:1", build: { containerfile: "/c/app.Containerfile", context: "/c", args: {} } },
};

const ensure = (rt: FakeRuntime, ref = "localhost/app:1") => ensureImage(ref, images, rt, () => undefined);
const built = (rt: FakeRuntime) => rt.journal.filter((j) => j.op === "build" || j.op === "bootstrap").map((j) => `${j.op} ${j.name}`);

describe("ensureImage", () => {
  it("makes the base first, then the image; a second call does nothing", async () => {
    const rt = new FakeRuntime(new FakeClock());
    expect(await ensure(rt)).toBe("built");
    expect(built(rt)).toEqual(["bootstrap localhost/base:1", "build localhost/app:1"]);
    expect(await ensure(rt)).toBe("present");
    expect(built(rt)).toHaveLength(2);
  });

  it("rebuilds an image whose Containerfile or context changed, and only that one", async () => {
    const rt = new FakeRuntime(new FakeClock());
    await ensure(rt);
    rt.inputs.set("/c/app.Containerfile", "v2");
    expect(await ensure(rt)).toBe("built");
    expect(built(rt).slice(2)).toEqual(["build localhost/app:1"]);
  });

  it("rebuilds an image made by someone else (no recipe label)", async () => {
    const rt = new FakeRuntime(new FakeClock(), ["localhost/base:1", "localhost/app:1"]);
    await ensure(rt);
    expect(built(rt)).toEqual(["bootstrap localhost/base:1", "build localhost/app:1"]);
  });

  it("asks each image's recipe once, its base's included, when nothing is to be made", async () => {
    const rt = new FakeRuntime(new FakeClock());
    await ensure(rt);
    const asked: string[] = [];
    const recipe = rt.imageRecipe.bind(rt);
    rt.imageRecipe = (ref) => (asked.push(ref), recipe(ref));
    expect(await ensure(rt)).toBe("present");
    expect(asked.sort()).toEqual(["localhost/app:1", "localhost/base:1"]);
  });

  it("pulls images the spec does not declare, only when missing", async () => {
    const rt = new FakeRuntime(new FakeClock(), ["docker.io/library/valkey:8"]);
    expect(await ensure(rt, "docker.io/library/valkey:8")).toBe("present");
    expect(await ensure(rt, "docker.io/library/redis:7")).toBe("pulled");
  });
});
