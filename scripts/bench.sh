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

machine="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/^Mem:/ {print $2}') GB memory, $(uname -sr)"
echo "== $(go version), $machine"
out=$(mktemp)
set +e
go test -run '^$' -bench . -benchtime=1x -timeout 30m ./... >"$out" 2>&1
status=$?
set -e
grep -E '^(Benchmark|ok|FAIL|---|\s+\S+_test.go)' "$out" || true
[[ $status -eq 0 ]] || { echo "bench: a benchmark failed (output in $out)" >&2; exit "$status"; }

# One table, each figure beside its baseline from this run: printed,
# saved under bench/results with the machine, and put in README.md.
stamp=$(date -u +%Y-%m-%dT%H%MZ)
mkdir -p bench/results
{
	echo "# Benchmarks, $stamp"
	echo
	echo "- machine: $machine"
	echo "- $(go version)"
	echo "- commit: $(git describe --always --dirty)"
	echo
	go run ./bench/table -readme README.md <"$out"
	echo
	echo '```'
	grep -E '^(Benchmark|ok)' "$out"
	echo '```'
} >"bench/results/$stamp.md"
echo "== bench/results/$stamp.md (the table is also in README.md)"
go run ./bench/table <"$out"
rm -f "$out"
