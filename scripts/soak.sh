#!/usr/bin/env bash
# Soak test of flowd scaled out: REPLICAS flowd replicas sharing one
# redis-server, behind a round-robin proxy, driven by thousands of
# concurrent simulated calls that walk the example flows end to end.
#
# It builds flowd and scripts/soak, starts redis-server and the replicas
# (flowd serve --store redis://... --public-url http://127.0.0.1:$PORT),
# and runs scripts/soak, which hosts the proxy on $PORT, plays Plivo
# against it with internal/plivosim (retrying a failed webhook as Plivo
# does), and checks each finished call's trace (/v1/calls/{id}). It
# reports calls started/completed, errors, lost or corrupted calls,
# webhook throughput and latency percentiles (p50, p90, p99, p99.9), and
# the CPU time each process used. Exit status 1 when any call failed.
#
# Optionally a fault is injected FAULT_AFTER seconds into the run:
#   FAULT=kill-replica   SIGKILL the second replica (the proxy fails over)
#   FAULT=restart-redis  SIGTERM redis-server, start it again on the same
#                        port and folder FAULT_DOWN seconds later
#
# Every server listens on 127.0.0.1 on a port that was free when the run
# started (scripts/freeport), and must prove it is the process started:
# redis-server reports its process_id in INFO, each replica's /healthz
# its PID (checked here, and again by scripts/soak, which also checks
# that its proxy reaches these replicas). Each is stopped by its PID when
# the script exits.
#
# crm-routing looks each caller up in a CRM: the replicas get
# --param crm_url=http://127.0.0.1:$CRM_PORT/api (never the flow's default,
# crm.example.com) and a crm_token, and scripts/soak serves the fake CRM
# there (-crm-listen), checking that its /healthz answers with its own PID
# before the first call.
#
# Needs redis-server, redis-cli, curl and Go; installs nothing. Debian:
#   apt-get install -y redis-server curl
# Knobs (environment): REPLICAS=3 CALLS=2000 CONCURRENCY=200 DURATION=120s
#   THINK=0 (a caller's longest pause before each event, e.g. 50ms)
#   PORT= REDIS_PORT= (the proxy's and Redis's; default: free ports; the
#   replicas always take free ports)
#   REDIS_AOF=everysec (no, everysec or always: appendfsync; no = no AOF)
#   FAULT=none FAULT_AFTER=3 FAULT_DOWN=2 FLOWS= (comma-separated subset)
#   KEEP=1 keeps the temporary folder (logs).
set -euo pipefail

REPLICAS=${REPLICAS:-3}
CALLS=${CALLS:-2000}
CONCURRENCY=${CONCURRENCY:-200}
DURATION=${DURATION:-120s}
THINK=${THINK:-0}
PORT=${PORT:-}
REDIS_PORT=${REDIS_PORT:-}
REDIS_AOF=${REDIS_AOF:-everysec}
FAULT=${FAULT:-none}
FAULT_AFTER=${FAULT_AFTER:-3}
FAULT_DOWN=${FAULT_DOWN:-2}
FLOWS=${FLOWS:-}
TOKEN=soak-auth-token-0123456789
API_TOKEN=soak-api-token

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_tools soak.sh "Debian: apt-get install -y redis-server curl; Go from https://go.dev/dl" redis-server redis-cli curl go

case $FAULT in none | kill-replica | restart-redis) ;; *)
	echo "soak.sh: FAULT=$FAULT: want none, kill-replica or restart-redis" >&2
	exit 2
	;;
esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/flowd-soak.XXXXXX")
redis_pid=""
replica_pids=()
soak_pid=""

