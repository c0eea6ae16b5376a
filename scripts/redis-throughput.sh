#!/usr/bin/env bash
# Answer-webhook throughput of one flowd replica on the Redis store,
# against the Go floor, in one run.
#
#   floor  scripts/floor: a minimal net/http handler that parses the
#          answer form and writes flowd's XML as constant bytes: what any
#          Go answer handler pays
#   redis  flowd serve --store redis://127.0.0.1:$REDIS_PORT/0, a fresh
#          redis-server each round (no persistence: --save "" and no AOF,
#          unless REDIS_AOF=everysec or always)
#   memory flowd serve --store memory:, for context (WITH_MEMORY=1)
#
# wrk posts the IVR example's answer webhook with a fresh CallUUID per
# request (scripts/answer.lua). Short rounds alternate the two targets
# (order rotated each round), each on a fresh server pinned to
# SERVER_CPU while wrk runs on CLIENT_CPU. redis-server
# runs on REDIS_CPU (default: the server's CPU, so the replica and its
# store share one core, as the floor has one core to itself).
#
# It prints each round's requests/s and CPU µs per request (flowd's and
# redis-server's, from /proc), the median of the per-round ratios
# redis/floor with their min–max range (target: >= 0.3), the Redis
# commands each answer cost (INFO commandstats), and checks that every
# request created a session in Redis (not flowd's apology).
#
# Every server listens on 127.0.0.1, on ports that were free when the run
# started (scripts/freeport: one for flowd and the floor, as the XML
# holds flowd's callback URLs, one for redis-server), and must prove it is
# the process started before it is measured: flowd and the floor answer
# /healthz with their PID, redis-server reports its process_id in INFO.
# Each is stopped by its PID, at the end of its round or when the script
# exits.
#
# Needs wrk, redis-server, redis-cli, taskset, curl and Go; installs
# nothing. Debian: apt-get install -y wrk redis-server curl util-linux
# Knobs (environment): ROUNDS=5 DURATION=5 WARMUP=1 CONNS=64 THREADS=1
#   PORT= REDIS_PORT= (default: ports free when the run starts)
#   SERVER_CPU=0 CLIENT_CPU=1
#   REDIS_CPU=$SERVER_CPU REDIS_AOF=no TARGET=0.3 WITH_MEMORY=0 KEEP=1
set -euo pipefail

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
CONNS=${CONNS:-64}
THREADS=${THREADS:-1}
PORT=${PORT:-}
REDIS_PORT=${REDIS_PORT:-}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
REDIS_CPU=${REDIS_CPU:-$SERVER_CPU}
REDIS_AOF=${REDIS_AOF:-no}
TARGET=${TARGET:-0.3}

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_tools redis-throughput.sh "On Debian/Ubuntu: apt-get install -y wrk redis-server curl util-linux; Go from https://go.dev/dl" \
	wrk redis-server redis-cli taskset curl go

tmp=$(mktemp -d "${TMPDIR:-/tmp}/flowd-redis-tp.XXXXXX")
server_pid=""
redis_pid=""

