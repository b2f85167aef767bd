#!/usr/bin/env bash
# Builds the local cluster's binaries from the Go modules pinned under
# hack/tools/<tool>/:
#   kubernetes   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl,
#                kubelet, kube-proxy
#   etcd, kwok, helm
#   containerd   containerd, containerd-shim-runc-v2 (static, no btrfs)
#   runc         runc, with cgo and seccomp: needs gcc, pkg-config, libseccomp-dev
#   cni-plugins  bridge, host-local, loopback, portmap, linked into bin/cni/
#   coredns      coredns with only the plugins the cluster's Corefile uses
#   crane        crane (`crane registry serve` is the local OCI registry)
#   network-policies  the NetworkPolicy agent of the real nodes (kube-network-policies' engine)
#   actionlint   checks .github/workflows in make lint
#   prometheus   prometheus and promtool (no web UI assets, static and file service
#                discovery only): the chart's rules and dashboards are checked with them
# Binaries are cached per tool under
#   ${CAPSTAN_CACHE_DIR:-$HOME/.cache/capstan}/tools/<tool>-<hash of its go.mod, go.sum, sources>/
# and linked into bin/ (bin/cni/ for the CNI plugins), so a tool is rebuilt only
# when its pins change, and a fresh clone on the same machine reuses the cache.
# CAPSTAN_TOOLS_BIN=/path/to/dir skips the build and links binaries from there
# (one flat directory, CNI plugins included).
#
# Usage: hack/build-tools.sh [tool ...]   (default: every tool)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${CAPSTAN_CACHE_DIR:-$HOME/.cache/capstan}/tools
bin=$root/bin
mkdir -p "$bin" "$cache"
export GOFLAGS=-buildvcs=false CGO_ENABLED=0

log() { printf '[build-tools] %s\n' "$*" >&2; }

# version of a module as pinned in a wrapper module's go.mod
pin() { (cd "$root/hack/tools/$1" && go list -m -f '{{.Version}}' "$2"); }

