#!/usr/bin/env bash
# make bench: starts the test services, prepares a benchmark database
# with a million leads (kept between runs), and runs every benchmark
# once. Each benchmark measures its own baseline in the same run and
# reports the ratio beside it; sample sizes are set inside them.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/tools.sh --test --bench
scripts/services.sh start test
trap 'scripts/services.sh stop test' EXIT

set -a
# shellcheck disable=SC1090
source <(scripts/services.sh env test)
KEEL_ENV=test
set +a

# The benchmark database lives beside the test database, on the same
# server, and survives the test database being recreated.
bench_url=${KEEL_DATABASE_URL/\/keel\?/\/keel_bench?}
leads=${BENCH_LEADS:-1000000}
psql=(/usr/lib/postgresql/15/bin/psql -qAt "$bench_url")
if ! "${psql[@]}" -c 'SELECT 1' >/dev/null 2>&1; then
	/usr/lib/postgresql/15/bin/psql -qAt "${KEEL_DATABASE_URL}" -c 'CREATE DATABASE keel_bench'
fi
go build -o .tools/keel .
KEEL_DATABASE_URL=$bench_url .tools/keel migrate >/dev/null 2>&1
have=$("${psql[@]}" -c 'SELECT count(*) FROM leads')
if ((have < leads)); then
	echo "== loading $((leads - have)) leads into keel_bench (COPY)"
	start=$(date +%s)
	KEEL_DATABASE_URL=$bench_url .tools/keel seed --leads $((leads - have)) | grep -E 'leads loaded' | tail -1
	"${psql[@]}" -c 'VACUUM ANALYZE leads'
	echo "   took $(($(date +%s) - start)) s"
fi
export KEEL_BENCH_DATABASE_URL=$bench_url

echo "== $(go version), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
go test -run '^$' -bench . -benchtime=1x -timeout 30m ./... | grep -E '^(Benchmark|ok|FAIL|---|\s+\S+_test.go)'
