#!/usr/bin/env bash
# A Dialect cluster on one machine, ready to call: PostgreSQL (the shared
# store), Kamailio in front (deploy/kamailio/kamailio.cfg) and three runtimes,
# each on its own loopback address, all running flows/hotline.
#
#   scripts/cluster.sh          start (builds dialect if needed), then prints
#                               where to call and where each node's API is
#   scripts/cluster.sh stop     stop everything it started
#   scripts/cluster.sh status   which parts are running
#
# Settings (environment): DIALECT_CLUSTER_DIR (state, logs; default
# /tmp/dialect-cluster), DIALECT_FRONT (Kamailio's address, default
# 127.0.0.1:5060), DIALECT_NODES (runtimes, 1 to 9, default 3; node N listens
# on 127.0.0.1N:5060 and 127.0.0.1N:8080), DIALECT_RTP_BASE (first RTP port of
# node 1, default 30000; each node takes 1,000), DIALECT_BIN (the dialect
# binary; default target/release/dialect, built if absent), DIALECT_PROJECT
# (default flows/hotline), DIALECT_LEASE (how long a service stays with a dead
# runtime before another takes it over, default 5s), DIALECT_EXTRA_CONFIG
# (YAML lines added to every runtime's configuration: trunks, dialer
# settings…), DIALECT_LOG_LEVEL (the runtimes' log level, default warn).
#
# Every runtime takes the same admin token, kept in $DIALECT_CLUSTER_DIR/admin-token.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DIR=${DIALECT_CLUSTER_DIR:-/tmp/dialect-cluster}
FRONT=${DIALECT_FRONT:-127.0.0.1:5060}
NODES=${DIALECT_NODES:-3}
RTP_BASE=${DIALECT_RTP_BASE:-30000}
BIN=${DIALECT_BIN:-$ROOT/target/release/dialect}
PROJECT=${DIALECT_PROJECT:-$ROOT/flows/hotline}
LEASE=${DIALECT_LEASE:-5s}

node_ip() { echo "127.0.0.1$1"; }

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop() {
	local pids=()
	for pidfile in "$DIR"/node*/dialect.pid "$DIR"/kamailio.pid; do
		[ -f "$pidfile" ] || continue
		if running "$pidfile"; then
			pids+=("$(cat "$pidfile")")
			kill "$(cat "$pidfile")" 2>/dev/null || true
		fi
		rm -f "$pidfile"
	done
	if [ -f "$DIR/pg/data/postmaster.pid" ]; then
		pg_bin pg_ctl -D "$DIR/pg/data" -m fast -w stop >/dev/null 2>&1 || true
	fi
	# Runtimes have 30 s to end their calls; wait for them.
	for _ in $(seq 175); do
		local alive=0
		for pid in "${pids[@]}"; do
			kill -0 "$pid" 2>/dev/null && alive=1
		done
		[ "$alive" = 0 ] && break
		sleep 0.2
	done
}

pg_bin() {
	local tool=$1
	shift
	local bin
	bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
	if [ -z "$bin" ]; then
		echo "PostgreSQL is not installed (scripts/install-deps.sh installs it)" >&2
		exit 1
	fi
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$bin/$tool" "$@"
	else
		"$bin/$tool" "$@"
	fi
}

status() {
	if [ -f "$DIR/pg/data/postmaster.pid" ]; then echo "postgresql: running ($DIR/pg)"; else echo "postgresql: stopped"; fi
	if running "$DIR/kamailio.pid"; then echo "kamailio: running on $FRONT"; else echo "kamailio: stopped"; fi
	for n in $(seq "$NODES"); do
		if running "$DIR/node$n/dialect.pid"; then
			echo "node $n: running, SIP $(node_ip "$n"):5060, HTTP http://$(node_ip "$n"):8080"
		else
			echo "node $n: stopped"
		fi
	done
}

case "${1:-start}" in
stop)
	stop
	exit 0
	;;
status)
	status
	exit 0
	;;
start) ;;
*)
	echo "usage: scripts/cluster.sh [start|stop|status]" >&2
	exit 2
	;;
esac

if ! [[ "$NODES" =~ ^[1-9]$ ]]; then
	echo "DIALECT_NODES must be 1 to 9" >&2
	exit 2
fi
command -v kamailio >/dev/null || {
	echo "Kamailio is not installed (scripts/install-deps.sh installs it)" >&2
	exit 1
}
if [ ! -x "$BIN" ]; then
	cargo build --release -p dialect
