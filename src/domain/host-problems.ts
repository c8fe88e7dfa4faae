// Known host problems behind Podman's error texts: what is wrong and the fix. Retrying never
// cures these (a missing binary, a limit Podman exceeds, a path it cannot see), so they are
// said once with the fix (`podwarden doctor`, `up`, /status, systemd's STATUS=) instead of
// being hidden in a backoff loop. Pure: text in, cause out.

export interface HostCause {
  /** Stable identifier (catatonit, rlimits, cgroups, ...). */
  readonly id: string;
  /** What is wrong, in a few words (it goes on systemd's STATUS= line). */
  readonly cause: string;
  /** Why it breaks things, one sentence. */
  readonly why: string;
  /** What to do, short enough for a status line. */
  readonly fix: string;
  /** The host port at fault, when the cause is a taken port and Podman named it. */
  readonly port?: HostPort;
}

export interface HostPort {
  readonly port: number;
  readonly protocol: "tcp" | "udp";
}

interface Rule {
  readonly match: RegExp;
  readonly make: (m: RegExpMatchArray) => HostCause;
}

const RESTART = "then restart the Podman service";

/** First match wins: the specific causes come before the broad ones. */
const RULES: readonly Rule[] = [
  {
    match: /"?catatonit"?: executable file not found|finding pause binary|catatonit[^\n]*(?:not found|no such file)/i,
    make: () => ({
      id: "catatonit",
      cause: "catatonit missing",
      why: "Podman builds its pause (infra) image around catatonit, which is only a Recommends of Debian's podman package",
      fix: "apt-get install catatonit",
    }),
  },
  {
    match: /(?:setrlimit|setting rlimits?)[^\n]*(?:operation not permitted|EPERM)/i,
    make: () => ({
      id: "rlimits",
      cause: "Podman's default rlimits exceed this host's hard limits",
      why: "Podman asks for nofile/nproc limits above the hard limits here and the OCI runtime gets EPERM",
      fix: `set default_ulimits in a containers.conf drop-in (bash .ci/setup-host.sh writes /etc/containers/containers.conf.d/50-podwarden-host.conf), ${RESTART}`,
    }),
  },
  {
    match: /cgroups? in hybrid mode not supported|cgroups? v1[^\n]*not supported/i,
    make: () => ({
      id: "cgroups",
      cause: "crun cannot run on this host's cgroups v1/hybrid",
      why: "crun refuses hosts whose cgroups are v1 or hybrid; runc copes",
      fix: `apt-get install runc and set runtime = "runc" under [engine] in a containers.conf drop-in (.ci/setup-host.sh does), ${RESTART}`,
    }),
  },
  {
    match: /default OCI runtime "?([\w.-]+)"? not found|no OCI runtime|"(runc|crun)": executable file not found/i,
    make: (m) => ({
      id: "oci-runtime",
      cause: `OCI runtime ${m[1] ?? m[2] ?? ""}`.trim() + " missing",
      why: "Podman has no OCI runtime to start containers with",
      fix: `apt-get install runc and set runtime = "runc" under [engine] in a containers.conf drop-in, ${RESTART}`,
    }),
  },
  {
    match: /could not find a working conmon|conmon[^\n]*(?:executable file not found|not found in)|invalid conmon path/i,
    make: () => ({ id: "conmon", cause: "conmon missing", why: "Podman runs every container under conmon", fix: "apt-get install conmon" }),
  },
  {
    match: /failed to find plugin "([\w-]+)"/i,
    make: (m) => ({
      id: "cni-plugin",
      cause: `CNI plugin ${m[1]} missing`,
      why: "Podman's CNI network backend sets up the pod's network and published ports with these plugins",
      fix: "apt-get install containernetworking-plugins",
    }),
  },
  {
    match: /iptables[^\n]*(?:executable file not found|not found in \$PATH|no such file)|"iptables": executable file not found/i,
    make: () => ({
      id: "iptables",
      cause: "iptables missing",
      why: "the CNI portmap and firewall plugins publish ports with iptables",
      fix: "apt-get install iptables",
    }),
  },
  {
    match: /could not find "?(netavark|aardvark-dns)"?|"(netavark|aardvark-dns)": executable file not found/i,
    make: (m) => ({
      id: "netavark",
      cause: `${m[1] ?? m[2]} missing`,
      why: "Podman is set to the netavark network backend but cannot find it",
      fix: `apt-get install containernetworking-plugins and set network_backend = "cni" under [network] in a containers.conf drop-in, ${RESTART}`,
    }),
  },
  {
    match: /(?:infra|pause) image[^\n]*(?:pull|initializing source|manifest unknown|not found)|(?:pull|initializing source)[^\n]*(?:infra|pause)/i,
    make: () => ({
      id: "infra-image",
      cause: "the pod's infra image cannot be had",
      why: "containers.conf names an infra_image that is neither local nor pullable",
      fix: `remove infra_image from containers.conf (Podman then builds its own pause image with catatonit), ${RESTART}`,
    }),
  },
  {
    match: /statfs ([^:\s]+): no such file or directory/i,
    make: (m) => ({
      id: "mount-source",
      cause: `mount source ${m[1]} is invisible to Podman`,
      why:
        "Podman resolves bind-mount sources in its own mount namespace: a directory under /tmp or /var/tmp of a unit with " +
        "PrivateTmp=yes (the shipped unit) does not exist there",
      fix: "move pod.persistRoot out of /tmp and /var/tmp (e.g. /persist/containers)",
    }),
  },
  {
    match: /no space left on device/i,
    make: () => ({
      id: "disk-full",
      cause: "no space left on device",
      why: "a file system Podman or the pod writes to is full",
      fix: "free space on Podman's storage (podman system df) or under pod.persistRoot",
    }),
  },
  {
    // Podman 4.3: "cannot listen on the TCP port: listen tcp4 :4096: bind: address already in use".
    match: /(?:listen (tcp|udp)\d?\s+\S*?:(\d+)\b[^\n]*?)?address already in use/i,
    make: (m) => {
      const port = m[2] === undefined ? undefined : { port: Number(m[2]), protocol: m[1]?.toLowerCase() === "udp" ? ("udp" as const) : ("tcp" as const) };
      return {
        id: "port-in-use",
        cause: port ? `host port ${port.port}${port.protocol === "udp" ? "/udp" : ""} is taken` : "a published host port is taken",
        why: "another process listens on one of pod.ports",
        fix: "stop that process or change pod.ports (podwarden doctor names the process)",
        ...(port ? { port } : {}),
      };
    },
  },
];

