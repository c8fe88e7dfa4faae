// Cron expressions, through node-cron's parser: validation with the field at fault, and the
// pure "when does it fire next" decision that the scheduler's timer is a thin shell around.
// Times are the host's local time, as cron's are.

import { createTask, parse, validateDetailed, type ScheduledTask } from "node-cron";

/** Why `expression` is not a schedule, or undefined when it is one. */
export const scheduleError = (expression: string): string | undefined => {
  const v = validateDetailed(expression);
  if (v.valid) return undefined;
  const first = v.errors[0];
  return first ? `not a cron expression: ${first.field} ${first.message}` : "not a cron expression";
};

/** Looks up to this far ahead (Feb 29 on a Monday is rarer than that; such schedules are refused). */
const HORIZON_MS = 5 * 366 * 86_400_000;

export class CronSchedule {
  readonly expression: string;
  readonly #seconds: readonly number[];
  readonly #minutes: ReadonlySet<number>;
  readonly #hours: ReadonlySet<number>;
  readonly #months: ReadonlySet<number>;
  /** node-cron's own matcher decides the day (day of month and day of week together). */
  readonly #task: ScheduledTask;

  constructor(expression: string) {
    const error = scheduleError(expression);
    if (error) throw new RangeError(`${JSON.stringify(expression)}: ${error}`);
    this.expression = expression;
    const f = parse(expression);
    this.#seconds = [...f.second].sort((a, b) => a - b);
    this.#minutes = new Set(f.minute);
    this.#hours = new Set(f.hour);
    this.#months = new Set(f.month);
    this.#task = createTask(expression, () => undefined);
  }

  /** The first time strictly after `afterMs` (epoch ms) the schedule fires. */
  next(afterMs: number): number {
    const d = new Date(Math.floor(afterMs / 1000) * 1000 + 1000);
    const end = afterMs + HORIZON_MS;
    while (d.getTime() <= end) {
      if (!this.#months.has(d.getMonth() + 1)) {
        d.setMonth(d.getMonth() + 1, 1);
        d.setHours(0, 0, 0, 0);
      } else if (!this.#dayMatches(d)) {
        d.setDate(d.getDate() + 1);
        d.setHours(0, 0, 0, 0);
      } else if (!this.#hours.has(d.getHours())) {
        d.setHours(d.getHours() + 1, 0, 0, 0);
      } else if (!this.#minutes.has(d.getMinutes())) {
        d.setMinutes(d.getMinutes() + 1, 0, 0);
      } else {
        const s = this.#seconds.find((x) => x >= d.getSeconds());
        if (s !== undefined) {
          d.setSeconds(s, 0);
          return d.getTime();
        }
        d.setMinutes(d.getMinutes() + 1, 0, 0);
      }
    }
    throw new RangeError(`${JSON.stringify(this.expression)} does not fire within five years`);
  }

  #dayMatches(d: Date): boolean {
    const probe = new Date(d);
    probe.setHours([...this.#hours][0] ?? 0, [...this.#minutes][0] ?? 0, this.#seconds[0] ?? 0, 0);
    return this.#task.match(probe);
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
