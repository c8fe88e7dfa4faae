// The key of Podman secret names (domain/spec-hash.ts secretName): 32 random bytes, as hex,
// in `<jobs.stateDir>/secret-names.key` (default /var/lib/podwarden, the unit's
// StateDirectory=), mode 0600, owned by the daemon's user. Made on first use, atomically:
// written aside, then hard-linked into place, so two daemons starting at once end up with the
// same key. The same key makes the same names across restarts (adoption without a restart);
// a new key renames every secret, so the containers that have one are recreated once.

import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { link, mkdir, open, unlink } from "node:fs/promises";
import { join } from "node:path";
import { NAMING_KEY_BYTES } from "../domain/spec-hash.js";
import { HostNotReadyError } from "../lib/errors.js";
import { describeFsError } from "./fs-error.js";

export const NAMING_KEY_FILE = "secret-names.key";

export interface NamingKey {
  readonly key: Buffer;
  /** Where it is kept; undefined: nowhere, this process only. */
  readonly file: string | undefined;
  /** Made by this call (the containers that have secrets are recreated once). */
  readonly created: boolean;
  /** What an operator should hear about: a fallback in use, a mode repaired. */
  readonly warnings: readonly string[];
}

/** Where the key may live, best first: jobs.stateDir, then the runtime directory (emptied by a reboot). */
export const namingKeyDirs = (stateDir: string, env: Readonly<Record<string, string | undefined>>): string[] => [
  stateDir,
  env.RUNTIME_DIRECTORY ?? "/run/podwarden",
];

/** The directory cannot be used by this user here (a checkout run without root, a read-only /var): try the next. */
const UNUSABLE = new Set(["EACCES", "EPERM", "EROFS", "ENOTDIR", "ENOENT"]);

const HEX_KEY = new RegExp(`^[0-9a-f]{${NAMING_KEY_BYTES * 2}}$`);

const RENEW = `remove it: a new key is made at the next start (containers with secrets are recreated once)`;

const refuse = (file: string, why: string): HostNotReadyError =>
  new HostNotReadyError(`secret-naming key ${file} ${why}: refused; ${RENEW}`);

const octal = (mode: number): string => (mode & 0o777).toString(8).padStart(4, "0");

/** The key in `file`, checked (owner, type, content; a loose mode is tightened), or undefined if there is none. */
async function readKey(file: string, uid: number, warnings: string[]): Promise<Buffer | undefined> {
  let handle;
  try {
    // O_NOFOLLOW: a link planted here is refused, not followed. O_NONBLOCK: a FIFO cannot hang us.
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    if (code === "ELOOP") throw refuse(file, "is a symbolic link");
    throw err;
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw refuse(file, "is not a regular file");
    if (st.uid !== uid) throw refuse(file, `is owned by uid ${st.uid}, not by the daemon's user (uid ${uid}), who may know it`);
    if ((st.mode & 0o077) !== 0) {
      await handle.chmod(0o600);
      warnings.push(
        `secret-naming key ${file} was readable by group or others (mode ${octal(st.mode)}): set to 0600. ` +
          `Whoever read it can test guessed secret values against secret names; to rule that out, ${RENEW}`,
      );
    }
    const text = (await handle.readFile("utf8")).trim();
    if (!HEX_KEY.test(text)) throw refuse(file, `does not hold a key (${NAMING_KEY_BYTES * 2} hex digits)`);
    return Buffer.from(text, "hex");
  } finally {
    await handle.close();
  }
}

/** Writes a new key aside and links it into place; undefined if another process was first. */
async function createKey(dir: string, file: string): Promise<Buffer | undefined> {
  const key = randomBytes(NAMING_KEY_BYTES);
  const aside = join(dir, `.${NAMING_KEY_FILE}.${process.pid}.${randomBytes(4).toString("hex")}`);
  const handle = await open(aside, "wx", 0o600);
  try {
    try {
      await handle.writeFile(`${key.toString("hex")}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await link(aside, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return undefined;
    throw err;
  } finally {
    await unlink(aside).catch(() => undefined);
  }
  const d = await open(dir, "r").catch(() => undefined);
  await d?.sync().catch(() => undefined);
  await d?.close();
  return key;
}

async function keyIn(dir: string, uid: number, warnings: string[]): Promise<{ key: Buffer; created: boolean }> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, NAMING_KEY_FILE);
  // Another daemon may make the file between our read and our link: read again, a few times.
  for (let attempt = 0; attempt < 3; attempt++) {
    const found = await readKey(file, uid, warnings);
    if (found) return { key: found, created: false };
    const made = await createKey(dir, file);
    if (made) return { key: made, created: true };
  }
  throw new Error(`${file} keeps appearing and disappearing`);
}

/**
 * The naming key from the first usable directory of `dirs`. A key file that is there but
 * wrong (a link, not a regular file, another owner, not a key) is refused (HostNotReadyError),
 * never replaced. When no directory can be used, a key for this process only, with a warning.
 */
export async function loadNamingKey(dirs: readonly string[], uid: number): Promise<NamingKey> {
  const warnings: string[] = [];
  const unusable: string[] = [];
  for (const dir of dirs) {
    try {
      const { key, created } = await keyIn(dir, uid, warnings);
      const file = join(dir, NAMING_KEY_FILE);
      if (unusable.length > 0) {
        warnings.push(
          `cannot keep the secret-naming key in ${unusable.join("; ")}: kept in ${file} instead, which a reboot may empty ` +
            `(containers with secrets are then recreated once); make jobs.stateDir usable to avoid that`,
        );
      }
      return { key, file, created, warnings };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (err instanceof HostNotReadyError || code === undefined || !UNUSABLE.has(code)) throw err;
      unusable.push(`${dir} (${describeFsError(err)})`);
    }
  }
  warnings.push(
    `cannot keep the secret-naming key in ${unusable.join("; ")}: using a key for this process only, so secret names ` +
      `change whenever podwarden starts and the containers that have secrets are recreated each time; make jobs.stateDir usable`,
  );
  return processNamingKey(warnings);
}

/** A key kept nowhere, for this process only (nothing is read or written). */
export const processNamingKey = (warnings: readonly string[] = []): NamingKey => ({
  key: randomBytes(NAMING_KEY_BYTES),
  file: undefined,
  created: true,
  warnings,
});
