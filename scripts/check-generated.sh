#!/usr/bin/env bash
# Fails when committed generated code (sqlc, templ) is not what the
# pinned generators make from the sources, or go.mod and go.sum are not
# what go mod tidy makes them.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/.tools/bin

if ! "$bin/sqlc" diff; then
	echo "check-generated: db/ is stale; run make generate" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# templ names source files relative to the module root, so the copy
# keeps the layout.
cp go.mod "$tmp/"
cp -r views "$tmp/views"
"$bin/templ" generate -path "$tmp" >/dev/null 2>&1
if ! diff -r views "$tmp/views" >/dev/null; then
	diff -r views "$tmp/views" | head -20 >&2
	echo "check-generated: views/*_templ.go is stale; run make generate" >&2
	exit 1
fi
if ! go mod tidy -diff >&2; then
	echo "check-generated: go.mod or go.sum is untidy; run go mod tidy" >&2
	exit 1
fi
echo "check-generated: sqlc and templ output, go.mod and go.sum are fresh"