build_kubernetes() {
  local out=$1 v; v=$(pin kubernetes k8s.io/kubernetes)
  local major=${v#v}; major=${major%%.*}
  local minor=${v#v*.}; minor=${minor%%.*}
  local date; date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  local ld=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date -X $pkg.gitCommit=release-$v"
  done
  (cd "$root/hack/tools/kubernetes" && go build -trimpath -ldflags "-s -w$ld" -o "$out/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl \
    k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy)
}

build_etcd() {
  local out=$1 v; v=$(pin etcd go.etcd.io/etcd/server/v3)
  (cd "$root/hack/tools/etcd" && go build -trimpath \
    -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=release-$v" -o "$out/etcd" .)
}

build_kwok() {
  local out=$1 v; v=$(pin kwok sigs.k8s.io/kwok)
  (cd "$root/hack/tools/kwok" && go build -trimpath \
    -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${v#v}" -o "$out/kwok" sigs.k8s.io/kwok/cmd/kwok)
}

build_helm() {
  local out=$1 v; v=$(pin helm helm.sh/helm/v3)
  (cd "$root/hack/tools/helm" && go build -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$v -X helm.sh/helm/v3/internal/version.gitTreeState=clean" \
    -o "$out/helm" helm.sh/helm/v3/cmd/helm)
}

build_containerd() {
  local out=$1 v; v=$(pin containerd github.com/containerd/containerd/v2)
  local pkg=github.com/containerd/containerd/v2
  local ld="-s -w -X $pkg/version.Version=$v -X $pkg/version.Revision=release-$v -X $pkg/version.Package=$pkg"
  # Static, like containerd's static release: no cgo, so no btrfs snapshotter;
  # the shim is built without the gRPC server, as upstream does.
  local tags="urfave_cli_no_docs no_btrfs osusergo netgo"
  (cd "$root/hack/tools/containerd" &&
    go build -trimpath -tags "$tags" -ldflags "$ld" -o "$out/containerd" "$pkg/cmd/containerd" &&
    go build -trimpath -tags "$tags no_grpc" -ldflags "$ld" -o "$out/containerd-shim-runc-v2" "$pkg/cmd/containerd-shim-runc-v2")
}

build_runc() {
  local out=$1 v; v=$(pin runc github.com/opencontainers/runc)
  # cgo and the seccomp tag link Debian's libseccomp (libseccomp-dev, pkg-config):
  # containerd gives pods the RuntimeDefault seccomp profile, which runc enforces.
  (cd "$root/hack/tools/runc" && CGO_ENABLED=1 go build -trimpath -tags "seccomp urfave_cli_no_docs" \
    -ldflags "-s -w -X main.version=${v#v} -X main.gitCommit=release-$v" -o "$out/runc" github.com/opencontainers/runc)
}

build_cni_plugins() {
  local out=$1 v; v=$(pin cni-plugins github.com/containernetworking/plugins)
  local pkg=github.com/containernetworking/plugins
  (cd "$root/hack/tools/cni-plugins" && go build -trimpath \
    -ldflags "-s -w -X $pkg/pkg/utils/buildversion.BuildVersion=$v" -o "$out/" \
    "$pkg/plugins/main/bridge" "$pkg/plugins/ipam/host-local" \
    "$pkg/plugins/main/loopback" "$pkg/plugins/meta/portmap")
}

build_coredns() {
  local out=$1 v; v=$(pin coredns github.com/coredns/coredns)
  (cd "$root/hack/tools/coredns" && go build -trimpath \
    -ldflags "-s -w -X github.com/coredns/coredns/coremain.GitCommit=release-$v" -o "$out/coredns" .)
}

build_crane() {
  local out=$1 v; v=$(pin crane github.com/google/go-containerregistry)
  (cd "$root/hack/tools/crane" && go build -trimpath \
    -ldflags "-s -w -X github.com/google/go-containerregistry/cmd/crane/cmd.Version=$v" \
    -o "$out/crane" github.com/google/go-containerregistry/cmd/crane)
}

build_network_policies() {
  local out=$1
  (cd "$root/hack/tools/network-policies" && go build -trimpath -ldflags "-s -w" -o "$out/network-policies" .)
}

build_actionlint() {
  local out=$1 v; v=$(pin actionlint github.com/rhysd/actionlint)
  local pkg=github.com/rhysd/actionlint
  (cd "$root/hack/tools/actionlint" && go build -trimpath \
    -ldflags "-s -w -X $pkg.version=${v#v} -X '$pkg.installedFrom=built from hack/tools/actionlint'" \
    -o "$out/actionlint" "$pkg/cmd/actionlint")
}

build_prometheus() {
  local out=$1 v; v=$(pin prometheus github.com/prometheus/prometheus)
  # The module's v0.3MM.P is Prometheus 3.MM.P. remove_all_sd leaves only static and file
  # discovery (the tests scrape loopback targets); without builtinassets the web UI is not
  # embedded, the HTTP API is all that is used.
  local major=${v#v0.}; major=${major%%.*}
  local release=3.$((10#${major:1})).${v##*.}
  local pkg=github.com/prometheus/common/version
  local ld="-s -w -X $pkg.Version=$release -X $pkg.Revision=release-$v -X $pkg.Branch=release"
  ld+=" -X $pkg.BuildUser=capstan -X $pkg.BuildDate=$(date -u +%Y%m%d-%H:%M:%S)"
  (cd "$root/hack/tools/prometheus" && go build -trimpath -tags remove_all_sd -ldflags "$ld" -o "$out/" \
    github.com/prometheus/prometheus/cmd/prometheus github.com/prometheus/prometheus/cmd/promtool)
}

binaries() {
  case $1 in
    prometheus) echo prometheus promtool ;;
    kubernetes) echo kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy ;;
    containerd) echo containerd containerd-shim-runc-v2 ;;
    cni-plugins) echo bridge host-local loopback portmap ;;
    *) echo "$1" ;;
  esac
}

# where a tool's binaries are linked: the CNI plugins get a directory of their
# own, the CNI bin dir of the nodes' containerd and kubelet
link_dir() {
  case $1 in
    cni-plugins) echo "$bin/cni" ;;
    *) echo "$bin" ;;
  esac
}

link_from() {
  local dir=$1 tool=$2 to; to=$(link_dir "$tool")
  mkdir -p "$to"
  for b in $(binaries "$tool"); do
    [ -x "$dir/$b" ] || { log "missing $dir/$b"; return 1; }
    ln -sfn "$dir/$b" "$to/$b"
  done
}

ensure() {
  local tool=$1
  if [ -n "${CAPSTAN_TOOLS_BIN:-}" ]; then link_from "$CAPSTAN_TOOLS_BIN" "$tool"; return; fi
  local hash
  hash=$(cat "$root/hack/tools/$tool"/* | sha256sum | cut -c1-16)
  local dir=$cache/$tool-$hash
  if [ ! -f "$dir/.done" ]; then
    log "building $tool (cold builds take minutes; cached in $dir)"
    local start=$SECONDS
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    "build_${tool//-/_}" "$dir.tmp"  # build_<tool>, with - as _
    rm -rf "$dir" && mv "$dir.tmp" "$dir" && touch "$dir/.done"
    log "built $tool in $((SECONDS - start))s"
  fi
  link_from "$dir" "$tool"
}

command -v go >/dev/null || { log "Go is required to build the tools (or set CAPSTAN_TOOLS_BIN)"; exit 1; }
tools=("$@")
[ ${#tools[@]} -gt 0 ] || tools=(kubernetes etcd kwok helm containerd runc cni-plugins coredns crane network-policies actionlint prometheus)
for t in "${tools[@]}"; do ensure "$t"; done
