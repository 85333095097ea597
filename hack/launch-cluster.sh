#!/usr/bin/env bash
# Runs the product on this machine. For now: a single-node control plane (a real etcd and a
# real kube-apiserver on loopback); Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
hack/provision.sh
eval "$(hack/build-binaries.sh --env)"
exec node --import=tsx --conditions=source hack/launch-control-plane.ts
