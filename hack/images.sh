#!/usr/bin/env bash
# Builds Capstan's container images from the project's own Dockerfiles, with or without a
# Docker engine, and pushes them to a local registry.
#
#   hack/images.sh build            build every image, or reuse it; prints per image "cached" or
#                                   "built in Ns", and its size
#   hack/images.sh push HOST:PORT   build, then push every image to the plain-http OCI registry
#                                   at HOST:PORT (loopback only) under the same names; an image
#                                   the registry already has is not sent again
#   hack/images.sh list             print the image names, in build order
#
# Contract
#   Images (name, what it is built from, base):
#     debian:bookworm-slim                 images/debian (mmdebstrap minbase)  -
#     node:24-bookworm-slim                images/node (Node from npm)         debian
#     ghcr.io/capstan-dev/capstan:VERSION  Dockerfile (VERSION: package.json) node
#     redis:7, zookeeper:3.9, haproxy:2.8  images/NAME (Debian packages)       debian
#     registry.k8s.io/pause:3.10           images/pause (catatonit)            debian
#   Engine: `docker build` when `docker info` answers, then debian and node are pulled, not
#     assembled. Otherwise buildah as root (STORAGE_DRIVER=vfs, BUILDAH_ISOLATION=chroot; both
#     can be overridden, e.g. STORAGE_DRIVER=overlay where the kernel allows it), and
#     debian and node are assembled (images/NAME/assemble.sh) only when their name is missing
#     from local storage, so the real ones win wherever they are present.
#   Cache: an image's key hashes its Dockerfile, its context files and its base's key. The built
#     image carries the label dev.capstan.cache-key=KEY and is kept as the OCI archive
#     ${CAPSTAN_CACHE_DIR:-~/.cache/capstan}/images/NAME-KEY.tar; an image whose key is in local
#     storage or in an archive is not built again (a fresh clone on the same machine included).
#     The three newest archives of each image are kept. With vfs (every layer a whole copy of
#     the file system) dangling images are pruned after a build: the archives are the cache.
#     Build logs: tmp/images/NAME.log.
#   Push: the path in the registry is the name without its registry host, so a containerd
#     with HOST:PORT as mirror of ghcr.io, docker.io and registry.k8s.io finds them:
#     ghcr.io/capstan-dev/capstan:0.1.0 -> HOST:PORT/capstan-dev/capstan:0.1.0,
#     redis:7 -> HOST:PORT/library/redis:7, registry.k8s.io/pause:3.10 -> HOST:PORT/pause:3.10.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${CAPSTAN_CACHE_DIR:-$HOME/.cache/capstan}/images
logs=$root/tmp/images
export STORAGE_DRIVER=${STORAGE_DRIVER:-vfs} BUILDAH_ISOLATION=${BUILDAH_ISOLATION:-chroot}
# As flags: Debian's buildah 1.28 ignores STORAGE_DRIVER and would use overlay.
buildah() { command buildah --storage-driver "$STORAGE_DRIVER" "$@"; }
LABEL_KEY=dev.capstan.cache-key

version() { sed -n 's/^  "version": "\([^"]*\)",$/\1/p' "$root/package.json" | head -n 1; }

IMAGES=(debian node capstan redis zookeeper haproxy pause)
declare -A REF=(
  [debian]=docker.io/library/debian:bookworm-slim
  [node]=docker.io/library/node:24-bookworm-slim
  [capstan]=ghcr.io/capstan-dev/capstan:$(version)
  [redis]=docker.io/library/redis:7
  [zookeeper]=docker.io/library/zookeeper:3.9
  [haproxy]=docker.io/library/haproxy:2.8
  [pause]=registry.k8s.io/pause:3.10
)
declare -A BASE=([node]=debian [capstan]=node [redis]=debian [zookeeper]=debian [haproxy]=debian [pause]=debian)
# What each image's key hashes, relative to the repository (for capstan: what the Dockerfile copies).
declare -A INPUTS=(
  [capstan]="Dockerfile .dockerignore package.json package-lock.json tsconfig.json tsconfig.build.json common/src operator/src workload/src"
)
declare -A KEY=()

