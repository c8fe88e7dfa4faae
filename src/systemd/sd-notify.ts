// systemd's notify protocol (sd_notify(3)): one datagram of newline-separated KEY=VALUE
// lines to the AF_UNIX socket named by $NOTIFY_SOCKET. With NotifyAccess=main (what
// Type=notify implies) systemd accepts a datagram only when the kernel says it came from
// the service's main process, so it is sent from this process, through the `unix-dgram`
// addon (Node's dgram has no unix sockets). That addon cannot address abstract sockets
// ("@name") and may be missing where its build failed: then `systemd-notify` is spawned
// with --pid=<our pid>, which, run as root, stamps the datagram with our pid (the kernel
// lets root choose the pid in SCM_CREDENTIALS); unprivileged it would need NotifyAccess=all.
//
// Every call resolves, never rejects: a failed send is logged at warn once per run of
// failures (then at debug until a send works again). Without NOTIFY_SOCKET all calls are
// no-ops. Sends are serialised, so messages arrive in the order they were made.

import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { constants as osConstants } from "node:os";

/** The variables systemd passes to the service (read from the environment by the caller). */
export interface NotifyEnv {
  readonly NOTIFY_SOCKET?: string | undefined;
  readonly WATCHDOG_USEC?: string | undefined;
  readonly WATCHDOG_PID?: string | undefined;
}

/** What the notifier logs through (a pino logger fits). */
export interface NotifierLogger {
  warn(obj: Record<string, unknown>, msg: string): void;
  debug(obj: Record<string, unknown>, msg: string): void;
}

export interface Notifier {
  /** True when NOTIFY_SOCKET names a socket this notifier can send to. */
  readonly enabled: boolean;
  /** How the datagrams leave: "unix-dgram" (in-process), "systemd-notify" (spawned), or "none". */
  readonly transport: TransportKind;
  /** Half of WATCHDOG_USEC in ms when the watchdog is on for this process, else undefined. */
  readonly watchdogIntervalMs: number | undefined;
  /** READY=1 (optionally with STATUS=). */
  ready(status?: string): Promise<void>;
  /** STATUS=text (newlines become spaces: one line per field). */
  status(text: string): Promise<void>;
  /** WATCHDOG=1. */
  watchdog(): Promise<void>;
  /** STOPPING=1 (optionally with STATUS=). */
  stopping(status?: string): Promise<void>;
  /** EXTEND_TIMEOUT_USEC=usec (optionally with STATUS=): the start or stop may take that much longer from now. */
  extendTimeout(usec: number, status?: string): Promise<void>;
  /** Waits for sends in flight; later calls are no-ops. */
  close(): Promise<void>;
}

export type TransportKind = "unix-dgram" | "systemd-notify" | "none";

export interface NotifierOptions {
  /** Which transport to use; "auto" (default): unix-dgram for paths, systemd-notify for abstract names. */
  readonly transport?: "auto" | "unix-dgram" | "systemd-notify";
  /** The systemd-notify binary (default /usr/bin/systemd-notify). */
  readonly systemdNotifyPath?: string;
  /** This process's pid (tests only). */
  readonly pid?: number;
}

// ---- pure parts -----------------------------------------------------------------------

/** sun_path holds 108 bytes including the terminating NUL. */
const SUN_PATH_MAX = 107;

export type NotifyAddress = { readonly kind: "path" | "abstract"; readonly value: string } | { readonly kind: "unsupported"; readonly reason: string };

/** "/path" is a file system socket, "@name" an abstract one; anything else is not ours to handle. */
export const parseNotifySocket = (raw: string): NotifyAddress => {
  if (raw.startsWith("/")) {
    if (Buffer.byteLength(raw) > SUN_PATH_MAX) return { kind: "unsupported", reason: `path longer than ${SUN_PATH_MAX} bytes` };
    return { kind: "path", value: raw };
  }
  if (raw.startsWith("@") && raw.length > 1) {
    if (Buffer.byteLength(raw) > SUN_PATH_MAX + 1) return { kind: "unsupported", reason: `abstract name longer than ${SUN_PATH_MAX} bytes` };
    return { kind: "abstract", value: raw };
  }
  return { kind: "unsupported", reason: "not an absolute path or an @abstract name" };
};

