// longestGapS: the backup_interval_seconds gauge the overdue-backup alert compares against.

import { describe, expect, it } from "vitest";
import { longestGapS } from "../../../src/jobs/cron.js";

// A Wednesday, local time (cron's times are the host's).
const FROM = new Date(2026, 0, 7, 12, 0, 0).getTime();

describe("longestGapS", () => {
  it.each([
    ["0 3 * * *", 86_400],
    ["0 * * * *", 3_600],
    ["*/15 * * * *", 900],
    ["* * * * * *", 1],
    // Friday 03:00 to Monday 03:00.
    ["0 3 * * 1-5", 3 * 86_400],
    // Two runs a day, unevenly: 20:00 to 04:00 next day is the short gap, 04:00 to 20:00 the long one.
    ["0 4,20 * * *", 16 * 3_600],
  ])("%s waits at most %d s between runs (an hour more across a DST change)", (expression, seconds) => {
    const gap = longestGapS(expression, FROM);
    expect(gap).toBeGreaterThanOrEqual(seconds);
    expect(gap).toBeLessThanOrEqual(seconds + 3_600);
  });

  it("a weekday-hourly schedule sees its weekend (Friday 23:00 to Monday 00:00)", () => {
    expect(longestGapS("0 * * * 1-5", FROM)).toBe(49 * 3_600);
  });

  it("a monthly schedule's gap is a month (January and February ahead: 31 days), a yearly one's a year (2028 is a leap year: 366 days)", () => {
    expect(Math.abs(longestGapS("0 3 1 * *", FROM) - 31 * 86_400)).toBeLessThanOrEqual(3_600);
    expect(longestGapS("0 3 1 1 *", FROM)).toBe(366 * 86_400);
  });
});
