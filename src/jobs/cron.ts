// Cron expressions, through node-cron's parser: validation with the field at fault, and the
// pure "when does it fire next" decision that the scheduler's timer is a thin shell around.
// Times are the host's local time, as cron's are.

import { createTask, parse, type ScheduledTask } from "node-cron";
import { scheduleError } from "../domain/schedule.js";

/** Looks up to this far ahead (Feb 29 on a Monday is rarer than that; such schedules are refused). */
const HORIZON_MS = 5 * 366 * 86_400_000;

/**
 * When a wall-clock time that occurs twice (the hour repeated when clocks fall back) occurs again:
 * undefined when it occurs once. `first` is its first occurrence, as the Date constructor gives it.
 */
const secondOccurrence = (first: Date): number | undefined => {
  // The offset grows by the length of the change (minutes west of UTC), within hours of it.
  const shiftMs = (new Date(first.getTime() + 3 * 3_600_000).getTimezoneOffset() - first.getTimezoneOffset()) * 60_000;
  if (shiftMs <= 0) return undefined;
  const again = new Date(first.getTime() + shiftMs);
  const same = again.getDate() === first.getDate() && again.getHours() === first.getHours() && again.getMinutes() === first.getMinutes();
  return same ? again.getTime() : undefined;
};

/**
 * A schedule in the host's local time. Across daylight saving changes (as iCalendar and cron do):
 * a time in the hour skipped when clocks spring forward fires once, shifted by the change
 * (02:30 becomes 03:30); a time in the hour repeated when they fall back fires once, at its first
 * occurrence, unless the schedule fires every hour: then it fires in both passes of that hour, so
 * "every 15 minutes" stays every 15 minutes of real time. Day of month and day of week must both
 * match (node-cron's rule; Vixie cron fires when either does).
 */
export class CronSchedule {
  readonly expression: string;
  readonly #seconds: readonly number[];
  readonly #minutes: readonly number[];
  readonly #hours: readonly number[];
  /** node-cron's own matcher decides the day (month, day of month and day of week), asked at noon. */
  readonly #day: ScheduledTask;

  constructor(expression: string) {
    const error = scheduleError(expression);
    if (error) throw new RangeError(`${JSON.stringify(expression)}: ${error}`);
    this.expression = expression;
    const f = parse(expression);
    const sorted = (xs: readonly number[]): number[] => [...new Set(xs)].sort((a, b) => a - b);
    this.#seconds = sorted(f.second);
    this.#minutes = sorted(f.minute);
    this.#hours = sorted(f.hour);
    // Noon exists on every day in every zone (clocks change at night): the day fields alone decide.
    const [dayOfMonth, month, dayOfWeek] = expression.trim().split(/\s+/).slice(-3);
    this.#day = createTask(`0 0 12 ${dayOfMonth} ${month} ${dayOfWeek}`, () => undefined);
  }

  /** The first time strictly after `afterMs` (epoch ms) the schedule fires. */
  next(afterMs: number): number {
    const from = new Date(afterMs);
    const noon = new Date(from.getFullYear(), from.getMonth(), from.getDate(), 12);
    for (; noon.getTime() <= afterMs + HORIZON_MS; noon.setDate(noon.getDate() + 1)) {
      if (!this.#day.match(noon)) continue;
      const found = this.#firstOnDay(noon, afterMs);
      if (found !== undefined) return found;
    }
    throw new RangeError(`${JSON.stringify(this.expression)} does not fire within five years`);
  }

  /** The earliest firing after `afterMs` on the day of `noon`, if any. */
  #firstOnDay(noon: Date, afterMs: number): number | undefined {
    const [y, m, d] = [noon.getFullYear(), noon.getMonth(), noon.getDate()];
    const everyHour = this.#hours.length === 24;
    let best = Number.POSITIVE_INFINITY;
    for (const h of this.#hours) {
      for (const min of this.#minutes) {
        for (const s of this.#seconds) {
          // The Date constructor shifts a skipped time past the gap and takes a repeated one's first occurrence.
          const first = new Date(y, m, d, h, min, s);
          const t = first.getTime();
          // Times that exist are in real-time order, and a skipped one lands after them: nothing later on this day is earlier.
          const exists = first.getHours() === h && first.getMinutes() === min;
          if (exists && t > afterMs && t >= best) return best;
          const again = everyHour ? secondOccurrence(first) : undefined;
          for (const x of again === undefined ? [t] : [t, again]) if (x > afterMs && x < best) best = x;
        }
      }
    }
    return Number.isFinite(best) ? best : undefined;
  }
}

/** longestGapS looks at least this far ahead (a weekly pattern, and more)... */
const GAP_SPAN_MS = 8 * 86_400_000;
/** ...at two gaps at least, and at no more than this many (an every-second schedule). */
const GAP_SAMPLES = 400;

/**
 * The longest wait between two firings of `expression` from `fromMs` on, in seconds: how
 * stale the last run may normally get (a weekday schedule's Friday to Monday, a monthly
 * one's month). Looks eight days ahead and at two gaps at least, at most GAP_SAMPLES firings.
 */
export const longestGapS = (expression: string, fromMs: number): number => {
  const schedule = new CronSchedule(expression);
  const first = schedule.next(fromMs);
  let at = first;
  let longest = 0;
  for (let i = 0; i < GAP_SAMPLES; i++) {
    const next = schedule.next(at);
    longest = Math.max(longest, next - at);
    at = next;
    if (i >= 1 && at - first >= GAP_SPAN_MS) break;
  }
  return longest / 1000;
};