/**
 * Half the watchdog timeout in ms (how often to send WATCHDOG=1), when WATCHDOG_USEC is a
 * positive integer and WATCHDOG_PID is unset or this process; else undefined
 * (the same rules as sd_watchdog_enabled(3)).
 */
export const watchdogInterval = (env: NotifyEnv, pid: number): number | undefined => {
  const usecText = env.WATCHDOG_USEC?.trim() ?? "";
  if (!/^\d+$/.test(usecText)) return undefined;
  const usec = Number(usecText);
  if (!Number.isSafeInteger(usec) || usec <= 0) return undefined;
  const pidText = env.WATCHDOG_PID?.trim() ?? "";
  if (pidText !== "" && (!/^\d+$/.test(pidText) || Number(pidText) !== pid)) return undefined;
  return Math.max(1, Math.floor(usec / 2000));
};

/** A STATUS= value: one line, no control characters. */
const oneLine = (text: string): string =>
  text
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f]+/g, " ")
    .trim();

/** The datagram's lines for each call (exact protocol text). */
export const messages = {
  ready: (status?: string): string[] => ["READY=1", ...(status === undefined ? [] : [`STATUS=${oneLine(status)}`])],
  status: (text: string): string[] => [`STATUS=${oneLine(text)}`],
  watchdog: (): string[] => ["WATCHDOG=1"],
  stopping: (status?: string): string[] => ["STOPPING=1", ...(status === undefined ? [] : [`STATUS=${oneLine(status)}`])],
  extendTimeout: (usec: number, status?: string): string[] => [
    `EXTEND_TIMEOUT_USEC=${Math.ceil(usec)}`,
    ...(status === undefined ? [] : [`STATUS=${oneLine(status)}`]),
  ],
};

// ---- transports -----------------------------------------------------------------------

type Send = (lines: readonly string[]) => Promise<void>;

/** The part of unix-dgram this file uses (the package ships no types). */
interface UnixDgramSocket {
  on(event: "error", listener: (err: Error) => void): unknown;
  send(buf: Buffer, offset: number, length: number, path: string, callback: (err?: Error) => void): void;
  close(): void;
}
interface UnixDgramModule {
  createSocket(type: "unix_dgram"): UnixDgramSocket;
}

/** unix-dgram reports errors as negative errno numbers ("send -2"): name them. */
const errnoName = (err: unknown): string | undefined => {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string") return code;
  if (typeof code !== "number") return undefined;
  const entry = Object.entries(osConstants.errno).find(([, n]) => n === Math.abs(code));
  return entry?.[0];
};

const loadUnixDgram = (): UnixDgramModule => createRequire(import.meta.url)("unix-dgram") as UnixDgramModule;

/**
 * One socket per datagram: create, sendto, close. The addon polls every socket it makes for
 * reading, which would keep the event loop alive; notifications are rare (a few a minute),
 * so a short-lived socket costs nothing and never holds the process open.
 */
const unixDgramSend =
  (mod: UnixDgramModule, path: string): Send =>
  (lines) =>
    new Promise<void>((resolve, reject) => {
      const payload = Buffer.from(lines.join("\n"), "utf8");
      let socket: UnixDgramSocket;
      try {
        socket = mod.createSocket("unix_dgram");
      } catch (err) {
        reject(err);
        return;
      }
      socket.on("error", () => undefined); // errors arrive through the send callback
      socket.send(payload, 0, payload.length, path, (err) => {
        try {
          socket.close();
        } catch {
          // closing a datagram socket that never connected cannot lose anything
        }
        if (err) {
          const name = errnoName(err);
          reject(Object.assign(new Error(`sendto ${path}: ${name ?? err.message}`, { cause: err }), name ? { code: name } : {}));
        } else resolve();
      });
    });

const SPAWN_TIMEOUT_MS = 5_000;

/**
 * Spawns systemd-notify. --pid makes libsystemd put our pid into the datagram's credentials
 * (allowed for root; otherwise it falls back to its own pid) and adds a MAINPID= line naming
 * this process, which is the main pid already. --no-block skips the BARRIER=1 round trip,
 * which systemd would reject from a pid that is not the main one.
 */