stop_servers() {
	stop_pid "$server_pid"
	server_pid=""
	stop_pid "$redis_pid"
	redis_pid=""
}
cleanup() {
	stop_servers
	remove_tmp "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== building flowd, the floor and scripts/freeport"
go_build "$tmp" ./cmd/flowd ./scripts/floor ./scripts/freeport
# shellcheck disable=SC2207
ports=($(free_ports 2))
PORT=${PORT:-${ports[0]}}
REDIS_PORT=${REDIS_PORT:-${ports[1]}}
addr=127.0.0.1:$PORT
url="http://$addr/flows/ivr/answer"
echo "== servers on $addr, redis-server on 127.0.0.1:$REDIS_PORT"
lua=$repo/scripts/answer.lua
mkdir -p "$tmp/flows" "$tmp/redis"
cp "$repo/examples/flows/ivr.yaml" "$tmp/flows/"


# rcli ARG...: redis-cli against the redis-server running, at most 10 s.
rcli() { timeout 10 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }

round_id=0
# start_server TARGET: a fresh server on $addr (and for redis a fresh
# redis-server on REDIS_PORT), pinned to SERVER_CPU (REDIS_CPU); sets
# server_pid and redis_pid once they are the ones answering there. taskset
# execs the server, so $! is the server's PID.
start_server() {
	local target=$1 log="$tmp/$1.log"
	round_id=$((round_id + 1))
	case $target in
	floor)
		taskset -c "$SERVER_CPU" "$tmp/floor" -addr "$addr" -xml "$tmp/answer.xml" >"$log" 2>&1 &
		server_pid=$!
		;;
	memory)
		taskset -c "$SERVER_CPU" "$tmp/flowd" serve --flows "$tmp/flows" --addr "$addr" --store memory: >"$log" 2>&1 &
		server_pid=$!
		;;
	redis)
		rm -rf "$tmp/redis" && mkdir -p "$tmp/redis"
		local aof=(--appendonly no)
		[[ $REDIS_AOF != no ]] && aof=(--appendonly yes --appendfsync "$REDIS_AOF")
		taskset -c "$REDIS_CPU" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$tmp/redis" --save "" "${aof[@]}" \
			--logfile "$tmp/redis-server.log" &
		redis_pid=$!
		wait_for "redis-server on 127.0.0.1:$REDIS_PORT" "$redis_pid" "$tmp/redis-server.log" "$redis_pid" redis_pid "$REDIS_PORT"
		taskset -c "$SERVER_CPU" "$tmp/flowd" serve --flows "$tmp/flows" --addr "$addr" \
			--store "redis://127.0.0.1:$REDIS_PORT/0" >"$log" 2>&1 &
		server_pid=$!
		;;
	esac
	wait_for "$target on $addr" "$server_pid" "$log" "$server_pid" healthz_pid "$addr"
	wait_ready "$target" "$url" "$server_pid" "$log" "$tmp/ready.xml" "$round_id"
	if [[ -s $tmp/answer.xml ]] && ! cmp -s "$tmp/ready.xml" "$tmp/answer.xml"; then
		echo "$target answers other XML than flowd did:" >&2
		cat "$tmp/ready.xml" >&2
		exit 1
	fi
}

wrk_run() { # wrk_run SECONDS RUNID
	taskset -c "$CLIENT_CPU" wrk -t"$THREADS" -c"$CONNS" -d"${1}s" --timeout 5s -s "$lua" "$url" -- "$2"
}

echo "== the XML: flowd's answer to the IVR example on the Redis store"
start_server redis
cp "$tmp/ready.xml" "$tmp/answer.xml"
if grep -q 'something went wrong' "$tmp/answer.xml"; then
	echo "flowd answered its apology: the Redis store fails" >&2
	cat "$tmp/redis.log" "$tmp/redis-server.log" >&2
	exit 1
fi
stop_servers
echo "$(wc -c <"$tmp/answer.xml") bytes: $(head -c 100 "$tmp/answer.xml")..."

