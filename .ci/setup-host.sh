#!/usr/bin/env bash
# Prepares a Debian host for podwarden (run as root): Podman and the tools the local
# images need, two host quirks worked around, the Podman API socket up, and an env file
# for the pod if there is none. Safe to run again. CI runs it; so can a person.
#   --test   also install what the test suite uses: Prometheus (a real scraper and
#            promtool), Chromium (the status page in a real browser), systemd-analyze,
#            kubectl (kubectl kustomize of the rendered Flux tree).
#   --bench  also install what `npm run bench` compares podwarden with: podman-compose
#            (Debian's 1.0.3). The load generator (autocannon) comes from npm.
set -euo pipefail

with_tests=false
with_bench=false
for arg in "$@"; do
  case "$arg" in
    --test) with_tests=true ;;
    --bench) with_bench=true ;;
    *) printf 'setup-host: unknown option %s (--test, --bench)\n' "$arg" >&2; exit 2 ;;
  esac
done

say() { printf 'setup-host: %s\n' "$*"; }

retry() { # retry N CMD...: network steps get a few tries with a pause between them
  local n=$1 i; shift
  for ((i = 1; i <= n; i++)); do
    "$@" && return 0
    say "attempt $i/$n failed: $*"
    sleep $((i * 5))
  done
  return 1
}

[ "$(id -u)" -eq 0 ] || { say "run me as root (podwarden drives the rootful Podman socket)"; exit 1; }

# 1. Packages. apt runs with --no-install-recommends, so everything Podman needs here is named,
#    not left to Recommends (a fresh machine taught us: catatonit is only a Recommends).
#      podman         4.3 on bookworm
#      runc           the OCI runtime (podman Depends on crun | runc; crun fails on cgroups v1/hybrid)
#      conmon         runs each container (a Depends of podman; named so this list is complete)
#      catatonit      Podman builds its pause (infra) image around it; without it the first pod fails:
#                     "building local pause image: finding pause binary: exec: "catatonit": ..."
#      containernetworking-plugins  the CNI network backend (bridge, portmap, firewall); Podman's
#                     common files only Depend on "a container network stack"
#      iptables       CNI's portmap and firewall plugins publish the pod's ports with it
#      uidmap         newuidmap/newgidmap, for rootless Podman (podwarden also finds a rootless socket)
#      debootstrap    the Debian base image of config/local.yaml
#      curl           this script's socket check below
#      ca-certificates  the host CA bundle that image builds may trust (Dockerfile.opencode)
#    `podwarden doctor` checks that the result works.
packages=(podman runc conmon catatonit containernetworking-plugins iptables uidmap debootstrap curl ca-certificates)
$with_tests && packages+=(prometheus chromium systemd)
# The render tests build every rendered Flux directory with `kubectl kustomize`. A machine that
# has kubectl (this kind ships one) keeps it; else Debian's kubernetes-client provides it.
$with_tests && ! command -v kubectl >/dev/null 2>&1 && packages+=(kubernetes-client)
$with_bench && packages+=(podman-compose)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  retry 3 apt-get update -q
  retry 3 apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
say "$(podman --version)"

# 2. Host quirks (see README, troubleshooting), as a drop-in that leaves containers.conf alone.
dropin=/etc/containers/containers.conf.d/50-podwarden-host.conf
mkdir -p "$(dirname "$dropin")"
{
  echo "# Written by podwarden's .ci/setup-host.sh for this host's quirks."
  echo "[containers]"
  # Podman's default rlimits (nofile 1048576, nproc 4194304) fail with EPERM where the
  # hard limits are lower: stay within them.
  nofile=$(ulimit -Hn); nproc=$(ulimit -Hu)
  [ "$nofile" = unlimited ] && nofile=1048576
  [ "$nproc" = unlimited ] && nproc=4194304
  echo "default_ulimits = [\"nofile=$((nofile < 1048576 ? nofile : 1048576)):$((nofile < 1048576 ? nofile : 1048576))\", \"nproc=$((nproc < 4096 ? nproc : 4096)):$((nproc < 4096 ? nproc : 4096))\"]"
  echo "[engine]"
  # crun refuses cgroups v1/hybrid hosts ("cgroups in hybrid mode not supported"); runc copes.
  if [ -d /sys/fs/cgroup/unified ] || [ ! -f /sys/fs/cgroup/cgroup.controllers ]; then echo 'runtime = "runc"'; fi
} > "$dropin"
say "wrote $dropin"

# 3. The API socket podwarden talks to.
sock=/run/podman/podman.sock
ping_socket() { curl -sf --max-time 2 --unix-socket "$sock" http://d/_ping >/dev/null 2>&1; }
if ! ping_socket; then
  if [ "$(ps -p 1 -o comm= 2>/dev/null)" = systemd ]; then
    systemctl enable --now podman.socket
  else
    # No systemd here: run the service in the background for this boot.
    mkdir -p /run/podman
    rm -f "$sock"
    setsid nohup podman system service --time=0 "unix://$sock" >/var/log/podman-service.log 2>&1 < /dev/null &
  fi
  for _ in $(seq 1 50); do ping_socket && break; sleep 0.2; done
fi
ping_socket || { say "the Podman API socket $sock does not answer (see /var/log/podman-service.log)"; exit 1; }
say "Podman API answers on $sock"

# 4. The pod's env file, if there is none: a generated OpenCode password, root-only.
envfile=/run/secrets/opencode.env
if [ ! -e "$envfile" ]; then
  install -d -m 0700 /run/secrets
  umask 077
  { printf 'OPENCODE_SERVER_PASSWORD=%s\n' "$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')"
    printf '# The Datadog Agent exits at start without it (OpenCode starts anyway):\n# DD_API_KEY=\n'; } > "$envfile"
  say "created $envfile with a generated OPENCODE_SERVER_PASSWORD (add DD_API_KEY etc. as needed)"
fi
