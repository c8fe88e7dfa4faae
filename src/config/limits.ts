// Bounds on what a config may ask for. Each is far above what a pod of one host needs and low
// enough that loading stays quick and linear; going past one is a config error naming the limit.

export const LIMITS = {
  /** Bytes of one config file (each file of an `extends` chain). */
  configBytes: 1024 * 1024,
  /** Files in an `extends` chain, the given one included. */
  extendsDepth: 16,
  /** Containers in the pod. */
  containers: 64,
  /** Entries of `images`. */
  images: 64,
  /** Bytes of the env file. */
  envFileBytes: 512 * 1024,
  /** Keys in the env file. */
  envKeys: 1000,
  /** Characters of one env-file value. */
  envValueChars: 64 * 1024,
  /**
   * Bytes of one container's secret file (its `export KEY='value'` lines): Podman refuses a secret
   * of 512000 bytes or more.
   */
  secretFileBytes: 511_999,
} as const;

const KIB = 1024;

/** "1 MiB", "512 KiB", "1000 bytes". */
export const formatBytes = (n: number): string =>
  n >= KIB * KIB && n % (KIB * KIB) === 0 ? `${n / (KIB * KIB)} MiB` : n >= KIB && n % KIB === 0 ? `${n / KIB} KiB` : `${n} bytes`;
