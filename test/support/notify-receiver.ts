// A real AF_UNIX datagram receiver for sd_notify tests: a small python3 process binds the
// address and reports each datagram with the sender's pid from the kernel's SCM_CREDENTIALS
// (what systemd checks for NotifyAccess=main).

import { spawn, type ChildProcessByStdio } from "node:child_process";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";

// Binds the address ("@name" = abstract), prints "bound", then one JSON line per datagram.
const RECEIVER = `
import json, socket, struct, sys
addr = sys.argv[1]
if addr.startswith("@"):
    addr = "\\0" + addr[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(addr)
print("bound", flush=True)
while True:
    data, anc, _flags, _addr = s.recvmsg(65536, socket.CMSG_SPACE(12))
    pid = None
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", payload[:12])[0]
    print(json.dumps({"data": data.decode("utf-8"), "pid": pid}), flush=True)
`;

export interface Datagram {
  readonly data: string;
  readonly pid: number | null;
}

export class Receiver {
  readonly got: Datagram[] = [];
  #waiters: (() => void)[] = [];
  constructor(
    readonly address: string,
    readonly child: ChildProcessByStdio<Writable, Readable, Readable>,
  ) {}

  push(d: Datagram): void {
    this.got.push(d);
    for (const w of this.#waiters.splice(0)) w();
  }

  /** Waits until `n` datagrams have arrived in all (fails after `ms`). */
  async waitFor(n: number, ms = 5_000): Promise<Datagram[]> {
    const deadline = Date.now() + ms;
    while (this.got.length < n) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`expected ${n} datagrams on ${this.address}, got ${this.got.length}: ${JSON.stringify(this.got)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.got.slice(0, n);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.kill("SIGTERM");
    await exited;
  }
}

/** Receivers started by tests, to stop in afterEach. */
export const receivers: Receiver[] = [];

export const startReceiver = async (address: string): Promise<Receiver> => {
  const child = spawn("python3", ["-c", RECEIVER, address], { stdio: ["pipe", "pipe", "pipe"] });
  const r = new Receiver(address, child);
  receivers.push(r);
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const lines = createInterface({ input: child.stdout });
  await new Promise<void>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`receiver exited (${code}): ${stderr}`)));
    child.once("error", reject);
    lines.on("line", (line) => {
      if (line === "bound") resolve();
      else r.push(JSON.parse(line) as Datagram);
    });
  });
  return r;
};

