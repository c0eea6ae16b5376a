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
