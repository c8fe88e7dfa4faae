// Where the shipped unit expects things on the host, and where `podwarden install` puts them.
// Plain constants: the CLI's defaults read them without loading the installer.

export const UNIT = "opencode-memory-pod.service";
export const DEFAULT_PREFIX = "/opt/podwarden";

export const PATHS = {
  unitFile: `/etc/systemd/system/${UNIT}`,
  dropInDir: `/etc/systemd/system/${UNIT}.d`,
  config: "/etc/podwarden/opencode-memory-pod.yaml",
  envFile: "/run/secrets/opencode.env",
  persistRoot: "/persist/containers",
  stateDir: "/var/lib/podwarden",
} as const;
