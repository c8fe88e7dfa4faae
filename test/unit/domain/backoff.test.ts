import { describe, expect, it } from "vitest";
import { DEFAULT_BACKOFF, nextDelay } from "../../../src/domain/backoff.js";

describe("nextDelay", () => {
  const mid = () => 0.5; // no jitter

  it.each([
    [1, 0],
    [2, 1_000],
    [3, 2_000],
    [4, 4_000],
    [8, 64_000],
    [9, 120_000],
    [50, 120_000],
  ])("after %i failures waits %i ms", (failures, expected) => {
    expect(nextDelay(failures, DEFAULT_BACKOFF, mid)).toBe(expected);
  });

  it("jitters within ±10% and never past the cap", () => {
    expect(nextDelay(4, DEFAULT_BACKOFF, () => 0)).toBe(3_600);
    expect(nextDelay(4, DEFAULT_BACKOFF, () => 1)).toBe(4_400);
    expect(nextDelay(20, DEFAULT_BACKOFF, () => 1)).toBe(120_000);
  });
});
