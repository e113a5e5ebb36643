#!/bin/sh
# Runs the libFuzzer targets of a CAIRN_FUZZ build (docs/fuzzing.md).
#
#   tools/fuzz.sh run   BUILD_DIR [TARGET...]   fuzz each target in turn
#   tools/fuzz.sh merge BUILD_DIR [TARGET...]   merge new inputs into the corpus
#
# run: each target for FUZZTIME seconds (default 60), or for RUNS executions
# when RUNS is set (then without a time limit), with its dictionary from
# fuzz/dict/MAP, its checked-in corpus fuzz/corpus/<target>/ read only and new
# inputs written to BUILD_DIR/fuzz-scratch/<target>/. Prints the executions,
# executions per second and corpus size of every target at the end; exits 1 on
# the first crash (the reproducer is left in the current directory as
# crash-*, leak-*, timeout-* or oom-*).
#
# merge: libFuzzer -merge=1 of BUILD_DIR/fuzz-scratch/<target>/ into
# fuzz/corpus/<target>/: only inputs that add coverage are copied, existing
# seeds are kept. Commit the result.
#
# TARGET is a name such as msg or fuzz_msg; default every BUILD_DIR/fuzz_*.
set -eu

usage() {
    echo "usage: tools/fuzz.sh run|merge BUILD_DIR [TARGET...]" >&2
    exit 2
}
[ $# -ge 2 ] || usage
mode=$1
build=$2
shift 2
case $mode in run | merge) ;; *) usage ;; esac

root=$(cd "$(dirname "$0")/.." && pwd)
FUZZTIME=${FUZZTIME:-60}
RUNS=${RUNS:-}

if [ $# -eq 0 ]; then
    set -- $(cd "$build" && ls fuzz_* 2>/dev/null | grep -v '\.' || true)
fi
[ $# -gt 0 ] || { echo "tools/fuzz.sh: no fuzz_* programs in $build" >&2; exit 1; }

dict_for() {
    d=$(awk -v t="$1" '$1 == t { print $2 }' "$root/fuzz/dict/MAP")
    [ -n "$d" ] && echo "-dict=$root/fuzz/dict/$d"
    return 0
}

summary=$(mktemp)
trap 'rm -f "$summary"' EXIT
for t in "$@"; do
    name=${t#fuzz_}
    bin=$build/fuzz_$name
    [ -x "$bin" ] || { echo "tools/fuzz.sh: no $bin" >&2; exit 1; }
    corpus=$root/fuzz/corpus/$name
    scratch=$build/fuzz-scratch/$name
    mkdir -p "$corpus" "$scratch"
    if [ "$mode" = merge ]; then
        before=$(ls "$corpus" | wc -l)
        "$bin" -merge=1 -rss_limit_mb=2048 -timeout=10 "$corpus" "$scratch" >"$build/fuzz-$name.merge.log" 2>&1 ||
            { tail -20 "$build/fuzz-$name.merge.log"; exit 1; }
        after=$(ls "$corpus" | wc -l)
        echo "$name: corpus $before -> $after files"
        continue
    fi
    if [ -n "$RUNS" ]; then
        limit="-runs=$RUNS"
        echo "== fuzz_$name ($RUNS runs)"
    else
        limit="-max_total_time=$FUZZTIME"
        echo "== fuzz_$name ($FUZZTIME s)"
    fi
    log=$build/fuzz-$name.log
    # shellcheck disable=SC2046
    if ! "$bin" $limit $(dict_for "$name") -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        "$scratch" "$corpus" >"$log" 2>&1; then
        tail -40 "$log"
        echo "tools/fuzz.sh: fuzz_$name failed (log $log)" >&2
        exit 1
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    files=$(ls "$scratch" | wc -l)
    printf '%-20s %12s %8s %6s %6s\n' "$name" "${execs:-?}" "${speed:-?}" "${cov:-?}" "$files" >>"$summary"
done
if [ "$mode" = run ]; then
    echo
    printf '%-20s %12s %8s %6s %6s\n' target executions exec/s cov new
    cat "$summary"
fi
