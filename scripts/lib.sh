# shellcheck shell=bash
# Shell helpers shared by scripts/load-answer.sh, scripts/rate-ab.sh,
# scripts/soak.sh and scripts/redis-throughput.sh. Source it, do not run it:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# It sets repo (the repository root) and hz (clock ticks per second, for
# cpu_ticks) and defines the functions below; it starts nothing.
#
# A script that starts a server takes a free port for it (free_port,
# unless the user set PORT=...), has it listen on 127.0.0.1 only, waits
# with wait_for until the server answering there is the process it
# started (its PID in flowd's or the floor's /healthz, in redis-server's
# INFO, or a token file nginx serves), and stops it by its PID at exit
# (stop_pid, from an EXIT trap).

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck disable=SC2034 # for the scripts that source this file
hz=$(getconf CLK_TCK)
bin_dir="" # where go_build put the binaries (free_ports runs its freeport)

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
	bin_dir=$dir
	for pkg in "$@"; do
		(cd "$repo" && go build -o "$dir/$(basename "$pkg")" "$pkg")
	done
}

# free_ports N: prints N different TCP ports of 127.0.0.1 that are free
# now, one a line, from scripts/freeport (build ./scripts/freeport with
# go_build first). Another process may take one before the server binds
# it: wait_for then fails rather than measure the wrong server.
free_ports() {
	if [[ ! -x $bin_dir/freeport ]]; then
		echo "free_ports: build ./scripts/freeport with go_build first" >&2
		return 2
	fi
	"$bin_dir/freeport" -n "$1"
}

# free_port: one free port of 127.0.0.1.
free_port() { free_ports 1; }

# new_token: 16 random hex digits.
new_token() { od -An -N8 -tx1 /dev/urandom | tr -d ' \n'; }

# The probes wait_for calls: each prints who answers, or nothing while
# nothing answers (yet).
#
# healthz_pid ADDR: the "pid" of GET http://ADDR/healthz's JSON (flowd's
# and scripts/floor's answer).
healthz_pid() {
	curl -s --max-time 2 "http://$1/healthz" | sed -n 's/.*"pid": *\([0-9][0-9]*\).*/\1/p'
}

# redis_pid PORT: the process_id the redis-server on 127.0.0.1:PORT
# reports (INFO server).
redis_pid() {
	timeout 5 redis-cli -h 127.0.0.1 -p "$1" info server 2>/dev/null | tr -d '\r' | sed -n 's/^process_id://p'
}

# url_body URL: the body of a 200 answer to GET URL (a token file).
url_body() { curl -fs --max-time 2 "$1"; }

# listen_pid PORT PID: PID when the process PID holds the listening
# socket of 127.0.0.1:PORT (from /proc), for a server that cannot say its
# PID itself (a baseline flowd older than /healthz's JSON).
listen_pid() {
	local inode
	inode=$(awk -v a="$(printf '0100007F:%04X' "$1")" '$2 == a && $4 == "0A" { print $10; exit }' /proc/net/tcp)
	[[ -n $inode ]] && find /proc/"$2"/fd -lname "socket:\[$inode\]" 2>/dev/null | grep -q . && echo "$2"
	return 0
}

# wait_for NAME PID LOG WANT PROBE ARG...: waits up to 15 s until PROBE
# ARG... prints WANT: the server the script started as process PID (log
# in LOG) answers, not another one on its port. Exits 1 with the log when
# something else answers (another server had the port: run again, or
# choose PORT=...), when the process died or after 15 s.
wait_for() {
	local name=$1 pid=$2 log=$3 want=$4 got="" i end=$((SECONDS + 15))
	shift 4
	for ((i = 0; i < 300 && SECONDS < end; i++)); do
		got=$("$@" 2>/dev/null) || got=""
		[[ $got == "$want" ]] && return 0
		if [[ -n $got ]]; then
			echo "$name: another server answers there ($* says ${got:0:80}, not $want): its port was taken; run again or set the port" >&2
			[[ -f $log ]] && tail -n 20 "$log" >&2
			exit 1
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "$name (pid $pid) did not start:" >&2
			[[ -f $log ]] && tail -n 20 "$log" >&2
			exit 1
		fi
		sleep 0.05
	done
	echo "$name (pid $pid) did not answer $* within 15 s" >&2
	[[ -f $log ]] && tail -n 20 "$log" >&2
	exit 1
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
	curl -s --max-time 5 -o "$3" -w '%{http_code}' -H 'Content-Type: application/x-www-form-urlencoded' --data-binary "$(answer_form "$2")" "$1" 2>/dev/null || true
}

# wait_ready NAME URL PID LOG OUTFILE ROUND: waits up to 10 s until the
# server answers the answer webhook with 200 (its XML in OUTFILE); exits
# with its log when it died or never did. Call it after wait_for, which
# checks that the server answering is the one started.
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
