#!/usr/bin/env bash
# make bench: starts the test services and runs every benchmark once.
# Each benchmark measures its own baseline in the same run and reports
# the ratio beside it; sample sizes are set inside the benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/tools.sh --test
scripts/services.sh start test
trap 'scripts/services.sh stop test' EXIT

set -a
# shellcheck disable=SC1090
source <(scripts/services.sh env test)
KEEL_ENV=test
set +a

echo "== $(go version), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
go test -run '^$' -bench . -benchtime=1x ./... | grep -E '^(Benchmark|ok|FAIL|---)'