results=$tmp/results.txt
: >"$results"
echo
echo "== $ROUNDS rounds x ${DURATION}s per target (after ${WARMUP}s warm-up), wrk -t$THREADS -c$CONNS;"
echo "   server on CPU $SERVER_CPU, redis-server on CPU $REDIS_CPU (appendonly: $REDIS_AOF), wrk on CPU $CLIENT_CPU"
echo "   per target: requests/s (server CPU µs per request [+ redis-server's]); sessions stored / requests"
run=0
targets=(floor redis)
[[ ${WITH_MEMORY:-0} == 1 ]] && targets+=(memory)
for ((r = 1; r <= ROUNDS; r++)); do
	line="round $r:"
	for ((k = 0; k < ${#targets[@]}; k++)); do
		t=${targets[$(((k + r - 1) % ${#targets[@]}))]}
		start_server "$t"
		run=$((run + 1))
		wrk_run "$WARMUP" "$(printf '%06x01' "$run")" >/dev/null
		c0=$(cpu_ticks "$server_pid")
		rc0=0
		[[ $t == redis ]] && rc0=$(cpu_ticks "$redis_pid")
		keys0=0
		if [[ $t == redis ]]; then
			keys0=$(rcli dbsize)
			rcli config resetstat >/dev/null
		fi
		out=$(wrk_run "$DURATION" "$(printf '%06x02' "$run")")
		c1=$(cpu_ticks "$server_pid")
		rc1=0
		[[ $t == redis ]] && rc1=$(cpu_ticks "$redis_pid")
		rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
		reqs=$(awk '/requests in/ {print $1}' <<<"$out")
		bad=$(awk '/Non-2xx|Socket errors/' <<<"$out")
		if [[ -z $rps || -z $reqs || $reqs == 0 ]]; then
			echo "wrk failed against $t:" >&2
			echo "$out" >&2
			exit 1
		fi
		[[ -n $bad ]] && echo "WARNING: $t, round $r: $bad" >&2
		cpu=$(awk -v d=$((c1 - c0)) -v hz="$hz" -v n="$reqs" 'BEGIN { printf "%.2f", d * 1e6 / hz / n }')
		rcpu=$(awk -v d=$((rc1 - rc0)) -v hz="$hz" -v n="$reqs" 'BEGIN { printf "%.2f", d * 1e6 / hz / n }')
		extra=""
		if [[ $t == redis ]]; then
			keys1=$(rcli dbsize)
			stored=$((keys1 - keys0))
			# wrk counts the requests answered; a few more may be in
			# flight when it stops, so stored may exceed reqs slightly.
			if ((stored < reqs)); then
				echo "WARNING: redis, round $r: $reqs requests answered but only $stored sessions stored (apologies?)" >&2
			fi
			extra=$(printf ' [+%s] %d/%d' "$rcpu" "$stored" "$reqs")
			# Redis commands per answer in this round (the last round's are printed).
			rcli info commandstats | tr -d '\r' |
				awk -F'[:,=]' -v n="$reqs" '/^cmdstat_/ && $3 > 0 && !/^cmdstat_(dbsize|config|info)/ { sub("cmdstat_", "", $1); printf "%s %.3f %s\n", $1, $3 / n, $7 }' >"$tmp/cmdstats.txt"
		fi
		stop_servers
		echo "$r $t $rps $cpu $rcpu" >>"$results"
		line+=$(printf ' %s=%.0f (%s%s)' "$t" "$rps" "$cpu" "$extra")
	done
	echo "$line"
done

# median MIN MAX of numbers on stdin
col() { awk -v t="$1" -v c="$2" '$2 == t { print $c }' "$results"; }
# per-round ratios: throughput T/floor, CPU floor/T, CPU floor/(T + redis-server)
ratio() { round_ratios "$results" "$1"; }
cpu_ratio() { round_cpu_ratios "$results" "$1"; }
cpu_ratio_all() { awk -v t="$1" '{ c[$1, $2] = $4 + $5; if ($1 > n) n = $1 } END { for (r = 1; r <= n; r++) print c[r, "floor"] / c[r, t] }' "$results"; }

echo
for t in "${targets[@]}"; do
	read -r rps lo hi < <(col "$t" 3 | median_min_max)
	read -r cpu _ _ < <(col "$t" 4 | median_min_max)
	read -r scpu _ _ < <(col "$t" 5 | median_min_max)
	case $t in
	floor) printf '%-7s median %6.0f req/s (%.0f–%.0f), %.2f µs CPU per request\n' "$t:" "$rps" "$lo" "$hi" "$cpu" ;;
	redis) printf '%-7s median %6.0f req/s (%.0f–%.0f), flowd %.2f µs + redis-server %.2f µs CPU per request\n' "$t:" "$rps" "$lo" "$hi" "$cpu" "$scpu" ;;
	*) printf '%-7s median %6.0f req/s (%.0f–%.0f), flowd %.2f µs CPU per request\n' "$t:" "$rps" "$lo" "$hi" "$cpu" ;;
	esac
done
echo "median of per-round ratios (min–max):"
for t in "${targets[@]:1}"; do
	read -r med lo hi < <(ratio "$t" | median_min_max)
	read -r cmed clo chi < <(cpu_ratio "$t" | median_min_max)
	printf '  %-7s throughput %s/floor: %s (%s–%s); CPU per request floor/flowd: %s (%s–%s)\n' "$t" "$t" "$med" "$lo" "$hi" "$cmed" "$clo" "$chi"
	if [[ $t == redis ]]; then
		read -r amed alo ahi < <(cpu_ratio_all redis | median_min_max)
		printf '  %-7s CPU per request floor/(flowd + redis-server): %s (%s–%s)\n' "" "$amed" "$alo" "$ahi"
	fi
done
if [[ -s $tmp/cmdstats.txt ]]; then
	echo "Redis commands per answer (last round; inside the Lua scripts too), with µs per call in redis-server:"
	awk '{ printf "  %-22s %7s per answer  %6s µs/call\n", $1, $2, $3 }' "$tmp/cmdstats.txt"
fi
read -r med lo hi < <(ratio redis | median_min_max)
if awk -v m="$med" -v t="$TARGET" 'BEGIN { exit !(m >= t) }'; then
	echo "RESULT: redis/floor = $med ($lo–$hi) >= $TARGET"
else
	echo "RESULT: redis/floor = $med ($lo–$hi) < $TARGET (the target)"
fi
