// CronSchedule.next(): the decision the scheduler's timer sleeps on. Schedules are in the host's
// local time, so these run in a zone with daylight saving time (Europe/Berlin: 2026-03-29 02:00
// CET jumps to 03:00 CEST, 2026-10-25 03:00 CEST falls back to 02:00 CET).

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scheduleError } from "../../../src/domain/schedule.js";
import { CronSchedule } from "../../../src/jobs/cron.js";

const ZONE = "Europe/Berlin";
let savedTz: string | undefined;
beforeAll(() => {
  savedTz = process.env.TZ;
  process.env.TZ = ZONE;
});
afterAll(() => {
  if (savedTz === undefined) delete process.env.TZ;
  else process.env.TZ = savedTz;
});

/** A wall-clock time in the zone ("2026-03-29 02:30"); a repeated time is its first occurrence. */
const local = (text: string): number => {
  const [y, mo, d, h = 0, mi = 0, s = 0] = text.split(/[-: ]/).map(Number);
  return new Date(y!, mo! - 1, d!, h, mi, s).getTime();
};
const utc = (ms: number): string => new Date(ms).toISOString().replace(".000Z", "Z");
/** The first `n` firings after `from`. */
const firings = (expression: string, from: number, n: number): string[] => {
  const cron = new CronSchedule(expression);
  const out: string[] = [];
  let t = from;
  for (let i = 0; i < n; i++) out.push(utc((t = cron.next(t))));
  return out;
};