/** The known host problem behind an error text from Podman, or undefined. */
export const classifyHostError = (text: string): HostCause | undefined => {
  for (const rule of RULES) {
    const m = text.match(rule.match);
    if (m) return rule.make(m);
  }
  return undefined;
};

/** The one-line form: "catatonit missing: apt-get install catatonit". */
export const causeLine = (c: Pick<HostCause, "cause" | "fix">): string => `${c.cause}: ${c.fix}`;

/** A host problem the daemon is blocked on (or keeps failing on): which check or container, the cause, the fix. */
export interface HostProblem {
  readonly check: string;
  readonly cause: string;
  readonly fix: string;
  /** The host port at fault (a taken port), for a caller that can name the process holding it. */
  readonly port?: HostPort;
}

const problemOf = (check: string, c: HostCause): HostProblem => ({ check, cause: c.cause, fix: c.fix, ...(c.port ? { port: c.port } : {}) });

/**
 * The known host problem among the last pass's error and the failures of containers that are
 * not ready (create or start errors from Podman), or undefined.
 */
export const hostProblemIn = (
  passError: string | null | undefined,
  failures: Iterable<readonly [container: string, reason: string | null | undefined]>,
): HostProblem | undefined => {
  const fromPass = passError ? classifyHostError(passError) : undefined;
  if (fromPass) return problemOf("pod", fromPass);
  for (const [container, reason] of failures) {
    const c = reason ? classifyHostError(reason) : undefined;
    if (c) return problemOf(container, c);
  }
  return undefined;
};
