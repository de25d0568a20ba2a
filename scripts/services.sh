#!/usr/bin/env bash
# Starts and stops the services Keel runs on, on loopback, with their
# data under .data/<profile>:
#
#   scripts/services.sh start|stop|status dev|test|cluster
#   scripts/services.sh env dev|test|cluster   print export lines for the KEEL_*
#                                        settings: source <(... env dev)
#
# PostgreSQL, Redis, versitygw (S3 API) and mailpit (SMTP catcher); the
# test and cluster profiles add a streaming replica of PostgreSQL (port
# + 1). The
# dev and test profiles use different ports and folders, so tests never
# touch demo data. A second start reuses the data; stop waits for every
# process to exit so the ports are free again. KEEL_PORT_OFFSET (default
# 0) shifts every port, so two checkouts can run side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

usage() { echo "usage: $0 start|stop|status|env dev|test|cluster" >&2; exit 2; }
[[ $# -eq 2 ]] || usage
action=$1 profile=$2

case $profile in
dev)  pg_port=15432 redis_port=16379 s3_port=19000 smtp_port=11025 mailpit_port=18025 app_port=8080 ;;
test) pg_port=25432 redis_port=26379 s3_port=29000 smtp_port=21025 mailpit_port=28025 app_port=28080 ;;
cluster) pg_port=35432 redis_port=36379 s3_port=39000 smtp_port=31025 mailpit_port=38025 app_port=8443 ;;
*)    usage ;;
esac
off=${KEEL_PORT_OFFSET:-0}
pg_port=$((pg_port + off)) redis_port=$((redis_port + off)) s3_port=$((s3_port + off))
smtp_port=$((smtp_port + off)) mailpit_port=$((mailpit_port + off)) app_port=$((app_port + off))
replica_port=$((pg_port + 1))

data=$root/.data/$profile
tools=$root/.tools/bin
pgbin=/usr/lib/postgresql/15/bin
s3_access=keel-local
s3_secret=keel-local-secret
if [[ $profile == cluster ]]; then
	# The cluster runs as production, which refuses the local default.
	mkdir -p "$data"
	[[ -s $data/s3-secret ]] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$data/s3-secret"
	s3_secret=$(cat "$data/s3-secret")
fi

print_env() {
	cat <<ENV
export KEEL_ADDR=127.0.0.1:$app_port
export KEEL_BASE_URL=http://127.0.0.1:$app_port
export KEEL_DATABASE_URL=postgres://keel@127.0.0.1:$pg_port/keel?sslmode=disable
export KEEL_REDIS_URL=redis://127.0.0.1:$redis_port/0
export KEEL_S3_ENDPOINT=http://127.0.0.1:$s3_port
export KEEL_S3_ACCESS_KEY=$s3_access
export KEEL_S3_SECRET_KEY=$s3_secret
export KEEL_SMTP_ADDR=127.0.0.1:$smtp_port
export KEEL_MAILPIT_URL=http://127.0.0.1:$mailpit_port
ENV
	[[ $profile == test ]] && echo "export KEEL_TEST_REPLICA_URL=postgres://keel@127.0.0.1:$replica_port/keel?sslmode=disable"
	[[ $profile == cluster ]] && echo "export KEEL_DATABASE_REPLICA_URL=postgres://keel@127.0.0.1:$replica_port/keel?sslmode=disable"
	return 0
}

# wait_port PORT NAME waits up to 20 s for a listener on 127.0.0.1:PORT.
wait_port() {
	for _ in $(seq 200); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "services: $2 did not open port $1; see $data/log/$2.log" >&2
	return 1
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# stop_pid NAME sends TERM to the process in its pidfile and waits for
# it to exit, then KILL after 10 s.
stop_pid() {
	local pidfile=$data/run/$1.pid
	alive "$pidfile" || { rm -f "$pidfile"; return 0; }
	local pid
	pid=$(cat "$pidfile")
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; return 0; }
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
	rm -f "$pidfile"
}

