#!/usr/bin/env bash
# Builds the pinned Kubernetes and etcd binaries from the Go module proxy into a cache outside
# the checkout, keyed by version, and reuses them when they are present and answer --version.
#
#   hack/build-binaries.sh                # etcd, kube-apiserver, kubectl
#   hack/build-binaries.sh --all          # also kube-controller-manager, kube-scheduler, kubelet
#   hack/build-binaries.sh --env          # print `export METROPOLIS_*=path` lines (no build)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

cache_root=${METROPOLIS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/metropolis-ts}
k8s_dir="$cache_root/kubernetes-$KUBERNETES_VERSION"
etcd_dir="$cache_root/etcd-$ETCD_VERSION"

all=0
for arg in "$@"; do
  case "$arg" in
    --all) all=1 ;;
    --env)
      echo "export METROPOLIS_ETCD=$etcd_dir/etcd"
      echo "export METROPOLIS_KUBE_APISERVER=$k8s_dir/kube-apiserver"
      echo "export METROPOLIS_KUBECTL=$k8s_dir/kubectl"
      echo "export METROPOLIS_K8S_BIN_DIR=$k8s_dir"
      exit 0
      ;;
    -h | --help)
      sed -n '2,8p' "$0"
      exit 0
      ;;
    *)
      echo "build-binaries: unknown argument: $arg" >&2
      exit 2
      ;;
  esac
done

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

command -v go >/dev/null || {
  echo "build-binaries: go is not installed (needed to build Kubernetes and etcd)" >&2
  exit 1
}

# A binary counts as cached only when it runs and reports the pinned version.
cached() { # path version
  local flags=(--version)
  [ "$(basename "$1")" = kubectl ] && flags=(version --client)
  [ -x "$1" ] || return 1
  # Captured first: grep -q closing the pipe early would SIGPIPE the binary under pipefail.
  local out
  out=$("$1" "${flags[@]}" 2>/dev/null) || return 1
  grep -qF "$2" <<<"$out"
}

# go build inside a throwaway module; -mod=mod lets go fill in go.sum from the proxy.
# Peak memory and wall time go to a .buildinfo file beside the binary.
go_build() { # moduledir out pkg ldflags
  local moddir=$1 out=$2 pkg=$3 ldflags=$4 tmp="$2.tmp.$$"
  log "go build $pkg -> $out"
  local start=$SECONDS
  (cd "$moddir" && CGO_ENABLED=0 GOFLAGS=-mod=mod /usr/bin/time -f '%M' -o "$tmp.rss" \
    go build -trimpath -ldflags "$ldflags" -o "$tmp" "$pkg")
  mv -f "$tmp" "$out"
  printf 'seconds=%s peak_rss_kib=%s go=%s\n' "$((SECONDS - start))" "$(cat "$tmp.rss")" \
    "$(go env GOVERSION)" >"$out.buildinfo"
  rm -f "$tmp.rss"
}

build_etcd() {
  local out="$etcd_dir/etcd"
  if cached "$out" "${ETCD_VERSION#v}"; then
    log "etcd $ETCD_VERSION cached at $out"
    return
  fi
  log "building etcd $ETCD_VERSION from the Go module proxy (cold: a few minutes)"
  local mod="$etcd_dir/src"
  mkdir -p "$mod"
  cat >"$mod/go.mod" <<GOMOD
module metropolis.local/build/etcd

go 1.24

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
GOMOD
  go_build "$mod" "$out" go.etcd.io/etcd/server/v3 ""
  cached "$out" "${ETCD_VERSION#v}" || {
    echo "build-binaries: $out does not report version $ETCD_VERSION" >&2
    exit 1
  }
}

# The generated module requires k8s.io/kubernetes and replaces every staging module it lists
# (k8s.io/x => ./staging/src/k8s.io/x) with the published v0.MINOR.PATCH of the same release.
write_k8s_module() {
  local mod=$1 staging_version="v0.${KUBERNETES_VERSION#v1.}"
  local gomod
  gomod=$(cd "$mod" && go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" |
    sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')
  [ -f "$gomod" ] || {
    echo "build-binaries: could not download k8s.io/kubernetes@$KUBERNETES_VERSION" >&2
    exit 1
  }
  {
    echo "module metropolis.local/build/kubernetes"
    echo
    grep -m1 '^go ' "$gomod"
    echo
    echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
    echo
    echo "replace ("
    sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/.*#\t\1 => \1 '"$staging_version"'#p' "$gomod"
    echo ")"
  } >"$mod/go.mod.new"
  mv "$mod/go.mod.new" "$mod/go.mod"
}

build_k8s() {
  local components=(kube-apiserver kubectl)
  [ "$all" = 1 ] && components+=(kube-controller-manager kube-scheduler kubelet)
  local missing=()
  for c in "${components[@]}"; do
    if cached "$k8s_dir/$c" "$KUBERNETES_VERSION"; then
      log "$c $KUBERNETES_VERSION cached at $k8s_dir/$c"
    else
      missing+=("$c")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return
  local mod="$k8s_dir/src"
  mkdir -p "$mod"
  [ -f "$mod/go.mod" ] || echo "module metropolis.local/build/kubernetes" >"$mod/go.mod"
  log "preparing a Go module for k8s.io/kubernetes $KUBERNETES_VERSION"
  write_k8s_module "$mod"
  local minor=${KUBERNETES_VERSION#v1.}
  minor=${minor%%.*}
  local ldflags="" pkgs
  # The same version stamps Kubernetes' own hack/lib/version.sh sets.
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  for c in "${missing[@]}"; do
    log "building $c $KUBERNETES_VERSION (cold timings: docs/development.md)"
    go_build "$mod" "$k8s_dir/$c" "k8s.io/kubernetes/cmd/$c" "-s -w$ldflags"
    cached "$k8s_dir/$c" "$KUBERNETES_VERSION" || {
      echo "build-binaries: $k8s_dir/$c does not report version $KUBERNETES_VERSION" >&2
      exit 1
    }
  done
}

mkdir -p "$k8s_dir" "$etcd_dir"
build_etcd
build_k8s
log "binaries ready: $k8s_dir $etcd_dir"
