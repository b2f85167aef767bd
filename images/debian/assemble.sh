#!/usr/bin/env bash
# Writes CONTEXT/rootfs.tar: a Debian bookworm minbase root filesystem made by mmdebstrap from
# this machine's apt sources (so it works wherever apt-get does, mirror or not), slimmed like
# the official debian:bookworm-slim (dpkg.cfg, apt.conf beside this script).
# Usage: images/debian/assemble.sh CONTEXT     (as root; needs mmdebstrap)
# CAPSTAN_DEBIAN_SOURCES=FILE uses that sources file (one-line or deb822) instead.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
context=${1:?usage: $0 CONTEXT}
SUITE=bookworm

# The machine's active apt source files that name the suite (bookworm, bookworm-updates, ...).
# mmdebstrap pastes a MIRROR argument that is a file into the new system's sources, so the
# mirror is whatever apt on this machine is configured with; none is named here.
machine_sources() {
  local list parts f
  eval "$(apt-config shell list Dir::Etc::sourcelist/f parts Dir::Etc::sourceparts/d)"
  for f in "$list" "$parts"/*.list "$parts"/*.sources; do
    [ -f "$f" ] || continue
    grep -Eq "^[^#]*(^|[[:space:]])$SUITE(-[a-z]+)?([[:space:]]|$)" "$f" && echo "$f"
  done
}

main() {
  local sources=()
  if [ -n "${CAPSTAN_DEBIAN_SOURCES:-}" ]; then
    sources=("$CAPSTAN_DEBIAN_SOURCES")
  else
    mapfile -t sources < <(machine_sources)
  fi
  [ ${#sources[@]} -gt 0 ] || { echo "no apt source for $SUITE on this machine; set CAPSTAN_DEBIAN_SOURCES" >&2; exit 1; }
  mkdir -p "$context"
  mmdebstrap --variant=minbase --quiet \
    --dpkgopt="$here/dpkg.cfg" --aptopt="$here/apt.conf" \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr --customize-hook="$here/slim.sh \"\$1\"" \
    "$SUITE" "$context/rootfs.tar" "${sources[@]}"
}

main
