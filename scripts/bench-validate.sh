#!/usr/bin/env bash
# Times `flowd validate` on a large folder and on the examples.
#
#   1. 1,000 generated flow files of 20 nodes each (templates, GetDigits
#      with prompts and on:, branches with expressions and hours(), set,
#      Dial, MultiPartyCall, Hangup; every file valid): target < 2 s.
#   2. examples/flows: target < 50 ms.
#
# Each is the median of RUNS runs (after one warm-up), timed with hyperfine
# when it is installed, else with a bash loop of `date +%s%N`. flowd is
# built once into the temporary folder. Prints each figure with its target
# and exits 1 when a target is missed.
#
# Knobs (environment): FILES=1000 RUNS=5 KEEP=1 keeps the temporary folder.
set -euo pipefail

FILES=${FILES:-1000}
RUNS=${RUNS:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
if [[ -z ${KEEP:-} ]]; then
	trap 'rm -rf "$tmp"' EXIT
else
	echo "keeping $tmp"
fi

bin=$tmp/flowd
(cd "$root" && go build -o "$bin" ./cmd/flowd)

# block NAME I NEXT writes ten nodes; NEXT is where the block's menu goes on.
block() {
	local i=$2 next=$3
	cat <<EOF
  greet_$i:
    Speak:
      text: "Welcome {{ call.CallerName ?? 'caller' }}, you are calling {{ call.To }}."
      voice: Polly.Joanna
    next: menu_$i
  menu_$i:
    GetDigits:
      numDigits: 1
      timeout: 5
      validDigits: "129"
      children:
        - Speak: "Press 1 for sales, 2 for support. Attempt {{ vars.attempts + 1 }}."
        - Play: https://example.com/prompts/$1-$i.mp3
    on:
      no_input: retry_$i
    next: route_$i
  retry_$i:
    set:
      attempts: vars.attempts + 1
    next: check_$i
  check_$i:
    branch:
      - when: vars.attempts >= 3
        next: bye_$i
    next: menu_$i
  route_$i:
    branch:
      - when: input.Digits == "1"
        next: sales_$i
      - when: input.Digits == "2" && hours("Mon-Fri 09:00-17:00", "America/New_York")
        next: support_$i
    next: $next
  sales_$i:
    Dial:
      timeout: 20
      children:
        - Number: "{{ params.sales_number }}"
    on:
      busy: queue_$i
      no-answer: queue_$i
    next: bye_$i
  support_$i:
    MultiPartyCall:
      name: "{{ params.queue }}-$1-{{ call.CallUUID }}"
      role: customer
      maxDuration: 3600
    next: $next
  queue_$i:
    Speak: "All our agents are busy. Your tier is {{ vars.tier }}."
    next: hold_$i
  hold_$i:
    Play: {url: https://example.com/hold.mp3, loop: 2}
    next: bye_$i
  bye_$i:
    Hangup: {}
EOF
}

mkdir -p "$tmp/flows"
for ((n = 1; n <= FILES; n++)); do
	name=$(printf 'flow-%04d' "$n")
	{
		printf 'flow: %s\nparams:\n  sales_number: { default: "+14155550100" }\n  queue: { default: support }\n' "$name"
		printf 'vars:\n  attempts: 0\n  tier: gold\nnodes:\n'
		block "$name" 0 greet_1
		block "$name" 1 bye_1
	} >"$tmp/flows/$name.yaml"
done
"$bin" validate "$tmp/flows" >/dev/null || {
	echo "the generated flows do not validate:" >&2
	"$bin" validate "$tmp/flows" | head -20 >&2
	exit 1
}
nodes=$(grep -c '^  [a-z_0-9]*:$' "$tmp/flows/flow-0001.yaml")
echo "generated $FILES files of $nodes nodes in $tmp/flows"

# median_ms CMD... prints the median wall time of RUNS runs in milliseconds.
median_ms() {
	if command -v hyperfine >/dev/null; then
		hyperfine -N --style none --warmup 1 --runs "$RUNS" -i --export-json "$tmp/h.json" "$*" >/dev/null
		grep -o '"median": *[0-9.e+-]*' "$tmp/h.json" | head -1 | awk '{ printf "%.1f\n", $2 * 1000 }'
		return
	fi
	"$@" >/dev/null 2>&1 || true
	local times=() t0 t1
	for ((r = 0; r < RUNS; r++)); do
		t0=$(date +%s%N)
		"$@" >/dev/null 2>&1 || true
		t1=$(date +%s%N)
		times+=($(((t1 - t0) / 1000)))
	done
	printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END { printf "%.1f\n", a[int((NR + 1) / 2)] / 1000 }'
}

timer=$(command -v hyperfine >/dev/null && echo hyperfine || echo "date +%s%N loop")
status=0
check() { # label median_ms target_ms
	local verdict=ok
	if awk -v m="$2" -v t="$3" 'BEGIN { exit !(m >= t) }'; then
		verdict=MISSED
		status=1
	fi
	printf '%-40s median %8.1f ms   target < %5d ms   %s\n' "$1" "$2" "$3" "$verdict"
}

echo "timing with $timer, median of $RUNS runs"
big=$(median_ms "$bin" validate "$tmp/flows")
check "flowd validate ($FILES files x $nodes nodes)" "$big" 2000
examples=$(find "$root/examples/flows" -name '*.yaml' ! -name '*_test.yaml' | wc -l)
if ! "$bin" validate "$root/examples/flows" >/dev/null 2>&1; then
	echo "note: examples/flows does not validate right now (timed anyway)"
fi
small=$(median_ms "$bin" validate "$root/examples/flows")
check "flowd validate examples/flows ($examples files)" "$small" 50
exit $status
