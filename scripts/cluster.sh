#!/usr/bin/env bash
# make cluster: Keel as in production, on one machine, on loopback:
# PostgreSQL with a streaming replica, Redis, the S3 API server and the
# SMTP catcher, two `keel serve` copies and one `keel worker`, behind
# nginx with TLS (a self-signed certificate made here) and HTTP/2, from
# deploy/nginx.conf. Ctrl-C stops everything it started.
#
#   scripts/cluster.sh           run until Ctrl-C
#   scripts/cluster.sh --check   start, check the site answers through
#                                nginx, and stop
set -euo pipefail
cd "$(dirname "$0")/.."

check=false
[[ ${1:-} == --check ]] && check=true

scripts/tools.sh --cluster
scripts/services.sh start cluster
data=$PWD/.data/cluster
pids=()
stop_all() {
	set +e
	local pid
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	if [[ -f $data/run/nginx.pid ]]; then
		kill "$(cat "$data/run/nginx.pid")" 2>/dev/null || true
	fi
	scripts/services.sh stop cluster
}
# The output may be gone (a pipe closed by Ctrl-C): from here on no
# signal and no failed write may cut the stopping short.
trap 'trap "" INT TERM HUP PIPE; { echo; echo "Stopping the cluster..."; } >&2 2>/dev/null || true; stop_all >/dev/null 2>&1' EXIT
trap 'exit 0' INT TERM HUP PIPE

set -a
# shellcheck disable=SC1090
source <(scripts/services.sh env cluster)
set +a
off=${KEEL_PORT_OFFSET:-0}
port=$((8443 + off))
export KEEL_ENV=production
export KEEL_BASE_URL=https://127.0.0.1:$port
export KEEL_TRUSTED_PROXIES=127.0.0.1/32
export KEEL_LOG_FORMAT=json

mkdir -p .tools "$data/log" "$data/run" "$data/tls"
go build -ldflags "-X main.version=$(git describe --always --dirty 2>/dev/null || echo dev)" -o .tools/keel .
.tools/keel migrate >"$data/log/migrate.log" 2>&1
.tools/keel bucket
# Demo data and demo passwords are refused in production; this cluster
# runs on loopback, so it is seeded as development would be.
KEEL_ENV=development .tools/keel seed >"$data/log/seed.log"

if [[ ! -s $data/tls/cert.pem ]]; then
	openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=127.0.0.1" \
		-addext "subjectAltName=IP:127.0.0.1" \
		-keyout "$data/tls/key.pem" -out "$data/tls/cert.pem" 2>/dev/null
fi

copies=("127.0.0.1:$((38081 + off))" "127.0.0.1:$((38082 + off))")
upstreams=""
for i in "${!copies[@]}"; do
	addr=${copies[$i]}
	KEEL_ADDR=$addr KEEL_WORKERS=false .tools/keel serve >>"$data/log/keel-$((i + 1)).log" 2>&1 &
	pids+=($!)
	echo $! >"$data/run/keel-$((i + 1)).pid" # the cluster suite stops one
	upstreams+="        server $addr max_fails=1 fail_timeout=5s;"$'\n'
done
.tools/keel worker >>"$data/log/keel-worker.log" 2>&1 &
pids+=($!)

mkdir -p "$data/run/client_body" "$data/run/proxy" "$data/run/fastcgi" "$data/run/uwsgi" "$data/run/scgi"
export KEEL_CLUSTER_COPIES=${copies[*]}
sed -e "s|@@RUN@@|$data/run|g" -e "s|@@LOG@@|$data/log|g" -e "s|@@TLS@@|$data/tls|g" \
	-e "s|@@PORT@@|$port|g" deploy/nginx.conf |
	awk -v up="$upstreams" '{ if ($0 == "@@UPSTREAMS@@") printf "%s", up; else print }' >"$data/nginx.conf"
nginx -t -q -c "$data/nginx.conf" -p "$data" -g "error_log $data/log/nginx-error.log;"
nginx -c "$data/nginx.conf" -p "$data" -g "error_log $data/log/nginx-error.log;"

for _ in $(seq 100); do
	curl -fsk "$KEEL_BASE_URL/readyz" >/dev/null 2>&1 && break
	sleep 0.2
done
curl -fsk --http2 -o /dev/null -w "cluster: %{http_version} %{http_code} from $KEEL_BASE_URL/readyz\n" "$KEEL_BASE_URL/readyz"

cat <<INFO

Keel runs as in production at $KEEL_BASE_URL (self-signed certificate).
  copies         ${copies[*]} (keel serve), one keel worker
  replica        $KEEL_DATABASE_REPLICA_URL
  mail catcher   $KEEL_MAILPIT_URL/api/v1/messages
  logs           $data/log
Press Ctrl-C to stop it all.

INFO
if $check; then
	exit 0
fi
# Until Ctrl-C (or TERM): the copies may come and go meanwhile.
sleep infinity &
pids+=($!)
wait $!
