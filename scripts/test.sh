#!/usr/bin/env bash
# make test: the same services as make dev on their own ports and data
# folder (.data/test, database recreated each run), then the checks and
# every test, with the race detector; then the cluster suite through
# nginx (scripts/test-cluster.sh). A service that does not start fails
# the run; no test is skipped for a missing service.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)

scripts/tools.sh --test
scripts/services.sh start test
trap 'scripts/services.sh stop test' EXIT

set -a
# shellcheck disable=SC1090
source <(scripts/services.sh env test)
KEEL_ENV=test
set +a

echo "== generated code"
scripts/check-generated.sh
echo "== go vet"
go vet ./...
go vet -tags cluster ./cluster
echo "== golangci-lint"
.tools/bin/golangci-lint run ./...
echo "== go test -race"
log=.data/test/go-test.log
set +e
go test -race -count=1 -v ./... >"$log" 2>&1
status=$?
set -e
grep -E '^(ok|FAIL|panic:)|^\s*--- FAIL' "$log" || true
if [[ $status -ne 0 ]]; then
	echo "== failures (full log in $log)"
	# With -v a failure's messages come as it happens, before its
	# "--- FAIL" line: show each assertion with its trace, and panics.
	grep -E '^\s*--- FAIL' "$log" || true
	grep -E -B1 -A12 'Error Trace:|^panic:|test timed out' "$log" | head -300 || true
	exit "$status"
fi

tests=$(grep -cE '^--- PASS' "$log" || true)
subtests=$(grep -cE '^\s+--- PASS' "$log" || true)
echo "== cluster suite: nginx (TLS, HTTP/2), two keel serve copies, a worker, a replica"
scripts/tools.sh --cluster
scripts/test-cluster.sh
echo "make test: passed: $tests tests and $subtests subtests, and the cluster suite; $(($(date +%s) - started)) s so far (the services stop next)"
