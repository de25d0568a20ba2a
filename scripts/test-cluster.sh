#!/usr/bin/env bash
# make test-cluster: starts the production-like cluster (scripts/
# cluster.sh), runs the cluster suite against it through nginx, and
# stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

data=$PWD/.data/cluster
log=$data/cluster.log
mkdir -p "$data"
scripts/cluster.sh >"$log" 2>&1 &
cluster=$!
trap 'kill "$cluster" 2>/dev/null || true; wait "$cluster" 2>/dev/null || true' EXIT

off=${KEEL_PORT_OFFSET:-0}
site=https://127.0.0.1:$((8443 + off))
for _ in $(seq 600); do
	grep -q '^Keel runs as in production' "$log" 2>/dev/null && break
	kill -0 "$cluster" 2>/dev/null || { cat "$log" >&2; echo "test-cluster: the cluster did not start" >&2; exit 1; }
	sleep 0.2
done

set -a
# shellcheck disable=SC1090
source <(scripts/services.sh env cluster)
set +a
export KEEL_CLUSTER_URL=$site
export KEEL_CLUSTER_COPIES="127.0.0.1:$((38081 + off)) 127.0.0.1:$((38082 + off))"
export KEEL_CLUSTER_CERT=$data/tls/cert.pem
export KEEL_CLUSTER_RUN=$data/run

start=$(date +%s)
set +e
go test -tags cluster -count=1 -v ./cluster >"$data/go-test.log" 2>&1
status=$?
set -e
grep -E '^(--- |ok|FAIL)|answers:' "$data/go-test.log" || true
if [[ $status -ne 0 ]]; then
	echo "== cluster failures (full log in $data/go-test.log, servers' logs in $data/log)"
	grep -E -B1 -A12 'Error Trace:|^panic:|test timed out' "$data/go-test.log" | head -200 || true
	tail -20 "$log"
fi
echo "test-cluster: $([[ $status -eq 0 ]] && echo passed || echo FAILED) in $(($(date +%s) - start)) s"
exit "$status"
