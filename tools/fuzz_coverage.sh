#!/bin/sh
# Line coverage of the decoders by the fuzz corpora (docs/fuzzing.md).
#
#   tools/fuzz_coverage.sh BUILD_DIR
#
# BUILD_DIR is a clang build with -DCAIRN_FUZZ=ON -DCAIRN_COVERAGE=ON (make
# coverage makes one). Every fuzz_* program runs once over its checked-in
# corpus fuzz/corpus/<target>/ (-runs=0: each input once, no mutation); the
# raw profiles are merged with llvm-profdata and llvm-cov reports the line
# coverage of the decoder sources (all targets together), then of the whole
# library. Needs llvm-profdata-14 and llvm-cov-14 (or LLVM_PROFDATA, LLVM_COV).
set -eu
[ $# -eq 1 ] || { echo "usage: tools/fuzz_coverage.sh BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
profdata=${LLVM_PROFDATA:-llvm-profdata-14}
cov=${LLVM_COV:-llvm-cov-14}
prof=$build/coverage
rm -rf "$prof"
mkdir -p "$prof"

objs=
for bin in "$build"/fuzz_*; do
    case $bin in *.*) continue ;; esac
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    LLVM_PROFILE_FILE=$prof/$name.profraw "$bin" -runs=0 -rss_limit_mb=2048 -timeout=30 \
        "$root/fuzz/corpus/${name#fuzz_}" >"$prof/$name.log" 2>&1 ||
        { tail -20 "$prof/$name.log"; echo "fuzz_coverage: $name failed" >&2; exit 1; }
    if [ -z "$objs" ]; then objs=$bin; else objs="$objs -object $bin"; fi
done
"$profdata" merge -sparse "$prof"/*.profraw -o "$prof/all.profdata"

# The decoders of untrusted (or file) input: every file that turns bytes
# from a peer, a client or a file into structures.
# (src/wire/compound.c only builds compounds and src/serfrpc/server.c is the
# RPC session glue over codec.c/decode.c; no fuzz target links them.)
decoders="src/wire/crc.c src/wire/frame_compress.c src/wire/frame_mp.c
src/wire/keyring.c src/wire/lzw.c src/wire/mp_read.c src/wire/msg_common.c
src/wire/msg_memberlist.c src/wire/msg_meta.c src/wire/msg_serf.c src/wire/packet.c
src/wire/stream.c src/serfrpc/decode.c src/serfrpc/codec.c
src/agent/config.c src/agent/http_api.c src/serf/snapshot.c src/serf/filter.c
src/servers/parse.c src/servers/server.c src/coord/coord.c src/base/utf8.c
src/base/regex.c"
files=
for f in $decoders; do files="$files $root/$f"; done
echo "== decoders (line coverage by the fuzz corpora)"
# shellcheck disable=SC2086
"$cov" report $objs -instr-profile="$prof/all.profdata" $files |
    sed "s|$root/||" | awk '/^Filename/ { print "file lines missed cover"; next }
        /^[A-Za-z]/ { print $1, $8, $9, $10 }' | column -t
echo "== whole library"
# shellcheck disable=SC2086
"$cov" report $objs -instr-profile="$prof/all.profdata" -ignore-filename-regex='fuzz/|/usr/' |
    tail -1 | awk '{ print "lines", $8, "missed", $9, "cover", $10 }'
echo "(missed lines: $cov show -instr-profile=$prof/all.profdata $objs FILE)"
