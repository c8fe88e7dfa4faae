// Schedules, as words every layer may use: whether a cron expression is one (config checks
// `jobs.backup.schedule` and `update.schedule` with it, before anything runs). When a schedule
// fires is the jobs' business (jobs/cron.ts); the timer around it is the scheduler's.
//
// The one package import of domain/ besides spec-hash.ts's node:crypto (eslint.config.js
// allows exactly this name): node-cron's validateDetailed, a pure function of the string (no
// task, no timer, no registry). Writing a second cron grammar here would let config accept
// what the scheduler refuses, or the other way round.

import { validateDetailed } from "node-cron";

/** Why `expression` is not a schedule, or undefined when it is one. */
export const scheduleError = (expression: string): string | undefined => {
  const v = validateDetailed(expression);
  if (v.valid) return undefined;
  const first = v.errors[0];
  return first ? `not a cron expression: ${first.field} ${first.message}` : "not a cron expression";
};
