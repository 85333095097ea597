#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run): provision, then generated-code check,
# typecheck, lint, unit tests, integration tests against real etcd, kube-apiserver and
# process nodes, and the end-to-end suite on a launched cluster.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }

hack/provision.sh
eval "$(hack/build-binaries.sh --env)"

step "generated code is up to date (npm run gen)"
npm run --silent gen
if [ -n "$(git status --porcelain -- lib/api/src/gen)" ]; then
  git status --short -- lib/api/src/gen >&2
  echo "generated code differs from lib/api/proto: run npm run gen and commit the result" >&2
  exit 1
fi

step "typecheck"
npm run --silent typecheck
step "lint"
npm run --silent lint
step "unit tests"
npm test --silent
step "integration tests (real etcd $("$METROPOLIS_ETCD" --version | head -1 | cut -d' ' -f3), kube-apiserver $("$METROPOLIS_KUBE_APISERVER" --version | cut -d' ' -f2))"
npm run --silent test:integration
step "end-to-end tests (a launched cluster of process nodes)"
npm run --silent test:e2e
step "all tests passed"
