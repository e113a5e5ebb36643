# Shared by the interop shell tests (sourced; not a test itself):
#
#   . "$(dirname "$0")/lib.sh"
#   interop_init NAME      scratch directory $D (/tmp/cairn-NAME.XXXXXX), kept
#                          when a check failed (or CAIRN_KEEP_LOGS is set);
#                          every PID added to PIDS is killed at exit
#   ok / fail / check      one line per check; failures counted in $FAILS
#   wait_for SECS CMD...   run CMD every 0.1 s until it succeeds or SECS pass
#   lines FILE             its line count (0 when absent)
#   pick_block FIRST N     the first port of a block of 10 loopback ports with
#                          nothing bound, at FIRST + 10 * (0 .. N - 1)
PIDS=()
FAILS=0

interop_cleanup() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    if [ "$FAILS" -eq 0 ] && [ -z "${CAIRN_KEEP_LOGS:-}" ]; then rm -rf "$D"; else echo "logs kept in $D"; fi
}

interop_init() {
    D=$(mktemp -d "/tmp/cairn-$1.XXXXXX")
    trap interop_cleanup EXIT
}

ok() { echo "ok - $*"; }
fail() { echo "FAIL - $*"; FAILS=$((FAILS + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }
wait_for() { local n=$(($1 * 10)); shift; while [ $n -gt 0 ]; do "$@" && return 0; sleep 0.1; n=$((n - 1)); done; return 1; }
lines() { [ -f "$1" ] && wc -l <"$1" || echo 0; }

pick_block() {
    local try base p busy
    for try in $(seq 30); do
        base=$(($1 + 10 * (RANDOM % $2)))
        busy=0
        for p in $(seq "$base" $((base + 9))); do
            [ -n "$(ss -Htuan "( sport = :$p )" 2>/dev/null)" ] && { busy=1; break; }
        done
        [ $busy = 0 ] && { echo "$base"; return 0; }
    done
    return 1
}
