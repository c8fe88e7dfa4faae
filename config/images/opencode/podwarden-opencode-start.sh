#!/bin/sh
# podwarden-opencode-start: runs its arguments (OpenCode) as the unprivileged user `opencode`.
#
# Started as root (one host: Podman starts the container as root), it first hands that user
# the directories OpenCode writes (OPENCODE_OWNED_DIRS: its data directory and the
# workspaces), but only when something in them belongs to someone else: data written by an
# older image that ran as root, a clone or pull made by the init step, a restore. Then it
# drops root for good (no capabilities, no new privileges) and execs. Started as any other
# user (Kubernetes, runAsUser with fsGroup), it just execs.
set -eu

if [ "$(id -u)" != 0 ]; then exec "$@"; fi
for d in ${OPENCODE_OWNED_DIRS:-$HOME/.local/share/opencode /workspaces}; do
  [ -d "$d" ] || continue
  if [ -n "$(find "$d" -xdev ! -user opencode -print -quit 2>/dev/null)" ]; then
    printf 'opencode-start: %s holds files of another user: giving it to user opencode\n' "$d"
    chown -R opencode:opencode "$d"
  fi
done
exec setpriv --reuid=opencode --regid=opencode --init-groups --inh-caps=-all --bounding-set=-all --no-new-privs -- "$@"