# PostgreSQL refuses to run as root. As root, the cluster belongs to the
# postgres user; its folder must be reachable by that user, so when the
# project lives somewhere postgres cannot enter (under /root, say) the
# cluster is kept in /var/tmp and linked from .data.
as_pg() {
	if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_home() {
	local dir=$data/pg
	if [[ $(id -u) -eq 0 ]] && ! runuser -u postgres -- test -x "$data"; then
		local far
		far=/var/tmp/keel-$(printf %s "$root" | sha1sum | cut -c1-12)/$profile/pg
		mkdir -p "$far"
		[[ -L $dir ]] || ln -sfn "$far" "$dir"
	fi
	mkdir -p "$dir"
	[[ $(id -u) -eq 0 ]] && chown postgres:postgres "$dir" "$(readlink -f "$dir")"
	echo "$dir"
}

start_pg() {
	local dir
	dir=$(pg_home)
	if [[ ! -f $dir/data/PG_VERSION ]]; then
		as_pg "$pgbin/initdb" -D "$dir/data" -U keel --auth=trust \
			-E UTF8 --locale=C.UTF-8 >"$data/log/initdb.log"
	fi
	local opts="-p $pg_port -c listen_addresses=127.0.0.1 -k $dir"
	if [[ $profile == test ]]; then
		opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	fi
	if ! as_pg "$pgbin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
		port_free "$pg_port" || { echo "services: port $pg_port is taken" >&2; exit 1; }
		as_pg "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -o "$opts" -w -t 60 start >/dev/null
	fi
	local psql=(env PGOPTIONS="-c client_min_messages=warning" "$pgbin/psql" -h 127.0.0.1 -p "$pg_port" -U keel -d postgres -qAt)
	if [[ $profile == test ]]; then
		"${psql[@]}" -c "DROP DATABASE IF EXISTS keel WITH (FORCE)" >/dev/null
	fi
	if [[ -z $("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = 'keel'") ]]; then
		"${psql[@]}" -c "CREATE DATABASE keel" >/dev/null
	fi
}

# start_replica runs a streaming replica of the primary on the next
# port, cloned from it once (pg_basebackup -R) and kept up by WAL
# streaming, so replica reads and replication lag can be tested.
start_replica() {
	local dir
	dir=$(pg_home)
	if [[ ! -f $dir/replica/PG_VERSION ]]; then
		as_pg rm -rf "$dir/replica"
		as_pg "$pgbin/pg_basebackup" -h 127.0.0.1 -p "$pg_port" -U keel -D "$dir/replica" -R -X stream \
			>"$data/log/basebackup.log" 2>&1
	fi
	if ! as_pg "$pgbin/pg_ctl" -D "$dir/replica" status >/dev/null 2>&1; then
		port_free "$replica_port" || { echo "services: port $replica_port is taken" >&2; exit 1; }
		as_pg "$pgbin/pg_ctl" -D "$dir/replica" -l "$dir/replica.log" \
			-o "-p $replica_port -c listen_addresses=127.0.0.1 -k $dir -c fsync=off" -w -t 60 start >/dev/null
	fi
	# A test that paused replay and died must not leave it paused.
	"$pgbin/psql" -h 127.0.0.1 -p "$replica_port" -U keel -d postgres -qAt \
		-c "SELECT pg_wal_replay_resume()" >/dev/null
}

start_redis() {
	if alive "$data/run/redis.pid"; then
		# Tests start from an empty Redis, as from an empty database.
		[[ $profile == test ]] && redis-cli -p "$redis_port" flushall >/dev/null
		return 0
	fi
	local persist=(--save '' --appendonly no)
	[[ $profile == dev ]] && persist=(--save '60 1' --appendonly no)
	mkdir -p "$data/redis"
	redis-server --bind 127.0.0.1 --port "$redis_port" --daemonize yes \
		--pidfile "$data/run/redis.pid" --logfile "$data/log/redis.log" \
		--dir "$data/redis" "${persist[@]}"
	wait_port "$redis_port" redis
}

start_bg() { # NAME PORT COMMAND... runs COMMAND in the background
	local name=$1 port=$2
	shift 2
	alive "$data/run/$name.pid" && return 0
	port_free "$port" || { echo "services: port $port is taken" >&2; exit 1; }
	nohup "$@" >"$data/log/$name.log" 2>&1 </dev/null &
	echo $! >"$data/run/$name.pid"
	wait_port "$port" "$name"
}

start() {
	mkdir -p "$data/log" "$data/run" "$data/s3" "$data/mailpit"
	start_pg
	[[ $profile != dev ]] && start_replica
	start_redis
	ROOT_ACCESS_KEY=$s3_access ROOT_SECRET_KEY=$s3_secret \
		start_bg versitygw "$s3_port" "$tools/versitygw" --port "127.0.0.1:$s3_port" \
		--region us-east-1 --quiet posix "$data/s3"
	start_bg mailpit "$mailpit_port" "$tools/mailpit" \
		--smtp "127.0.0.1:$smtp_port" --listen "127.0.0.1:$mailpit_port" \
		--database "$data/mailpit/mailpit.db" --disable-version-check \
		--smtp-auth-accept-any --smtp-auth-allow-insecure --quiet
	wait_port "$smtp_port" mailpit
}

stop() {
	stop_pid mailpit
	stop_pid versitygw
	stop_pid redis
	local cluster
	for cluster in replica data; do
		if [[ -e $data/pg/$cluster/PG_VERSION ]]; then
			as_pg "$pgbin/pg_ctl" -D "$data/pg/$cluster" -m fast -w stop >/dev/null 2>&1 || true
		fi
	done
}

status() {
	local name
	for name in redis versitygw mailpit; do
		if alive "$data/run/$name.pid"; then echo "$name: running"; else echo "$name: stopped"; fi
	done
	if as_pg "$pgbin/pg_ctl" -D "$data/pg/data" status >/dev/null 2>&1; then
		echo "postgres: running"
	else
		echo "postgres: stopped"
	fi
	if [[ $profile != dev ]]; then
		if as_pg "$pgbin/pg_ctl" -D "$data/pg/replica" status >/dev/null 2>&1; then
			echo "postgres replica: running"
		else
			echo "postgres replica: stopped"
		fi
	fi
}

case $action in
start)  start ;;
stop)   stop ;;
status) status ;;
env)    print_env ;;
*)      usage ;;
esac
