#!/usr/bin/env bash
# Makes a fresh machine of this kind ready, idempotently and visibly: Debian packages, npm
# dependencies when node_modules is missing or stale, and the pinned Kubernetes/etcd binaries.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# iproute2: network namespaces for process nodes; util-linux: setpriv (children die with us);
# time: peak memory of the binary builds; protobuf-compiler: protoc for `npm run gen`; curl: the
# download baseline of the StageUpdate bench; golang-go only when no Go is installed at all (its
# toolchain directive then fetches the Go release Kubernetes needs from the Go module proxy).
packages=(iproute2 util-linux time ca-certificates protobuf-compiler curl)
command -v go >/dev/null || packages+=(golang-go)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "installing Debian packages: ${missing[*]}"
  sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
else
  step "Debian packages present: ${packages[*]}"
fi

# npm ci when node_modules is absent or was installed from another package-lock.json.
stamp=node_modules/.metropolis-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  step "npm ci (node_modules missing or stale)"
  npm ci --no-audit --no-fund
  echo "$want" >"$stamp"
else
  step "node_modules up to date"
fi

hack/build-binaries.sh "$@"
