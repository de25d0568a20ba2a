#!/usr/bin/env bash
# Installs what Keel's scripts need and this machine lacks: Debian
# packages (when run as root; otherwise it prints the command) and the
# pinned Go tools, built into .tools/bin inside the project.
#
#   scripts/tools.sh          services and generators (make dev)
#   scripts/tools.sh --test   also Chromium, pdftotext, axe-core and the linter
#   scripts/tools.sh --bench  also the wrk load tool (may follow --test)
#   scripts/tools.sh --cluster  also nginx and openssl, for make cluster
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned versions. A tool is rebuilt only when its version changes.
SQLC_VERSION=v1.31.1
TEMPL_VERSION=v0.3.1118
VERSITYGW_VERSION=v1.8.0
MAILPIT_VERSION=v1.33.1
GOLANGCI_LINT_VERSION=v2.15.0

with_test=false
with_bench=false
with_cluster=false
for arg in "$@"; do
	case $arg in
	--test) with_test=true ;;
	--bench) with_bench=true ;;
	--cluster) with_cluster=true ;;
	*) echo "tools: unknown option $arg" >&2 && exit 2 ;;
	esac
done

need_packages=()
command -v redis-server >/dev/null || need_packages+=(redis-server)
[[ -x /usr/lib/postgresql/15/bin/initdb ]] || need_packages+=(postgresql-15)
if $with_test; then
	command -v chromium >/dev/null || need_packages+=(chromium)
	command -v pdftotext >/dev/null || need_packages+=(poppler-utils)
fi
if $with_bench; then
	command -v wrk >/dev/null || need_packages+=(wrk)
fi
if $with_cluster; then
	command -v nginx >/dev/null || need_packages+=(nginx)
	command -v openssl >/dev/null || need_packages+=(openssl)
	command -v curl >/dev/null || need_packages+=(curl)
fi

if ((${#need_packages[@]})); then
	if [[ $(id -u) -eq 0 ]]; then
		echo "tools: installing ${need_packages[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends "${need_packages[@]}" >/dev/null
	else
		echo "tools: missing Debian packages; run:" >&2
		echo "  sudo apt-get install -y ${need_packages[*]}" >&2
		exit 1
	fi
fi

bin=$PWD/.tools/bin
mkdir -p "$bin"

# go_tool NAME VERSION PACKAGE installs PACKAGE@VERSION as .tools/bin/NAME.
go_tool() {
	local name=$1 version=$2 pkg=$3
	local stamp="$bin/.$name-$version"
	[[ -x $bin/$name && -f $stamp ]] && return 0
	echo "tools: building $name $version"
	GOBIN=$bin go install "$pkg@$version"
	rm -f "$bin/.$name-"*
	touch "$stamp"
}

go_tool templ "$TEMPL_VERSION" github.com/a-h/templ/cmd/templ
go_tool sqlc "$SQLC_VERSION" github.com/sqlc-dev/sqlc/cmd/sqlc
go_tool versitygw "$VERSITYGW_VERSION" github.com/versity/versitygw/cmd/versitygw
go_tool mailpit "$MAILPIT_VERSION" github.com/axllent/mailpit

if $with_test; then
	go_tool golangci-lint "$GOLANGCI_LINT_VERSION" \
		github.com/golangci/golangci-lint/v2/cmd/golangci-lint
	# axe-core is pinned in e2e/package-lock.json.
	if [[ ! -f e2e/node_modules/axe-core/axe.min.js ]]; then
		echo "tools: installing axe-core"
		(cd e2e && npm ci --no-audit --no-fund --silent)
	fi
fi
