// The options every command shares (config, socket, logging), as the CLI parsed them: what the
// daemon's wiring needs to know about how it was started.

export interface GlobalOptions {
  readonly config: string;
  /** --config or $PODWARDEN_CONFIG named it (commands that only read fall back otherwise). */
  readonly configGiven: boolean;
  readonly socket?: string | undefined;
  readonly logLevel: string;
  readonly logFormat: "json" | "pretty";
  readonly logTo: "stdout" | "stderr";
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly version: string;
}
