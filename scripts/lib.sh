# Shell helpers shared by scripts/soak.sh and scripts/redis-throughput.sh.
# Source it, do not run it:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# It sets repo (the repository root) and hz (clock ticks per second, for
# cpu_ticks) and defines the functions below; it starts nothing.

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
hz=$(getconf CLK_TCK)

# require_tools SCRIPT HINT TOOL...: unless every TOOL is on the PATH,
# print which are missing and HINT (how to install them) and exit 2.
require_tools() {
	local script=$1 hint=$2 tool missing=()
	shift 2
	for tool in "$@"; do
		command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
	done
	if ((${#missing[@]})); then
		echo "$script: missing: ${missing[*]}" >&2
		echo "$hint" >&2
		exit 2
	fi
}

# go_build DIR PKG...: build each Go package of the repository (./cmd/flowd,
# ./scripts/floor, ...) into DIR, the binary named after its folder.
go_build() {
	local dir=$1 pkg
	shift
	for pkg in "$@"; do
		(cd "$repo" && go build -o "$dir/$(basename "$pkg")" "$pkg")
	done
}

# stop_pid PID: SIGTERM, SIGKILL after 10 s, and wait for it. Nothing for
# an empty PID or a process that is gone.
stop_pid() {
	local pid=$1 i
	[[ -z $pid ]] && return 0
	kill "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 200; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# remove_tmp DIR: remove the run's temporary folder, or with KEEP=1 keep
# it (logs) and say so.
remove_tmp() {
	if [[ ${KEEP:-} == 1 ]]; then
		echo "kept $1"
	else
		rm -rf "$1"
	fi
}

# cpu_ticks PID: CPU time (user + system, in clock ticks: see hz) the
# process has used; 0 once it is gone.
cpu_ticks() { awk '{ print $14 + $15 }' /proc/"$1"/stat 2>/dev/null || echo 0; }

# answer_form CALLUUID: the body of Plivo's answer webhook, as
# scripts/answer.lua sends it, for one CallUUID.
answer_form() {
	printf '%s' "From=%2B14155550100&To=%2B14155550199&Direction=inbound&CallStatus=ringing&Event=StartApp&CallerName=Jane+Doe&BillRate=0.0085&ParentAuthID=MAXXXXXXXXXXXXXXXXXX&RequestUUID=5c1e0f5a-8f6e-4a0e-9b0c-2f3d4e5f6a7b&ALegRequestUUID=5c1e0f5a-8f6e-4a0e-9b0c-2f3d4e5f6a7b&SessionStart=2025-01-01+12%3A00%3A00.000000&STIRAttestation=A&STIRVerification=Verified&CallUUID=$1"
}

# post_answer URL CALLUUID OUTFILE: posts the answer webhook, prints the
# HTTP status.
post_answer() {
	curl -s -o "$3" -w '%{http_code}' -H 'Content-Type: application/x-www-form-urlencoded' --data-binary "$(answer_form "$2")" "$1" 2>/dev/null || true
}

# wait_ready NAME URL PID LOG OUTFILE ROUND: waits up to 10 s until the
# server answers the answer webhook with 200 (its XML in OUTFILE); exits
# with its log when it died or never did.
wait_ready() {
	local i code
	for ((i = 0; i < 100; i++)); do
		code=$(post_answer "$2" "$(printf 'ready000-%04x-4000-8000-%012d' "$6" "$i")" "$5")
		[[ $code == 200 ]] && return 0
		if ! kill -0 "$3" 2>/dev/null; then
			echo "$1 did not start:" >&2
			cat "$4" >&2
			exit 1
		fi
		sleep 0.1
	done
	echo "$1 answered $code after 10 s:" >&2
	cat "$4" "$5" >&2
	exit 1
}

# median_min_max: reads numbers, prints "median min max".
median_min_max() { sort -g | awk '{ a[NR] = $1 } END { m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.3f %.3f %.3f\n", m, a[1], a[NR] }'; }

# round_ratios RESULTS TARGET: per round, TARGET's throughput over the
# floor's (results lines: round target req/s cpu...).
round_ratios() { awk -v t="$2" '{ v[$1, $2] = $3; if ($1 > n) n = $1 } END { for (r = 1; r <= n; r++) print v[r, t] / v[r, "floor"] }' "$1"; }

# round_cpu_ratios RESULTS TARGET: per round, the floor's CPU per request
# over TARGET's.
round_cpu_ratios() { awk -v t="$2" '{ c[$1, $2] = $4; if ($1 > n) n = $1 } END { for (r = 1; r <= n; r++) print c[r, "floor"] / c[r, t] }' "$1"; }
