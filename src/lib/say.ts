// What a command tells its user, line by line, with fields for when the lines are JSON logs
// (commands/shared.ts `sayer` picks plain text or log lines).

export interface Say {
  info(fields: Record<string, unknown>, text: string): void;
  warn(fields: Record<string, unknown>, text: string): void;
  error(fields: Record<string, unknown>, text: string): void;
}
