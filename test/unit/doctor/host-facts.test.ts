import { createServer, type AddressInfo, type Server } from "node:net";
import { describe, expect, it } from "vitest";
import { isOwnConmon } from "../../../src/doctor/checks.js";
import { nodeHostFacts, socketInodeOfLink, socketInodes } from "../../../src/doctor/host-facts.js";

// Lines as /proc/net/tcp prints them (the first is the listener a pod's conmon held for port 41237 = 0xA115).
const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   2: 00000000:A115 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 61366 1 000000009c434c70 100 0 0 10 0
   3: 0100007F:A115 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 61999 1 000000009c434c71 20 4 30 10 -1
   4: 0100007F:1000 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 70001 1 000000009c434c72 100 0 0 10 0
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:1000 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 70002 1 0000000000000000 100 0 0 10 0
`;
const UDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  100: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000   104        0 18001 2 0000000000000000 0
`;

describe("/proc/net parsing", () => {
  it("finds the listening sockets on a port, IPv4 and IPv6, and ignores connections", () => {
    expect(socketInodes(TCP, 41237, "tcp")).toEqual(["61366"]);
    expect(socketInodes(TCP + TCP6, 4096, "tcp")).toEqual(["70001", "70002"]);
    expect(socketInodes(TCP, 4097, "tcp")).toEqual([]);
  });

  it("finds bound UDP sockets", () => {
    expect(socketInodes(UDP, 5353, "udp")).toEqual(["18001"]);
  });

  it("reads a socket inode from an fd link", () => {
    expect(socketInodeOfLink("socket:[61366]")).toBe("61366");
    expect(socketInodeOfLink("/dev/null")).toBeUndefined();
    expect(socketInodeOfLink("anon_inode:[eventfd]")).toBeUndefined();
  });
});

describe("isOwnConmon", () => {
  const argv = ["/usr/bin/conmon", "--api-version", "1", "-c", "103bd5f97bfb", "-n", "4d3a4385208a-infra", "--exit-dir", "/run/libpod/exits"];
  it("is the pod's infra conmon (-n <pod id[:12]>-infra)", () => {
    expect(isOwnConmon({ pid: 1, argv }, "4d3a4385208a18b095f679521afe6dffce19a70b909686089ad6323a2a31be69")).toBe(true);
  });
  it("is not another pod's conmon, nor anything else", () => {
    expect(isOwnConmon({ pid: 1, argv }, "ffffffffffff18b095f6")).toBe(false);
    expect(isOwnConmon({ pid: 1, argv }, undefined)).toBe(false);
    expect(isOwnConmon({ pid: 1, argv: ["/usr/sbin/nginx", "-n", "4d3a4385208a-infra"] }, "4d3a4385208a")).toBe(false);
    expect(isOwnConmon({ pid: undefined, argv: [] }, "4d3a4385208a")).toBe(false);
  });
});

describe("who holds a port, on this host", () => {
  const listening = (host: string): Promise<Server> =>
    new Promise((resolve) => {
      const s = createServer();
      s.listen(0, host, () => resolve(s));
    });
  const portOf = (s: Server): number => (s.address() as AddressInfo).port;

  it("a free port: nobody (known without /proc); a port listened on, even on loopback only: this process, with its argv", async () => {
    const facts = nodeHostFacts(process.env);
    const held = await listening("127.0.0.1");
    const freed = await listening("127.0.0.1");
    const free = portOf(freed);
    await new Promise((r) => freed.close(r));
    try {
      const r = await facts.portHolders([
        { port: portOf(held), protocol: "tcp" },
        { port: free, protocol: "tcp" },
      ]);
      expect(r.get(`tcp/${free}`)).toEqual([]);
      expect(r.get(`tcp/${portOf(held)}`)).toEqual([{ pid: process.pid, argv: expect.arrayContaining([process.execPath]) as unknown }]);
    } finally {
      await new Promise((r) => held.close(r));
    }
  });
});