log() { printf '[images] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
is_assembled() { [ -x "$root/images/$1/assemble.sh" ]; }
# docker.io/library/redis:7 -> redis:7, as the operator's pod specs write it.
short_name() { local ref=${1#docker.io/}; echo "${ref#library/}"; }
# ghcr.io/capstan-dev/capstan:0.1.0 -> capstan-dev/capstan:0.1.0 (the repository path in a mirror).
repo_path() { echo "${1#*/}"; }
dockerfile() { if [ "$1" = capstan ]; then echo "$root/Dockerfile"; else echo "$root/images/$1/Dockerfile"; fi; }
context_dir() { if [ "$1" = capstan ]; then echo "$root"; else echo "$root/images/$1"; fi; }

# --- the engine: docker when one answers, else buildah -------------------------------------
ENGINE=
pick_engine() {
  if command -v docker >/dev/null && timeout 10 docker info >/dev/null 2>&1; then
    ENGINE=docker
  elif command -v buildah >/dev/null; then
    ENGINE=buildah
  else
    die "neither a Docker engine (docker info) nor buildah; install buildah (apt-get install buildah)"
  fi
}
present() { if [ "$ENGINE" = docker ]; then docker image inspect "$1" >/dev/null 2>&1; else buildah inspect --type image "$1" >/dev/null 2>&1; fi; }
# The cache key an image in local storage was built with ('' when none).
stored_key() {
  local format="{{index .Config.Labels \"$LABEL_KEY\"}}"
  if [ "$ENGINE" = docker ]; then
    docker image inspect --format "$format" "$1" 2>/dev/null || true
  else
    buildah inspect --type image --format "{{index .OCIv1.Config.Labels \"$LABEL_KEY\"}}" "$1" 2>/dev/null || true
  fi
}
image_id() { if [ "$ENGINE" = docker ]; then docker image inspect --format '{{.Id}}' "$1"; else buildah inspect --type image --format '{{.FromImageID}}' "$1"; fi; }
image_size() {
  if [ "$ENGINE" = docker ]; then
    docker image inspect --format '{{.Size}}' "$1" | numfmt --to=si --suffix=B
  else
    buildah images --noheading --format '{{.Size}}' "$1" | head -n 1
  fi
}

# --- keys -----------------------------------------------------------------------------------
hash_files() { # paths relative to the repository; the same in any clone (content, not mtimes)
  (cd "$root" && find "$@" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
}
recipe_key() {
  local name=$1 inputs
  inputs=${INPUTS[$name]:-images/$name}
  {
    echo "${REF[$name]}"
    # shellcheck disable=SC2086 # a list of paths
    hash_files $inputs
    [ -z "${BASE[$name]:-}" ] || echo "base ${KEY[${BASE[$name]}]}"
  } | sha256sum | cut -c1-16
}
# A base present in local storage is used as it is: its key is the one it was built with, or
# its image id when it came from elsewhere (pulled).
image_key() {
  local name=$1 ref=${REF[$1]} key
  if is_assembled "$name" && present "$ref"; then
    key=$(stored_key "$ref")
    [ -n "$key" ] || key=$(image_id "$ref" | sed 's/^sha256://' | cut -c1-16)
    echo "$key"
  else
    recipe_key "$name"
  fi
}

# --- building -------------------------------------------------------------------------------
# The CA bundle npm trusts on this machine, for the capstan build stage's `npm ci`.
ca_bundle() {
  local f
  for f in "${NODE_EXTRA_CA_CERTS:-}" "$(npm config get cafile 2>/dev/null || true)" "${SSL_CERT_FILE:-}"; do
    if [ -n "$f" ] && [ "$f" != null ] && [ -s "$f" ]; then echo "$f"; return; fi
  done
}
build_args() {
  local name=$1 ca
  if [ "$name" = capstan ]; then
    echo "--build-arg=VERSION=$(version)"
    ca=$(ca_bundle)
    [ -z "$ca" ] || echo "--secret=id=ca-certificates,src=$ca"
  fi
}
# A build stage tagged in buildah's storage (localhost/capstan-stage/NAME-STAGE), so that its
# layers stay cached when dangling images are pruned: capstan's `npm ci` runs again only when
# package.json or the lock file changes.
declare -A KEEP_STAGE=([capstan]=deps)
engine_build() { # NAME KEY CONTEXT
  local name=$1 key=$2 context=$3 args stage=${KEEP_STAGE[$1]:-}
  mapfile -t args < <(build_args "$name")
  args+=(-f "$(dockerfile "$name")")
  if [ "$ENGINE" = docker ]; then
    docker build --label "$LABEL_KEY=$key" "${args[@]}" -t "${REF[$name]}" "$context"
    return
  fi
  [ -z "$stage" ] || buildah_build "${args[@]}" --target "$stage" -t "localhost/capstan-stage/$name-$stage" "$context"
  buildah_build --label "$LABEL_KEY=$key" "${args[@]}" -t "${REF[$name]}" "$context"
}
buildah_build() { buildah build --layers --force-rm --pull=never --isolation "$BUILDAH_ISOLATION" "$@"; }
build_image() { # NAME KEY
  local name=$1 key=$2 context
  if is_assembled "$name"; then
    context=$(mktemp -d "${TMPDIR:-/tmp}/capstan-$name-XXXX")
    "$root/images/$name/assemble.sh" "$context"
    engine_build "$name" "$key" "$context" || { rm -rf "$context"; return 1; }
    rm -rf "$context"
  else
    engine_build "$name" "$key" "$(context_dir "$name")"
  fi
}
save_archive() { # REF ARCHIVE
  local tmp=$2.partial
  rm -f "$tmp"
  if [ "$ENGINE" = docker ]; then docker save -o "$tmp" "$1"; else buildah push --quiet "$1" "oci-archive:$tmp:$1" >/dev/null; fi
  mv "$tmp" "$2"
}
prune_archives() { # NAME: all but the three newest
  find "$cache" -maxdepth 1 -name "$1-*.tar" -printf '%T@ %p\n' | sort -rn | tail -n +4 | cut -d' ' -f2- | xargs -r rm -f
}
prune_storage() {
  [ "$ENGINE" = buildah ] && [ "$STORAGE_DRIVER" = vfs ] || return 0
  buildah rmi --prune >/dev/null 2>&1 || log "pruning dangling images failed (buildah rmi --prune)"
}
load_archive() { # REF ARCHIVE
  local id
  if [ "$ENGINE" = docker ]; then
    docker load -q -i "$2" >/dev/null
  else
    id=$(buildah pull --quiet "oci-archive:$2")
    buildah tag "$id" "$1"
  fi
}

# Makes NAME present in local storage with its current key, and its archive; prints one line.
ensure_image() {
  local name=$1 ref=${REF[$1]} key archive start how
  if [ "$ENGINE" = docker ] && is_assembled "$name"; then
    present "$ref" || docker pull -q "$ref" >/dev/null
    KEY[$name]=$(image_id "$ref" | sed 's/^sha256://' | cut -c1-16)
    report "$name" "pulled" && return
  fi
  key=$(image_key "$name")
  KEY[$name]=$key
  archive=$cache/$name-$key.tar
  if [ "$(stored_key "$ref")" = "$key" ]; then
    how=cached
  elif [ -f "$archive" ]; then
    load_archive "$ref" "$archive" >>"$logs/$name.log" 2>&1 || die "$name: loading $archive failed (see $logs/$name.log)"
    how="cached (loaded from $(basename "$archive"))"
  else
    log "$name: building (log: ${logs#"$root"/}/$name.log)"
    start=$SECONDS
    build_image "$name" "$key" >"$logs/$name.log" 2>&1 || { tail -n 30 "$logs/$name.log" >&2; die "$name: build failed"; }
    how="built in $((SECONDS - start))s"
  fi
  if [ ! -f "$archive" ]; then
    save_archive "$ref" "$archive" >>"$logs/$name.log" 2>&1 || die "$name: saving $archive failed"
    prune_archives "$name"
  fi
  report "$name" "$how"
}
report() { printf '%-36s %-44s %s\n' "$(short_name "${REF[$1]}")" "$2" "$(image_size "${REF[$1]}")"; }

# --- commands -------------------------------------------------------------------------------
cmd_list() { local name; for name in "${IMAGES[@]}"; do short_name "${REF[$name]}"; done; }

cmd_build() {
  local name
  pick_engine
  mkdir -p "$cache" "$logs"
  exec 9>"$cache/.lock"
  flock 9
  log "engine: $ENGINE; cache: $cache"
  for name in "${IMAGES[@]}"; do ensure_image "$name"; done
  prune_storage
}

# Whether the registry's manifest for DEST (HOST:PORT/REPO:TAG) has the config of local image REF
# (a buildah image's id is its config digest): then there is nothing to push.
registry_has() { # DEST REF
  local repo=${1#*/} id
  id=$(image_id "$2")
  curl -fsS -m 10 -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://${1%%/*}/v2/${repo%:*}/manifests/${repo##*:}" 2>/dev/null | grep -q "\"sha256:${id#sha256:}\""
}
push_image() { # REF DEST; prints "(already there)" when it had nothing to push
  if [ "$ENGINE" = buildah ] && registry_has "$2" "$1"; then
    echo "(already there)"
  elif [ "$ENGINE" = docker ]; then
    { docker tag "$1" "$2" && docker push -q "$2" >/dev/null && docker rmi -f "$2" >/dev/null; } || die "pushing $1 to $2 failed"
  else
    buildah push --quiet --tls-verify=false "$1" "docker://$2" >/dev/null || die "pushing $1 to $2 failed"
  fi
}
cmd_push() {
  local registry=${1:-} name ref dest note
  [[ "$registry" =~ ^(localhost|127\.[0-9.]+|\[::1\]):[0-9]+$ ]] || die "usage: $0 push HOST:PORT (a registry on loopback)"
  cmd_build
  for name in "${IMAGES[@]}"; do
    ref=${REF[$name]}
    dest=$registry/$(repo_path "$ref")
    note=$(push_image "$ref" "$dest")
    printf '%-36s -> %s %s\n' "$(short_name "$ref")" "$dest" "$note"
  done
}

case "${1:-}" in
  build) cmd_build ;;
  push) cmd_push "${2:-}" ;;
  list) cmd_list ;;
  *) die "usage: $0 build | push HOST:PORT | list" ;;
esac
