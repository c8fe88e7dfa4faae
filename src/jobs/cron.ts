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
