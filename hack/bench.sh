#!/usr/bin/env bash
# Benchmarks with real binaries (provisioned like the tests); see docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
hack/provision.sh
eval "$(hack/build-binaries.sh --env)"
node --import=tsx --conditions=source lib/testing/bench/control-plane-start.ts "${1:-5}"

# StageUpdate on a real process node against cp + fsync, and the agent's idle RSS.
node --import=tsx --conditions=source node-agent/bench/stage-update.ts "${1:-3}" 128

# The agent of a node with no roles: process start to management API serving, idle RSS, and
# RSS after a StageUpdate.
node --import=tsx --conditions=source node-agent/bench/agent-idle.ts "${1:-5}" 128

# launch-cluster: three process nodes from nothing to UP and HEALTHY.
node --import=tsx --conditions=source e2e/bench/launch-cluster.ts "${1:-3}"

# OS update: a three-node rollout against the sum of the nodes' own reboot-to-healthy times.
node --import=tsx --conditions=source e2e/bench/os-update-rollout.ts "${1:-3}"

# Fleet scale: the operator with 100 and 500 hollow nodes (docs/hollow-nodes.md).
node --import=tsx --conditions=source e2e/bench/fleet-scale.ts 100 500
