#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run): provision, then generated-code check,
# typecheck, lint, unit tests, integration tests against real etcd and kube-apiserver.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }

hack/provision.sh
eval "$(hack/build-binaries.sh --env)"

step "typecheck"
npm run --silent typecheck
step "lint"
npm run --silent lint
step "unit tests"
npm test --silent
step "integration tests (real etcd $("$METROPOLIS_ETCD" --version | head -1 | cut -d' ' -f3), kube-apiserver $("$METROPOLIS_KUBE_APISERVER" --version | cut -d' ' -f2))"
npm run --silent test:integration
step "all tests passed"