const systemdNotifySend =
  (binary: string, address: string, pid: number): Send =>
  (lines) =>
    new Promise<void>((resolve, reject) => {
      execFile(
        binary,
        ["--no-block", `--pid=${pid}`, ...lines],
        { env: { NOTIFY_SOCKET: address }, timeout: SPAWN_TIMEOUT_MS, windowsHide: true },
        (err, _stdout, stderr) => {
          if (!err) {
            resolve();
            return;
          }
          const detail = String(stderr).trim() || err.message;
          reject(Object.assign(new Error(`${binary}: ${detail}`, { cause: err }), { code: (err as NodeJS.ErrnoException).code }));
        },
      );
    });

// ---- the notifier ---------------------------------------------------------------------

const noopLogger: NotifierLogger = { warn: () => undefined, debug: () => undefined };

const disabled = (watchdogIntervalMs: number | undefined): Notifier => {
  const done = (): Promise<void> => Promise.resolve();
  return {
    enabled: false,
    transport: "none",
    watchdogIntervalMs,
    ready: done,
    status: done,
    watchdog: done,
    stopping: done,
    extendTimeout: done,
    close: done,
  };
};

/**
 * A notifier for the socket in `env.NOTIFY_SOCKET`. Without it every call is a no-op and
 * watchdogIntervalMs is undefined (there is nobody to ping).
 */
export const createNotifier = (env: NotifyEnv, logger: NotifierLogger = noopLogger, options: NotifierOptions = {}): Notifier => {
  const pid = options.pid ?? process.pid;
  const raw = env.NOTIFY_SOCKET ?? "";
  if (raw === "") return disabled(undefined);
  const address = parseNotifySocket(raw);
  const interval = watchdogInterval(env, pid);
  if (address.kind === "unsupported") {
    logger.warn({ notifySocket: raw, reason: address.reason }, "sd_notify: NOTIFY_SOCKET is not usable; systemd will not hear from this daemon");
    return disabled(undefined);
  }

  const systemdNotify = options.systemdNotifyPath ?? "/usr/bin/systemd-notify";
  const wanted = options.transport ?? "auto";
  let kind: TransportKind;
  let send: Send;
  if (wanted === "systemd-notify" || address.kind === "abstract") {
    if (wanted === "unix-dgram") logger.warn({ notifySocket: raw }, "sd_notify: unix-dgram cannot address abstract sockets; using systemd-notify");
    kind = "systemd-notify";
    send = systemdNotifySend(systemdNotify, address.value, pid);
  } else {
    try {
      send = unixDgramSend(loadUnixDgram(), address.value);
      kind = "unix-dgram";
    } catch (err) {
      logger.warn(
        { err, notifySocket: raw },
        "sd_notify: the unix-dgram addon is not available (was its install script skipped? see npm install-scripts ls); using systemd-notify, which needs root or NotifyAccess=all",
      );
      kind = "systemd-notify";
      send = systemdNotifySend(systemdNotify, address.value, pid);
    }
  }

  let queue: Promise<void> = Promise.resolve();
  let failing = false;
  let closed = false;

  const enqueue = (lines: readonly string[]): Promise<void> => {
    if (closed) return Promise.resolve();
    queue = queue.then(async () => {
      try {
        await send(lines);
        if (failing) logger.debug({ notifySocket: raw }, "sd_notify: sending works again");
        failing = false;
      } catch (err) {
        const fields = { notifySocket: raw, transport: kind, message: lines[0], err };
        if (!failing) logger.warn(fields, "sd_notify: could not notify systemd (further failures are logged at debug until a send works)");
        else logger.debug(fields, "sd_notify: could not notify systemd");
        failing = true;
      }
    });
    return queue;
  };

  return {
    enabled: true,
    transport: kind,
    watchdogIntervalMs: interval,
    ready: (status) => enqueue(messages.ready(status)),
    status: (text) => enqueue(messages.status(text)),
    watchdog: () => enqueue(messages.watchdog()),
    stopping: (status) => enqueue(messages.stopping(status)),
    extendTimeout: (usec, status) => {
      if (!Number.isFinite(usec) || usec <= 0) {
        logger.warn({ usec }, "sd_notify: EXTEND_TIMEOUT_USEC needs a positive number of microseconds; not sent");
        return Promise.resolve();
      }
      return enqueue(messages.extendTimeout(usec, status));
    },
    close: async () => {
      closed = true;
      await queue;
    },
  };
};
