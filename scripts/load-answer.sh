#!/usr/bin/env bash
# Load test of flowd's answer webhook (the IVR example), against a floor.
#
# In one run, in alternating short rounds (order rotated each round), wrk
# posts the answer webhook with a fresh CallUUID per request to:
#   floor   scripts/floor: net/http parsing the form and writing the same
#           XML as constant bytes: what any Go answer handler pays
#   memory  flowd serve --store memory:
#   journal flowd serve --store journal:<tmp>/journal (the durable default
#           store)
#   bolt    flowd serve --store bolt:<tmp>/s.db (the durable bbolt store)
#   floor-fasthttp  scripts/floor -server fasthttp: the same on fasthttp,
#           the HTTP server flowd serve runs, for context (flowd's
#           ratios are against floor, net/http)
#   nginx   the same XML as a static file, for context
# The server runs pinned to one CPU and wrk to the other, each round on a
# fresh server. It prints each round's throughput and the server's CPU time
# per request (from /proc), then the median of the per-round ratios
# flowd/floor with their min–max range. On a shared machine the CPU ratio
# (floor's CPU per request / flowd's) is the steadier of the two: it does
# not count the time other processes held the CPUs.
#
# Then it measures latency at a fixed rate of half flowd-memory's
# throughput, with scripts/rate (wrk2 is not packaged by Debian): p50, p99
# and p99.9 for memory, journal and bolt (and floor for context), and for
# journal and bolt at half their own throughput; and, for the durable
# stores, the disk's own flush latency in the same run (scripts/diskfloor).
#
# Every server listens on 127.0.0.1, on one port that was free when the
# run started (scripts/freeport; one port, as the XML holds flowd's
# callback URLs), and must prove it is the process started before it is
# measured: flowd and the floor answer /healthz with their PID, nginx
# serves a token written for that start. Each is stopped by its PID, at
# the end of its round or when the script exits.
#
# Needs wrk, nginx, taskset, curl and Go; installs nothing. Debian:
#   apt-get install -y wrk nginx-light curl util-linux
# Knobs (environment): ROUNDS=5 DURATION=5 WARMUP=1 CONNS=64 THREADS=1
#   RATE_DURATION=10 RATE_CONNS=$CONNS SERVER_CPU=0 CLIENT_CPU=1
#   RATE_CONNS: scripts/rate keeps at most one request in flight per
#   connection, so a store whose answers wait for the disk (about 1 ms
#   with the group commit) can be sent at most RATE_CONNS / 1 ms: with 16
#   connections, about 16,000 a second, the journal's half rate. The
#   latency runs use the connections of the throughput runs that set the
#   rate, so the client is never what the p99 measures.
#   RATE_ROUNDS=1: the latency runs repeated, alternating the targets, and
#   each p99 given as the median of its runs with their range: one run's
#   p99 rests on a few stalls and moves by half from run to run here.
#   PORT= (default: a port free when the run starts)
#   KEEP=1 keeps the temporary folder (logs, XML, results).
#   BASELINE=DIR also builds flowd from another checkout (say a copy of
#   the previous commit) and adds its stores as targets base-memory,
#   base-journal and base-bolt, measured in the same rounds: an A/B of a
#   change.
#   STORES="memory journal bolt" (the default) are the stores measured;
#   say STORES=journal to measure one alone (the latency at a fixed rate
#   is then at half its throughput).
#   ACCUMULATE=1 keeps one server of each store for the whole run
#   (each on a port of its own, all answering the same XML through
#   --public-url), so their calls pile up round after round, as on a
#   server that has run for hours; PRELOAD=SECONDS first loads each of
#   them that long. The calls each holds are printed at the end. The kept
#   servers share the server CPU all along: one's background work (the
#   journal's snapshot, a collection) slows the others' rounds, so compare
#   a store with many calls against the floor with one store at a time:
#   ACCUMULATE=1 PRELOAD=40 STORES=journal ROUNDS=3. With BASELINE, the
#   baseline's stores are kept too (base-memory beside memory: an A/B of
#   kept servers), with RESERVE as well (the baseline must have
#   --reserve-memory then); each kept server holds its calls in memory
#   at once, so RESERVE times the kept servers must fit in the machine.
#   RESERVE=SIZE (say 4GiB) starts this build's memory and journal
#   servers with --reserve-memory SIZE, and measures each once its
#   reserve is touched (a baseline's servers get none): on a virtual
#   machine whose host takes freed memory back, calls otherwise land on
#   memory the host provides a page fault at a time.
#   OTLP=1 adds the target memory-otel: flowd on the memory store with
#   OpenTelemetry on, exporting every webhook's span to scripts/otlpsink (a
#   collector that keeps nothing, on CLIENT_CPU), to compare with memory.
#   CONSOLE=1 adds the target memory-console: flowd on the memory store with
#   one console open on it — a live-calls stream (curl -N on
#   /ui/api/events with the API token, on CLIENT_CPU) that every answer is
#   published to — to compare with memory, which has none. The events
#   each stream received are printed at the end.
set -euo pipefail

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
CONNS=${CONNS:-64}
THREADS=${THREADS:-1}
RATE_DURATION=${RATE_DURATION:-10}
RATE_CONNS=${RATE_CONNS:-$CONNS}
RATE_ROUNDS=${RATE_ROUNDS:-1}
PORT=${PORT:-}
RESERVE=${RESERVE:-}
reserve=()
[[ -n $RESERVE ]] && reserve=(--reserve-memory "$RESERVE")
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
read -r -a stores <<<"${STORES:-memory journal bolt}"
for s in "${stores[@]}"; do
	case $s in
	memory | journal | bolt) ;;
	*) echo "STORES: unknown store $s (memory, journal, bolt)" >&2 && exit 2 ;;
	esac