describe("CronSchedule.next", () => {
  it("the zone under test has daylight saving time (else the DST cases prove nothing)", () => {
    expect(new Date(local("2026-01-15 12:00")).getTimezoneOffset()).toBe(-60);
    expect(new Date(local("2026-07-15 12:00")).getTimezoneOffset()).toBe(-120);
  });

  it("fires strictly after the given time, at whole seconds", () => {
    const cron = new CronSchedule("30 3 * * *");
    expect(utc(cron.next(local("2026-06-10 12:00")))).toBe("2026-06-11T01:30:00Z");
    expect(utc(cron.next(local("2026-06-11 03:30")))).toBe("2026-06-12T01:30:00Z");
    expect(utc(cron.next(local("2026-06-11 03:29:59") + 999))).toBe("2026-06-11T01:30:00Z");
  });

  it("step values: every 15 minutes, every 6 hours, every 20 seconds", () => {
    expect(firings("*/15 * * * *", local("2026-06-10 10:07"), 3)).toEqual(["2026-06-10T08:15:00Z", "2026-06-10T08:30:00Z", "2026-06-10T08:45:00Z"]);
    expect(firings("0 */6 * * *", local("2026-06-10 00:00"), 4)).toEqual([
      "2026-06-10T04:00:00Z",
      "2026-06-10T10:00:00Z",
      "2026-06-10T16:00:00Z",
      "2026-06-10T22:00:00Z",
    ]);
    expect(firings("*/20 * * * * *", local("2026-06-10 10:00:05"), 3)).toEqual(["2026-06-10T08:00:20Z", "2026-06-10T08:00:40Z", "2026-06-10T08:01:00Z"]);
  });

  it("ranges and lists: working hours on weekdays skip the weekend; the 1st and 15th", () => {
    // 2026-06-12 is a Friday.
    expect(firings("0 9-17 * * 1-5", local("2026-06-12 16:30"), 2)).toEqual(["2026-06-12T15:00:00Z", "2026-06-15T07:00:00Z"]);
    expect(firings("0 4 * * SUN", local("2026-06-12 00:00"), 2)).toEqual(["2026-06-14T02:00:00Z", "2026-06-21T02:00:00Z"]);
    expect(firings("0 0 1,15 * *", local("2026-06-02 00:00"), 3)).toEqual(["2026-06-14T22:00:00Z", "2026-06-30T22:00:00Z", "2026-07-14T22:00:00Z"]);
  });

  it("month ends: the 31st skips months without one, the 30th skips February", () => {
    expect(firings("0 0 31 * *", local("2026-01-31 00:00"), 3)).toEqual(["2026-03-30T22:00:00Z", "2026-05-30T22:00:00Z", "2026-07-30T22:00:00Z"]);
    expect(firings("0 0 30 * *", local("2026-01-30 00:00"), 2)).toEqual(["2026-03-29T22:00:00Z", "2026-04-29T22:00:00Z"]);
  });

  it("February 29 fires in leap years only", () => {
    expect(firings("0 12 29 2 *", local("2026-01-01 00:00"), 2)).toEqual(["2028-02-29T11:00:00Z", "2032-02-29T11:00:00Z"]);
  });

  it("day of month and day of week must both match (node-cron's rule, not Vixie cron's either-or)", () => {
    // Friday the 13th: 2026-01-02 is a Friday and 2026-01-13 a Tuesday, but 2026-02-13 is both.
    expect(firings("0 0 13 * 5", local("2026-01-01 00:00"), 2)).toEqual(["2026-02-12T23:00:00Z", "2026-03-12T23:00:00Z"]);
    // February 29 on a Monday: none before 2044, beyond the five years looked at.
    expect(() => new CronSchedule("0 0 29 2 1").next(local("2026-01-01 00:00"))).toThrow(/does not fire within five years/);
    expect(new CronSchedule("0 0 29 2 1").next(local("2043-06-01 00:00"))).toBe(local("2044-02-29 00:00"));
  });

  it("spring forward: a time in the skipped hour fires once, shifted by the gap (02:30 -> 03:30 CEST)", () => {
    expect(firings("30 2 * * *", local("2026-03-28 12:00"), 3)).toEqual([
      "2026-03-29T01:30:00Z", // 03:30 CEST
      "2026-03-30T00:30:00Z", // 02:30 CEST
      "2026-03-31T00:30:00Z",
    ]);
  });

  it("fall back: a fixed time in the repeated hour fires once, at its first occurrence", () => {
    expect(firings("30 2 * * *", local("2026-10-24 12:00"), 3)).toEqual([
      "2026-10-25T00:30:00Z", // 02:30 CEST
      "2026-10-26T01:30:00Z", // 02:30 CET
      "2026-10-27T01:30:00Z",
    ]);
  });

  it("fall back: a schedule of every hour runs in both passes of the repeated hour", () => {
    expect(firings("0 * * * *", local("2026-10-25 01:30"), 3)).toEqual([
      "2026-10-25T00:00:00Z", // 02:00 CEST
      "2026-10-25T01:00:00Z", // 02:00 CET
      "2026-10-25T02:00:00Z", // 03:00 CET
    ]);
  });

  it("every 15 minutes stays 15 minutes of real time all year, through both changes", () => {
    const cron = new CronSchedule("*/15 * * * *");
    const end = local("2027-01-01 00:00");
    const gaps = new Set<number>();
    for (let t = cron.next(local("2026-01-01 00:00")), n = cron.next(t); n < end; t = n, n = cron.next(n)) gaps.add(n - t);
    expect([...gaps]).toEqual([15 * 60_000]);
  });

  it("a daily time is a day apart, 23 or 25 hours across the changes, never twice a day", () => {
    const cron = new CronSchedule("30 3 * * *");
    const gaps = new Map<number, number>();
    let t = cron.next(local("2026-01-01 00:00"));
    for (let i = 0; i < 365; i++) {
      const n = cron.next(t);
      gaps.set(n - t, (gaps.get(n - t) ?? 0) + 1);
      t = n;
    }
    const hour = 3_600_000;
    expect(Object.fromEntries([...gaps].map(([g, c]) => [g / hour, c]))).toEqual({ 23: 1, 24: 363, 25: 1 });
  });

  it("refuses what is not a schedule, naming the field", () => {
    expect(scheduleError("61 3 * * *")).toMatch(/minute/);
    expect(scheduleError("0 3 * * *")).toBeUndefined();
    expect(() => new CronSchedule("every night")).toThrow(RangeError);
  });
});