cleanup() {
	local p
	stop_pid "$soak_pid"
	for p in "${replica_pids[@]}"; do stop_pid "$p"; done
	stop_pid "$redis_pid"
	remove_tmp "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# cpu_s PID: CPU seconds (user + system) the process has used.
cpu_s() { awk -v t="$(cpu_ticks "$1")" -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }'; }

echo "== building flowd, scripts/soak and scripts/freeport"
go_build "$tmp" ./cmd/flowd ./scripts/soak ./scripts/freeport

# Free ports, all different: the proxy's, Redis's, the fake CRM's, then
# the replicas'.
# shellcheck disable=SC2207
ports=($(free_ports $((REPLICAS + 3))))
PORT=${PORT:-${ports[0]}}
REDIS_PORT=${REDIS_PORT:-${ports[1]}}
CRM_PORT=${ports[2]}
CRM_TOKEN=soak-crm-token-$(new_token)

mkdir -p "$tmp/redis"
redis_args=(--port "$REDIS_PORT" --bind 127.0.0.1 --dir "$tmp/redis" --save "" --logfile "$tmp/redis.log")
if [[ $REDIS_AOF == no ]]; then
	redis_args+=(--appendonly no)
else
	redis_args+=(--appendonly yes --appendfsync "$REDIS_AOF")
fi
# start_redis: starts redis-server on REDIS_PORT and waits until it is the
# one answering there.
start_redis() {
	redis-server "${redis_args[@]}" &
	redis_pid=$!
	wait_for "redis-server on 127.0.0.1:$REDIS_PORT" "$redis_pid" "$tmp/redis.log" "$redis_pid" redis_pid "$REDIS_PORT"
}
echo "== redis-server on 127.0.0.1:$REDIS_PORT (appendfsync: $REDIS_AOF)"
start_redis

upstreams=()
for ((i = 1; i <= REPLICAS; i++)); do
	addr="127.0.0.1:${ports[$((i + 2))]}"
	PLIVO_AUTH_TOKEN=$TOKEN PLIVO_AUTH_ID='' FLOWD_API_TOKEN=$API_TOKEN "$tmp/flowd" serve \
		--flows "$repo/examples/flows" --store "redis://127.0.0.1:$REDIS_PORT/0" \
		--addr "$addr" --public-url "http://127.0.0.1:$PORT" \
		--param "crm_url=http://127.0.0.1:$CRM_PORT/api" --param "crm_token=$CRM_TOKEN" >"$tmp/replica$i.log" 2>&1 &
	replica_pids+=($!)
	upstreams+=("$addr")
done
for ((i = 1; i <= REPLICAS; i++)); do
	p=${replica_pids[$((i - 1))]}
	wait_for "replica $i on ${upstreams[$((i - 1))]}" "$p" "$tmp/replica$i.log" "$p" healthz_pid "${upstreams[$((i - 1))]}"
done
echo "== $REPLICAS flowd replicas: ${upstreams[*]}, pids ${replica_pids[*]} (public URL http://127.0.0.1:$PORT)"

cpu0=()
for p in "${replica_pids[@]}"; do cpu0+=("$(cpu_s "$p")"); done
redis_cpu0=$(cpu_s "$redis_pid")

soak_args=(-listen "127.0.0.1:$PORT" -upstreams "$(
	IFS=,
	echo "${upstreams[*]}"
)" -pids "$(
	IFS=,
	echo "${replica_pids[*]}"
)" -crm-listen "127.0.0.1:$CRM_PORT" -crm-token "$CRM_TOKEN" \
	-calls "$CALLS" -concurrency "$CONCURRENCY" -duration "$DURATION" -think "$THINK" -auth-token "$TOKEN" -api-token "$API_TOKEN")
[[ -n $FLOWS ]] && soak_args+=(-flows "$FLOWS")
"$tmp/soak" "${soak_args[@]}" &
soak_pid=$!
soak_start=$(date +%s.%N)

redis_cpu_before_fault=0
if [[ $FAULT != none ]]; then
	sleep "$FAULT_AFTER"
	if ! kill -0 "$soak_pid" 2>/dev/null; then
		echo "== FAULT $FAULT: the run ended before ${FAULT_AFTER}s; nothing injected"
	elif [[ $FAULT == kill-replica ]]; then
		victim=$((REPLICAS >= 2 ? 1 : 0))
		echo "== FAULT at ${FAULT_AFTER}s: SIGKILL replica $((victim + 1)) (pid ${replica_pids[$victim]})"
		cpu0[victim]=$(cpu_s "${replica_pids[$victim]}") # report its CPU as 0 from here
		kill -9 "${replica_pids[$victim]}"
		wait "${replica_pids[$victim]}" 2>/dev/null || true
		replica_pids[victim]=""
	else
		echo "== FAULT at ${FAULT_AFTER}s: SIGTERM redis-server, start it again ${FAULT_DOWN}s later"
		redis_cpu_before_fault=$(awk -v a="$(cpu_s "$redis_pid")" -v b="$redis_cpu0" 'BEGIN { printf "%.2f", a - b }')
		stop_pid "$redis_pid"
		sleep "$FAULT_DOWN"
		start_redis
		redis_cpu0=0
		echo "== redis-server is back (pid $redis_pid)"
	fi
fi
set +e
wait "$soak_pid"
status=$?
set -e
soak_pid=""
elapsed=$(awk -v s="$soak_start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')

echo
echo "CPU seconds used during the run (${elapsed}s wall, including the soak program's start):"
for ((i = 0; i < REPLICAS; i++)); do
	p=${replica_pids[$i]}
	if [[ -z $p ]]; then
		echo "  replica $((i + 1)): killed"
		continue
	fi
	echo "  replica $((i + 1)): $(awk -v a="$(cpu_s "$p")" -v b="${cpu0[$i]}" 'BEGIN { printf "%.2f", a - b }') s"
done
echo "  redis-server: $(awk -v a="$(cpu_s "$redis_pid")" -v b="$redis_cpu0" -v c="$redis_cpu_before_fault" 'BEGIN { printf "%.2f", a - b + c }') s"
rcli() { timeout 10 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
echo "redis: $(rcli dbsize) keys, $(rcli info memory | awk -F: '/^used_memory_human/ { print $2 }' | tr -d '\r') used"
store_errors=$(cat "$tmp"/replica*.log | grep -c '"session store failed"' || true)
echo "replica logs: $store_errors \"session store failed\" lines"
exit "$status"
