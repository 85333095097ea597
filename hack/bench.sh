#!/usr/bin/env bash
# Benchmarks with real binaries (provisioned like the tests); see docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
hack/provision.sh
eval "$(hack/build-binaries.sh --env)"
node --import=tsx --conditions=source lib/testing/bench/control-plane-start.ts "${1:-5}"