done
[[ $RATE_ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "RATE_ROUNDS: want a positive whole number, got $RATE_ROUNDS" >&2 && exit 2; }
# has_store S: S is among the stores measured.
has_store() { [[ " ${stores[*]} " == *" $1 "* ]]; }

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_tools load-answer.sh "On Debian/Ubuntu: apt-get install -y wrk nginx-light curl util-linux (nginx works too); Go from https://go.dev/dl" \
	wrk nginx taskset curl go

tmp=$(mktemp -d "${TMPDIR:-/tmp}/flowd-load.XXXXXX")
chmod 755 "$tmp" # nginx's worker may run as another user
server_pid=""
sink_pid=""
stream_pid=""
api_token=$(new_token)
ACCUMULATE=${ACCUMULATE:-}
PRELOAD=${PRELOAD:-0}
declare -A kept_pid=() kept_addr=()

stop_server() {
	local t
	for t in "${!kept_pid[@]}"; do
		if [[ ${kept_pid[$t]} == "$server_pid" ]]; then
			server_pid="" # kept for the next round
			return
		fi
	done
	stop_pid "$server_pid"
	server_pid=""
	if [[ -n $stream_pid ]]; then
		stop_pid "$stream_pid"
		stream_pid=""
	fi
}
cleanup() {
	local t
	stop_server
	for t in "${!kept_pid[@]}"; do stop_pid "${kept_pid[$t]}"; done
	[[ -n $sink_pid ]] && stop_pid "$sink_pid"
	[[ -n $stream_pid ]] && stop_pid "$stream_pid"
	remove_tmp "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== building flowd, scripts/floor, scripts/rate, scripts/freeport, scripts/diskfloor and scripts/otlpsink"
go_build "$tmp" ./cmd/flowd ./scripts/floor ./scripts/rate ./scripts/freeport ./scripts/diskfloor ./scripts/otlpsink
PORT=${PORT:-$(free_port)}
addr=127.0.0.1:$PORT
url="http://$addr/flows/ivr/answer"
echo "== servers on $addr"
targets=(floor "${stores[@]}" floor-fasthttp nginx)
if [[ -n ${OTLP:-} ]]; then
	targets+=(memory-otel)
	sink_addr=127.0.0.1:$(free_port)
	taskset -c "$CLIENT_CPU" "$tmp/otlpsink" -addr "$sink_addr" >"$tmp/otlpsink.log" 2>&1 &
	sink_pid=$!
	wait_for "otlpsink on $sink_addr" "$sink_pid" "$tmp/otlpsink.log" "$sink_pid" healthz_pid "$sink_addr"
	echo "== otlpsink on $sink_addr (pid $sink_pid)"
fi
if [[ -n ${CONSOLE:-} ]]; then
	targets+=(memory-console)
fi
if [[ -n ${BASELINE:-} ]]; then
	echo "== building the baseline flowd from $BASELINE"
	(cd "$BASELINE" && go build -o "$tmp/flowd-base" ./cmd/flowd)
	for s in "${stores[@]}"; do targets+=("base-$s"); done
fi
mkdir -p "$tmp/flows" "$tmp/www" "$tmp/nginx/tmp"
cp "$repo/examples/flows/ivr.yaml" "$tmp/flows/"

# nginx serves the XML flowd answered (www/answer.xml) on the same address.
cat >"$tmp/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $tmp/nginx/tmp;
	proxy_temp_path $tmp/nginx/tmp;
	fastcgi_temp_path $tmp/nginx/tmp;
	uwsgi_temp_path $tmp/nginx/tmp;
	scgi_temp_path $tmp/nginx/tmp;
	types { application/xml xml; }
	default_type application/xml;
	keepalive_requests 1000000;
	server {
		listen $addr;
		root $tmp/www;
		# Every path is the answer file; the static module refuses POST
		# with 405, which error_page turns into a GET of the same file.
		location / {
			try_files /answer.xml =404;
			error_page 405 =200 \$uri;
		}
		# The token written for this start: proof that this nginx answers.
		location = /token.txt {}
	}
}
EOF

bin() { [[ $1 == base-* ]] && echo flowd-base || echo flowd; }

# cpu_ticks PID: as lib.sh's, but with the process's children (nginx's
# worker).
cpu_ticks() {
	local p total=0 t
	for p in "$1" $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		t=$(awk '{ print $14 + $15 }' /proc/"$p"/stat 2>/dev/null || echo 0)
		total=$((total + t))
	done
	echo "$total"
}

round_id=0
# start_server TARGET: a fresh server on $addr, pinned to SERVER_CPU;
# sets server_pid once it is the one answering there. taskset execs the
# server, so $! is the server's PID.
start_server() {
	local target=$1 log="$tmp/$1.log" token
	round_id=$((round_id + 1))
	url="http://$addr/flows/ivr/answer"
	if [[ -n $ACCUMULATE ]] && has_store "${target#base-}"; then
		start_kept "$target"
		return
	fi
	case $target in
	floor) taskset -c "$SERVER_CPU" "$tmp/floor" -addr "$addr" -xml "$tmp/www/answer.xml" >"$log" 2>&1 & ;;
	floor-fasthttp) taskset -c "$SERVER_CPU" "$tmp/floor" -addr "$addr" -xml "$tmp/www/answer.xml" -server fasthttp >"$log" 2>&1 & ;;
	memory)
		taskset -c "$SERVER_CPU" "$tmp/flowd" serve --flows "$tmp/flows" --addr "$addr" --store memory: "${reserve[@]}" >"$log" 2>&1 &
		;;
	base-memory)
		taskset -c "$SERVER_CPU" "$tmp/$(bin "$target")" serve --flows "$tmp/flows" --addr "$addr" --store memory: >"$log" 2>&1 &
		;;
	memory-console)
		FLOWD_API_TOKEN=$api_token taskset -c "$SERVER_CPU" "$tmp/flowd" serve --flows "$tmp/flows" --addr "$addr" --store memory: >"$log" 2>&1 &
		;;
	memory-otel)
		OTEL_EXPORTER_OTLP_ENDPOINT=http://$sink_addr taskset -c "$SERVER_CPU" "$tmp/flowd" serve --flows "$tmp/flows" --addr "$addr" --store memory: >"$log" 2>&1 &
		;;
	journal)
		rm -rf "$tmp/journal"
		taskset -c "$SERVER_CPU" "$tmp/flowd" serve --flows "$tmp/flows" --addr "$addr" --store "journal:$tmp/journal" "${reserve[@]}" >"$log" 2>&1 &
		;;
	base-journal)
		rm -rf "$tmp/journal"
		taskset -c "$SERVER_CPU" "$tmp/$(bin "$target")" serve --flows "$tmp/flows" --addr "$addr" --store "journal:$tmp/journal" >"$log" 2>&1 &
		;;
	bolt | base-bolt)
		rm -f "$tmp/s.db"
		taskset -c "$SERVER_CPU" "$tmp/$(bin "$target")" serve --flows "$tmp/flows" --addr "$addr" --store "bolt:$tmp/s.db" >"$log" 2>&1 &
		;;
	nginx)
		token=$(new_token)
		printf '%s' "$token" >"$tmp/www/token.txt"
		chmod 644 "$tmp/www/token.txt"
		taskset -c "$SERVER_CPU" nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/error.log" >"$log" 2>&1 &
		;;
	*) echo "unknown target $target" >&2 && exit 2 ;;
	esac
	server_pid=$!
	case $target in
	nginx) wait_for "nginx on $addr" "$server_pid" "$tmp/nginx/error.log" "$token" url_body "http://$addr/token.txt" ;;
	# A baseline flowd may be older than /healthz's JSON: it must hold the
	# listening socket instead.
	base-*) wait_for "$target on $addr" "$server_pid" "$log" "$server_pid" listen_pid "$PORT" "$server_pid" ;;
	*) wait_for "$target on $addr" "$server_pid" "$log" "$server_pid" healthz_pid "$addr" ;;
	esac
	[[ $target == memory || $target == journal ]] && wait_reserved "$target" "$server_pid" "$log"
	wait_ready "$target" "$url" "$server_pid" "$log" "$tmp/ready.xml" "$round_id"
	if [[ -s $tmp/www/answer.xml ]] && ! cmp -s "$tmp/ready.xml" "$tmp/www/answer.xml"; then
		echo "$target answers other XML than flowd:" >&2
		cat "$tmp/ready.xml" >&2
		exit 1
	fi
	[[ $target == memory-console ]] && open_stream
	return 0
}

