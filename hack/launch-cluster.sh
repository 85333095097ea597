#!/usr/bin/env bash
# Runs the product on this machine: a cluster of process nodes (default 3) on a bridge in
# 10.1.0.0/24, node 0 bootstrapped, the others registered and approved; Ctrl-C stops it all.
#   hack/launch-cluster.sh [--nodes N] [--roles kw]
set -euo pipefail
cd "$(dirname "$0")/.."
hack/provision.sh
eval "$(hack/build-binaries.sh --env)"
exec node --import=tsx --conditions=source hack/launch-cluster.ts "$@"
