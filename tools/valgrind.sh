#!/bin/sh
# Runs the unit and simulator tests of a normal (non-sanitizer) build under
# valgrind memcheck (docs/fuzzing.md, make valgrind).
#
#   tools/valgrind.sh BUILD_DIR [PATTERN]
#
# Every BUILD_DIR/unit_test_* and sim_test_* program (or those whose name
# contains PATTERN) runs under valgrind --tool=memcheck --leak-check=full
# --error-exitcode=1 with tools/valgrind.supp; logs go to
# BUILD_DIR/valgrind/<test>.log. Each test gets VG_TIMEOUT seconds (default
# 3600; the simulator tests are 20..100 times slower under valgrind). Prints
# the time, memcheck errors and definitely lost bytes of each test and exits
# 1 if any test fails, times out or valgrind reports an error.
#
# CAIRN_TEST_SLOWDOWN (default 20, exported to the tests) tells them how much
# slower they run: tests on real time stretch their timers and deadlines by
# it, simulator tests shrink their biggest scenarios (tests/support/slowdown.h).
# Memory checking is the same for every test. --fair-sched=yes: valgrind runs
# one thread at a time, and without it a busy writer can starve the reader
# threads of the multi-threaded tests (test_manager_stress saw 0 lookups).
set -eu
export CAIRN_TEST_SLOWDOWN="${CAIRN_TEST_SLOWDOWN:-20}"
[ $# -ge 1 ] || { echo "usage: tools/valgrind.sh BUILD_DIR [PATTERN]" >&2; exit 2; }
build=$(cd "$1" && pwd)
pattern=${2:-}
root=$(cd "$(dirname "$0")/.." && pwd)
out=$build/valgrind
mkdir -p "$out"
fails=0
n=0
# summary LOG: "E errors, B bytes definitely lost" from a memcheck log.
summary() {
    e=$(grep -o 'ERROR SUMMARY: [0-9,]*' "$1" | tail -n 1 | sed 's/.*: //')
    b=$(grep -o 'definitely lost: [0-9,]* bytes' "$1" | tail -n 1 | sed 's/definitely lost: //; s/ bytes//')
    echo "${e:-?} errors, ${b:-0} bytes definitely lost"
}
start=$(date +%s)
for t in "$build"/unit_test_* "$build"/sim_test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    case $name in *"$pattern"*) ;; *) continue ;; esac
    n=$((n + 1))
    t0=$(date +%s)
    if (cd "$build" && CMOCKA_MESSAGE_OUTPUT=stdout timeout "${VG_TIMEOUT:-3600}" valgrind --tool=memcheck --leak-check=full \
        --errors-for-leak-kinds=definite,indirect --error-exitcode=1 --track-fds=no --fair-sched=yes \
        --suppressions="$root/tools/valgrind.supp" --log-file="$out/$name.log" "$t") \
        >"$out/$name.out" 2>&1; then
        echo "ok   $name ($(($(date +%s) - t0)) s, $(summary "$out/$name.log"))"
    else
        fails=$((fails + 1))
        echo "FAIL $name ($(($(date +%s) - t0)) s, $(summary "$out/$name.log")): $out/$name.log"
        grep -m5 -E 'ERROR SUMMARY|definitely lost|Invalid|uninitialised' "$out/$name.log" || true
    fi
done
echo "valgrind: $n tests, $fails failed, $(($(date +%s) - start)) s"
[ "$fails" -eq 0 ]
