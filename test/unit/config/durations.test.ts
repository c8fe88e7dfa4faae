import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "../../../src/config/durations.js";

describe("parseDuration", () => {
  it.each([
    ["500ms", 500],
    ["10s", 10_000],
    ["2m", 120_000],
    ["1h", 3_600_000],
    ["7d", 604_800_000],
    ["0s", 0],
    ["1m30s", 90_000],
    ["1h2m3s4ms", 3_723_004],
  ])("reads %s as %i ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(["", "10", "10 s", "1.5s", "-1s", "10sec", "s", "1w", " 1s"])("rejects %j", (text) => {
    expect(() => parseDuration(text)).toThrow(/invalid duration .*expected a duration such as "500ms", "10s", "2m", "1h"/);
  });
});

describe("formatDuration", () => {
  it.each([
    [0, "0s"],
    [500, "500ms"],
    [90_000, "1m30s"],
    [600_000, "10m"],
    [3_723_004, "1h2m3s4ms"],
  ])("writes %i ms as %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
