#!/usr/bin/env bash
# rate-ab.sh: the answer webhook's latency at one fixed rate, for flowd
# servers that differ by their environment (or a baseline build),
# alternating fresh servers round after round: an A/B of a setting's
# tail, without load-answer.sh's throughput runs.
#
#   RATE=17000 ROUNDS=5 bash scripts/rate-ab.sh one: two:GOMAXPROCS=2
#   RATE=17000 bash scripts/rate-ab.sh gc: nogc:GOGC=off
#   STORE=journal RATE=11000 BASELINE=../flowd-before bash scripts/rate-ab.sh new: base
#
# Each argument is a variant, LABEL:ENV, where ENV is what the server
# gets in its environment, VAR=VALUE separated by spaces; the label base
# (no colon) is flowd built from BASELINE=DIR. Each round starts a fresh
# server of each variant in turn on SERVER_CPU (default 0), with
# --reserve-memory RESERVE (default 1GiB; a baseline's too) and the store
# STORE (memory, the default, or journal in a fresh folder), waits until
# its reserve is touched, and runs scripts/rate at RATE for DURATION
# seconds (default 6) after a 1 s warm-up on RATE_CONNS connections
# (default 64, as load-answer.sh: at most one request in flight on
# each, so too few would cap a journal), on CLIENT_CPU (default 1). It prints each run's p99, p99.9,
# the generator's own release lateness and the server's CPU per request,
# then each variant's p99s sorted, with their median.
#
# Every server listens on 127.0.0.1, on a port free when the round
# starts, is checked by the PID its /healthz reports, and is stopped by
# its PID (scripts/README.md).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_tools rate-ab.sh "On Debian/Ubuntu: apt-get install -y curl util-linux; Go from https://go.dev/dl" go curl taskset

RATE=${RATE:?set RATE, the requests a second (half of what the store answers flat out)}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-6}
RATE_CONNS=${RATE_CONNS:-64}
RESERVE=${RESERVE:-1GiB}
STORE=${STORE:-memory}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
case $STORE in
memory | journal) ;;
*) echo "STORE: memory or journal, not $STORE" >&2 && exit 2 ;;
esac
(($# > 0)) || { echo "usage: RATE=N bash scripts/rate-ab.sh LABEL:ENV... (base for BASELINE=DIR)" >&2 && exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/flowd-rate-ab.XXXXXX")
pid=""
cleanup() {
	stop_pid "$pid"
	remove_tmp "$tmp"
}
trap cleanup EXIT

echo "== building flowd, scripts/rate and scripts/freeport"
go_build "$tmp" ./cmd/flowd ./scripts/rate ./scripts/freeport
labels=() envs=() bins=()
for v in "$@"; do
	if [[ $v == base ]]; then
		[[ -n ${BASELINE:-} ]] || { echo "the variant base needs BASELINE=DIR (a checkout to build flowd from)" >&2 && exit 2; }
		echo "== building the baseline flowd from $BASELINE"
		(cd "$BASELINE" && go build -o "$tmp/flowd-base" ./cmd/flowd)
		labels+=(base) envs+=("") bins+=("$tmp/flowd-base")
	elif [[ $v == *:* ]]; then
		labels+=("${v%%:*}") envs+=("${v#*:}") bins+=("$tmp/flowd")
	else
		echo "variant $v: want LABEL:ENV (ENV may be empty) or base" >&2 && exit 2
	fi
done
mkdir -p "$tmp/flows"
cp "$repo/examples/flows/ivr.yaml" "$tmp/flows/"

declare -A p99s=()
echo "== $ROUNDS rounds, $STORE store, ${DURATION}s at $RATE req/s after 1s, $RATE_CONNS connections; server on CPU $SERVER_CPU, scripts/rate on CPU $CLIENT_CPU"
for round in $(seq 1 "$ROUNDS"); do
	for i in "${!labels[@]}"; do
		label=${labels[$i]} log="$tmp/${labels[$i]}.$round.log"
		addr="127.0.0.1:$(free_port)"
		store=memory:
		if [[ $STORE == journal ]]; then
			rm -rf "$tmp/journal"
			store="journal:$tmp/journal"
		fi
		read -r -a env_words <<<"${envs[$i]}"
		env ${env_words[@]+"${env_words[@]}"} taskset -c "$SERVER_CPU" "${bins[$i]}" serve --flows "$tmp/flows" --addr "$addr" \
			--store "$store" --reserve-memory "$RESERVE" >"$log" 2>&1 &
		pid=$!
		wait_for "flowd ($label)" "$pid" "$log" "$pid" healthz_pid "$addr"
		for ((w = 0; w < 600; w++)); do # the reserve is touched in the background: up to a minute
			grep -q '"memory reserved"' "$log" && break
			sleep 0.1
		done
		t0=$(cpu_ticks "$pid")
		out=$(taskset -c "$CLIENT_CPU" "$tmp/rate" -url "http://$addr/flows/ivr/answer" -rate "$RATE" -conns "$RATE_CONNS" -duration "${DURATION}s" -warmup 1s)
		t1=$(cpu_ticks "$pid")
		stop_pid "$pid"
		pid=""
		p99=$(sed -n 's/^latency_ms.* p99=\([0-9.]*\).*/\1/p' <<<"$out")
		p999=$(sed -n 's/^latency_ms.* p999=\([0-9.]*\).*/\1/p' <<<"$out")
		late=$(sed -n 's/^release_late_ms median=[0-9.]* p99th=\([0-9.]*\).*/\1/p' <<<"$out")
		failed=$(sed -n 's/.* failed=\([0-9]*\).*/\1/p' <<<"$out")
		cpu=$(awk -v t="$((t1 - t0))" -v hz="$hz" -v r="$RATE" -v d="$DURATION" 'BEGIN { printf "%.1f", t / hz * 1e6 / (r * (d + 1)) }')
		printf 'round %d  %-10s p99 %8s ms  p99.9 %8s ms  release late p99 %s ms  failed %s  CPU %s µs/request\n' \
			"$round" "$label" "$p99" "$p999" "$late" "$failed" "$cpu"
		p99s[$label]+=" $p99"
	done
done
echo
echo "p99 at $RATE req/s, each variant's runs sorted (median, min–max):"
for label in "${labels[@]}"; do
	read -r med lo hi < <(tr ' ' '\n' <<<"${p99s[$label]}" | grep . | median_min_max)
	printf '  %-10s %s   (median %s, %s–%s)\n' "$label" "$(tr ' ' '\n' <<<"${p99s[$label]}" | grep . | sort -g | tr '\n' ' ')" "$med" "$lo" "$hi"
done