fi
stop
mkdir -p "$DIR"

# PostgreSQL: a cluster of its own in $DIR/pg, on a unix socket only.
if [ ! -d "$DIR/pg/data" ]; then
	mkdir -p "$DIR/pg"
	[ "$(id -u)" = 0 ] && chown postgres "$DIR/pg"
	pg_bin initdb -U postgres --auth=trust -E UTF8 --locale=C -D "$DIR/pg/data" >"$DIR/pg/initdb.log"
fi
pg_bin pg_ctl -D "$DIR/pg/data" -l "$DIR/pg/postgres.log" -w \
	-o "-c listen_addresses= -c unix_socket_directories=$DIR/pg -c max_connections=300" start >/dev/null
pg_bin psql -h "$DIR/pg" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'dialect'" | grep -q 1 ||
	pg_bin psql -h "$DIR/pg" -U postgres -d postgres -qc "CREATE DATABASE dialect"
STORE="postgres:///dialect?host=$DIR/pg&user=postgres&pool_size=16"

# One secret between the runtimes and one admin token for all of them, made at
# the first start and kept in the folder (readable by its owner only).
for f in cluster-secret admin-token; do
	[ -s "$DIR/$f" ] || (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DIR/$f")
done
SECRET=$(cat "$DIR/cluster-secret")
ADMIN_TOKEN=$(cat "$DIR/admin-token")

# The runtimes.
: >"$DIR/dispatcher.list"
for n in $(seq "$NODES"); do
	ip=$(node_ip "$n")
	first=$((RTP_BASE + (n - 1) * 1000))
	mkdir -p "$DIR/node$n"
	cat >"$DIR/node$n/dialect.yaml" <<-YAML
		# Node $n of the cluster started by scripts/cluster.sh.
		sip: { listen: "$ip:5060", tcp: false, public_host: "$ip" }
		http: { listen: "$ip:8080" }
		rtp: { ip: "$ip", ports: "$first-$((first + 998))" }
		data_dir: "$DIR/node$n/data"
		project: "$PROJECT"
		store: "$STORE"
		# The services one runtime runs at a time (workorder engine, outbox)
		# move to another within the lease's time when their runtime dies.
		cluster: { url: "http://$ip:8080", secret: "$SECRET", lease: "$LEASE" }
		api_users: [{ name: admin, role: admin, token: "$ADMIN_TOKEN" }]
		# Every call reaches a node through Kamailio: its address is trusted
		# like a trunk's, or the per-source limits would apply to all calls.
		limits: { trusted_sources: ["${FRONT%:*}", "127.0.0.1"] }
		logging: { level: ${DIALECT_LOG_LEVEL:-warn} }
	YAML
	if [ -n "${DIALECT_EXTRA_CONFIG:-}" ]; then
		printf '%s\n' "$DIALECT_EXTRA_CONFIG" >>"$DIR/node$n/dialect.yaml"
	fi
	"$BIN" run --config "$DIR/node$n/dialect.yaml" >"$DIR/node$n/dialect.log" 2>&1 &
	echo $! >"$DIR/node$n/dialect.pid"
	echo "1 sip:$ip:5060" >>"$DIR/dispatcher.list"
done
for n in $(seq "$NODES"); do
	ip=$(node_ip "$n")
	for _ in $(seq 300); do
		curl -sf "http://$ip:8080/api/v1/health" >/dev/null 2>&1 && break
		running "$DIR/node$n/dialect.pid" || {
			echo "node $n did not start:" >&2
			tail -20 "$DIR/node$n/dialect.log" >&2
			exit 1
		}
		sleep 0.2
	done
done

# Kamailio in front.
kamailio -DD -E -f "$ROOT/deploy/kamailio/kamailio.cfg" \
	-A "LISTEN=udp:$FRONT" \
	-A "DISPATCHER_LIST=\"$DIR/dispatcher.list\"" \
	-A "CTL_SOCKET=\"unix:$DIR/kamailio.ctl\"" >"$DIR/kamailio.log" 2>&1 &
echo $! >"$DIR/kamailio.pid"
# A configuration it cannot use ends it within a moment.
sleep 1
running "$DIR/kamailio.pid" || {
	echo "Kamailio did not start:" >&2
	tail -20 "$DIR/kamailio.log" >&2
	exit 1
}

echo "Dialect cluster ready: call sip:10000@$FRONT"
status
echo "logs in $DIR; stop with: scripts/cluster.sh stop"