# open_stream: a console's live-calls stream on the server, kept open
# until the server stops (stop_server), its events appended to
# stream.log. It must have sent its first event (the list of calls)
# before the server is measured.
open_stream() {
	local before i
	before=$(grep -c '^event: calls' "$tmp/stream.log" 2>/dev/null || true)
	taskset -c "$CLIENT_CPU" curl -sN --max-time 600 -H "Authorization: Bearer $api_token" \
		"http://$addr/ui/api/events" >>"$tmp/stream.log" 2>/dev/null &
	stream_pid=$!
	for ((i = 0; i < 200; i++)); do
		[[ $(grep -c '^event: calls' "$tmp/stream.log" 2>/dev/null || true) -gt ${before:-0} ]] && return 0
		sleep 0.05
	done
	echo "the console stream on $addr sent nothing within 10 s" >&2
	exit 1
}

# start_kept TARGET: the one server of TARGET for the whole run (started
# the first time, on a port of its own); sets server_pid and url.
start_kept() {
	local target=$1 log="$tmp/$1.log" port store res
	if [[ -z ${kept_pid[$target]:-} ]]; then
		port=$(free_port)
		store=memory:
		res=("${reserve[@]}")
		[[ ${target#base-} == bolt ]] && store="bolt:$tmp/kept-$target.db" && res=()
		[[ ${target#base-} == journal ]] && store="journal:$tmp/kept-$target"
		taskset -c "$SERVER_CPU" "$tmp/$(bin "$target")" serve --flows "$tmp/flows" --addr "127.0.0.1:$port" \
			--public-url "http://$addr" --store "$store" "${res[@]}" >"$log" 2>&1 &
		kept_pid[$target]=$!
		kept_addr[$target]=127.0.0.1:$port
		# As in start_server, a baseline may be older than /healthz's JSON.
		if [[ $target == base-* ]]; then
			wait_for "$target on 127.0.0.1:$port" "${kept_pid[$target]}" "$log" "${kept_pid[$target]}" listen_pid "$port" "${kept_pid[$target]}"
		else
			wait_for "$target on 127.0.0.1:$port" "${kept_pid[$target]}" "$log" "${kept_pid[$target]}" healthz_pid "127.0.0.1:$port"
		fi
		wait_reserved "$target" "${kept_pid[$target]}" "$log"
	fi
	server_pid=${kept_pid[$target]}
	url="http://${kept_addr[$target]}/flows/ivr/answer"
	wait_ready "$target" "$url" "$server_pid" "$log" "$tmp/ready.xml" "$round_id"
	if [[ -s $tmp/www/answer.xml ]] && ! cmp -s "$tmp/ready.xml" "$tmp/www/answer.xml"; then
		echo "$target answers other XML than flowd:" >&2
		cat "$tmp/ready.xml" >&2
		exit 1
	fi
}

# wait_reserved TARGET PID LOG: with RESERVE, waits (up to 10 minutes:
# a host that provides each page with a fault takes a while) for the
# server's line saying its memory reserve is touched.
wait_reserved() {
	[[ -z $RESERVE || ${1#base-} == bolt ]] && return 0
	local i
	for ((i = 0; i < 6000; i++)); do
		grep -q '"memory reserved for stored calls"' "$3" && return 0
		grep -q '"reserving memory for stored calls"' "$3" && break
		kill -0 "$2" 2>/dev/null || break
		sleep 0.1
	done
	echo "$1 (pid $2) did not reserve its memory:" >&2
	tail -n 20 "$3" >&2
	exit 1
}

# live_calls TARGET: the calls a kept server holds (flowd_sessions_live).
live_calls() {
	curl -s --max-time 30 "http://${kept_addr[$1]}/metrics" | awk '/^flowd_sessions_live / { print $2 }'
}

wrk_run() { # wrk_run SECONDS RUNID → wrk's output
	taskset -c "$CLIENT_CPU" wrk -t"$THREADS" -c"$CONNS" -d"${1}s" --timeout 5s -s "$repo/scripts/answer.lua" "$url" -- "$2"
}

echo "== the XML: flowd's answer to the IVR example"
start_server memory
cp "$tmp/ready.xml" "$tmp/www/answer.xml"
kept=("${stores[@]}")
[[ -n ${BASELINE:-} ]] && for s in "${stores[@]}"; do kept+=("base-$s"); done
if [[ -n $ACCUMULATE && $PRELOAD -gt 0 ]]; then
	stop_server
	for t in "${kept[@]}"; do
		start_server "$t"
		echo "== preloading $t for ${PRELOAD}s"
		wrk_run "$PRELOAD" "$(printf 'ff%04x01' "${#t}")" >/dev/null
		stop_server
	done
	start_server memory
fi
chmod 644 "$tmp/www/answer.xml"
stop_server
echo "$(wc -c <"$tmp/www/answer.xml") bytes: $(head -c 120 "$tmp/www/answer.xml")..."

results="$tmp/results.txt"
: >"$results"
echo
echo "== throughput: $ROUNDS rounds x ${DURATION}s per target (after ${WARMUP}s warm-up), wrk -t$THREADS -c$CONNS, server on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU"
echo "   each target: requests/s, and in brackets the server's CPU µs per request"
run=0
for ((r = 1; r <= ROUNDS; r++)); do
	order=()
	for ((i = 0; i < ${#targets[@]}; i++)); do
		order+=("${targets[$(((i + r - 1) % ${#targets[@]}))]}")
	done
	line="round $r:"
	for t in "${order[@]}"; do
		start_server "$t"
		run=$((run + 1))
		wrk_run "$WARMUP" "$(printf '%06x01' "$run")" >/dev/null
		c0=$(cpu_ticks "$server_pid")
		out=$(wrk_run "$DURATION" "$(printf '%06x02' "$run")")
		c1=$(cpu_ticks "$server_pid")
		stop_server
		rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
		reqs=$(awk '/requests in/ {print $1}' <<<"$out")
		bad=$(awk '/Non-2xx|Socket errors/' <<<"$out")
		if [[ -z $rps || -z $reqs || $reqs == 0 ]]; then
			echo "wrk failed against $t:" >&2
			echo "$out" >&2
			exit 1
		fi
		if [[ -n $bad ]]; then
			echo "WARNING: $t, round $r: $bad" >&2
		fi
		cpu=$(awk -v d=$((c1 - c0)) -v hz="$hz" -v n="$reqs" 'BEGIN { printf "%.2f", d * 1e6 / hz / n }')
		echo "$r $t $rps $cpu" >>"$results"
		if [[ $t == memory-otel ]]; then
			otel_answers=$((${otel_answers:-0} + reqs))
		fi
		line+=$(printf ' %s=%.0f (%s)' "$t" "$rps" "$cpu")
	done
	echo "$line"
done

echo
{
	printf 'round'
	printf ' %s' "${targets[@]}"
	for t in "${targets[@]:1}"; do printf ' %s/floor' "$t"; done
	echo
	awk -v list="${targets[*]}" '
	{ v[$1, $2] = $3; if ($1 > n) n = $1 }
	END {
		k = split(list, ts, " ")
		for (r = 1; r <= n; r++) {
			printf "%d", r
			for (i = 1; i <= k; i++) printf " %.0f", v[r, ts[i]]
			for (i = 2; i <= k; i++) printf " %.3f", v[r, ts[i]] / v[r, "floor"]
			printf "\n"
		}
	}' "$results"
} | awk '{ printf "%-6s", $1; for (i = 2; i <= NF; i++) printf " %18s", $i; print "" }'

# median MIN MAX of a column of numbers on stdin
# per-round throughput ratios TARGET/floor, and CPU ratios floor/TARGET
ratios() { round_ratios "$results" "$1"; }
cpu_ratios() { round_cpu_ratios "$results" "$1"; }
throughput() { awk -v t="$1" '$2 == t { print $3 }' "$results"; }
cpu_per_req() { awk -v t="$1" '$2 == t { print $4 }' "$results"; }

echo
echo "median of per-round ratios (min–max):"
printf '  %-12s %-28s %s\n' "" "throughput TARGET/floor" "CPU per request floor/TARGET"
for t in "${targets[@]:1}"; do
	read -r med lo hi < <(ratios "$t" | median_min_max)
	read -r cmed clo chi < <(cpu_ratios "$t" | median_min_max)
	printf '  %-12s %-28s %s\n' "$t" "$med ($lo–$hi)" "$cmed ($clo–$chi)"
done
echo "median throughput (req/s) and server CPU per request (µs):"
for t in "${targets[@]}"; do
	read -r med lo hi < <(throughput "$t" | median_min_max)
	read -r cmed _ _ < <(cpu_per_req "$t" | median_min_max)
	printf '  %-12s %8.0f  (%.0f–%.0f)   %6.2f µs\n' "$t" "$med" "$lo" "$hi" "$cmed"
done

# p99_of OUTPUT: the p99 that scripts/rate or scripts/diskfloor printed.
p99_of() { sed -n 's/.* p99=\([0-9.]*\).*/\1/p' <<<"$1"; }
# half_rate STORE: half its median throughput.
half_rate() {
	local med
	read -r med _ _ < <(throughput "$1" | median_min_max)
	awk -v m="$med" 'BEGIN { printf "%d", m / 2 }'
}
# The common rate: half of memory's throughput (the first store's when
# memory is not measured); the durable stores also at half their own.
rate_of=memory
has_store memory || rate_of=${stores[0]}
rate=$(half_rate "$rate_of")
declare -A own_rate=()
specs=()
for s in "${stores[@]}"; do specs+=("$s $rate"); done
specs+=("floor $rate")
for s in journal bolt; do
	if has_store "$s"; then
		own_rate[$s]=$(half_rate "$s")
		[[ $s == "$rate_of" ]] || specs+=("$s ${own_rate[$s]}")
	fi
done
if [[ -n ${BASELINE:-} ]]; then
	for s in "${stores[@]}"; do specs+=("base-$s ${own_rate[$s]:-$rate}"); done
fi
echo
echo "== latency at a fixed rate: scripts/rate, ${RATE_DURATION}s after 1s warm-up, $RATE_CONNS connections, on CPU $CLIENT_CPU, $RATE_ROUNDS round(s)"
echo "   (latency from when each request was due, as wrk2 measures)"
# Each round measures every spec once, in the same order, so the specs
# alternate; a spec's p99s are kept in the order measured.
declare -A p99_runs=()
for round in $(seq 1 "$RATE_ROUNDS"); do
	for spec in "${specs[@]}"; do
		read -r t r <<<"$spec"
		start_server "$t"
		out=$(taskset -c "$CLIENT_CPU" "$tmp/rate" -url "$url" -rate "$r" -conns "$RATE_CONNS" -duration "${RATE_DURATION}s" -warmup 1s)
		stop_server
		if ((RATE_ROUNDS > 1)); then echo "$t at $r req/s, round $round:"; else echo "$t at $r req/s:"; fi
		sed 's/^/    /' <<<"$out"
		p99_runs[$spec]+=" $(p99_of "$out")"
	done
done
p99s=()
for spec in "${specs[@]}"; do
	read -r t r <<<"$spec"
	if ((RATE_ROUNDS > 1)); then
		read -r med lo hi < <(tr ' ' '\n' <<<"${p99_runs[$spec]}" | grep . | median_min_max)
		p99s+=("$(printf '%-12s at %6d req/s: p99 = %s ms (%s–%s; each round:%s)' "$t" "$r" "$med" "$lo" "$hi" "${p99_runs[$spec]}")")
	else
		p99s+=("$(printf '%-12s at %6d req/s: p99 = %s ms' "$t" "$r" "${p99_runs[$spec]# }")")
	fi
done
# The disk's own flush latency, in the journal's folder's filesystem: the
# floor under the durable stores' latency, which varies on a shared host.
if has_store journal || has_store bolt; then
	disk=$(taskset -c "$CLIENT_CPU" "$tmp/diskfloor" -dir "$tmp" -duration "${RATE_DURATION}s")
	echo "disk flushes (scripts/diskfloor, 20 KiB appended and flushed every 2 ms):"
	echo "    $disk"
	p99s+=("$(printf '%-12s              : p99 = %s ms' "disk flush" "$(p99_of "$disk")")")
fi
echo
own=""
for s in "${!own_rate[@]}"; do own+=" $s ${own_rate[$s]}"; done
echo "p99 latency (at half of flowd-$rate_of's median throughput, $rate req/s; durable stores also at half their own:${own:- none}):"
printf '  %s\n' "${p99s[@]}"
if [[ -n $ACCUMULATE ]]; then
	echo
	held=""
	for s in "${kept[@]}"; do held+=" $s $(live_calls "$s")"; done
	echo "calls held at the end:$held"
fi
if [[ -n ${OTLP:-} ]]; then
	echo
	echo "otlpsink: $(curl -fsS "http://$sink_addr/stats"); memory-otel answered $otel_answers webhooks in the measured rounds (and more in the warm-ups): every one's span must have arrived"
fi
if [[ -n ${CONSOLE:-} ]]; then
	echo
	echo "console streams (one per memory-console round): $(grep -c '^event: calls' "$tmp/stream.log") opened;" \
		"$(grep -c '^event: call$' "$tmp/stream.log") call events received (a server keeps at most 10000 live calls: past that, new calls are not published)"
	read -r med lo hi < <(awk '
		$2 == "memory" { m[$1] = $3 } $2 == "memory-console" { c[$1] = $3 }
		END { for (r in c) if (m[r] > 0) print c[r] / m[r] }' "$results" | median_min_max)
	echo "memory-console/memory throughput, median of per-round ratios: $med ($lo–$hi)"
fi
