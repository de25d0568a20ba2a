#!/usr/bin/env bash
# make dev: installs what is missing, starts the local services, prepares
# the database and bucket, loads demo data and serves Keel with its
# workers at http://127.0.0.1:8080. Ctrl-C stops Keel and the services;
# the next run reuses their data.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/tools.sh
scripts/services.sh start dev
trap 'echo; echo "Stopping services..."; scripts/services.sh stop dev' EXIT
# Ctrl-C is how make dev ends; it is not a failure.
trap 'exit 0' INT TERM

set -a
# shellcheck disable=SC1090
source <(scripts/services.sh env dev)
set +a

mkdir -p .tools
go build -ldflags "-X main.version=$(git describe --always --dirty 2>/dev/null || echo dev)" -o .tools/keel .
.tools/keel migrate 2>&1 | grep -v -e 'migration applied' -e 'Applied migration' -e 'No migrations to apply' || true
.tools/keel bucket
.tools/keel seed

cat <<INFO

Keel is running with demo data.
  site           $KEEL_BASE_URL
  mail catcher   $KEEL_MAILPIT_URL/api/v1/messages (mailpit's HTTP API)
  S3 API         $KEEL_S3_ENDPOINT (bucket keel, key $KEEL_S3_ACCESS_KEY)
  PostgreSQL     $KEEL_DATABASE_URL
  Redis          $KEEL_REDIS_URL
Staff portal: $KEEL_BASE_URL/admin (sign in with a demo login above).
Data lives in .data/dev. Press Ctrl-C to stop Keel and the services.

INFO
.tools/keel serve
