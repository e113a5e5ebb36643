#!/bin/sh
# bench/go/run.sh [BUILD_DIR]: cairn next to HashiCorp's Go code (issue 15
# items 1 and 2). Builds the Go harnesses offline in GOPATH mode over the
# Debian sources (scratch copies; HashiCorp's files are never modified),
# runs cairn's side (BUILD_DIR/gocmp_codec, gocmp_router), which writes the
# shared inputs, then the Go side on those inputs, and prints one JSON line
# per figure (bench/go/combine/main.go explains the fields). Skips with a
# message when Go or the sources are missing: Go is never a build or test
# dependency of cairn.
#
# Environment: GOCMP_ROUNDS (whole rounds, cairn's side then Go's; the
# medians over them are printed; 1), GOCMP_RUNS (runs per figure and round,
# median taken; 3),
# GOCMP_ONLY (only the codec figures whose name contains it, both sides;
# the lookups always run),
# GOCMP_SECONDS (cairn's time per codec run; 0.2), GOCMP_BENCHTIME (Go's
# -test.benchtime; 200ms), GOCMP_KEEP=DIR (keep inputs and raw lines there),
# GOCMP_MD=FILE (also write the Markdown table of docs/performance.md),
# GOCODE (the Go sources; /usr/share/gocode).
set -eu
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
gocode=${GOCODE:-/usr/share/gocode}
hc=$gocode/src/github.com/hashicorp
if ! command -v go >/dev/null 2>&1; then
  echo "bench/go: skipped, no Go toolchain (apt-get install golang-go" \
       "golang-github-hashicorp-memberlist-dev golang-github-hashicorp-serf-dev)"
  exit 0
fi
if [ ! -d "$hc/memberlist" ] || [ ! -d "$hc/serf/serf" ]; then
  echo "bench/go: skipped, no memberlist/serf sources under $gocode (apt-get install" \
       "golang-github-hashicorp-memberlist-dev golang-github-hashicorp-serf-dev)"
  exit 0
fi
for b in gocmp_codec gocmp_router; do
  [ -x "$build/$b" ] || { echo "bench/go: $build/$b missing (build cairn first)" >&2; exit 1; }
done

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
out=${GOCMP_KEEP:-$scratch/out}
mkdir -p "$out"
gp=$scratch/gopath
ml=$gp/src/github.com/hashicorp/memberlist
sf=$gp/src/github.com/hashicorp/serf/serf
mkdir -p "$ml" "$sf" "$gp/src/gocmp/router" "$gp/src/gocmp/combine"
# Scratch copies without upstream tests (they only slow the build), plus
# our files.
cp -r "$hc/memberlist/." "$ml/"
cp "$hc/serf/serf/"*.go "$sf/"
rm -f "$ml"/*_test.go "$sf"/*_test.go
cp "$here/memberlist/gocmp_export.go" "$ml/"
cp "$here/serf/gocmp_test.go" "$sf/"
cp "$here/router/main.go" "$gp/src/gocmp/router/"
cp "$here/combine/main.go" "$gp/src/gocmp/combine/"

export GO111MODULE=off GOFLAGS= GOPATH="$gp:$gocode"
case "$(go env GOCACHE 2>/dev/null)" in "" | off) export GOCACHE="$scratch/cache" ;; esac
echo "bench/go: building the Go harnesses (offline, GOPATH mode)..." >&2
(cd "$sf" && go test -c -o "$scratch/serf.test" .)
(cd "$gp/src/gocmp/router" && go build -o "$scratch/router" .)
(cd "$gp/src/gocmp/combine" && go build -o "$scratch/combine" .)

bt=${GOCMP_BENCHTIME:-200ms}
rounds=${GOCMP_ROUNDS:-1}
: >"$out/cairn.jsonl"
: >"$out/go.jsonl"
r=1
while [ "$r" -le "$rounds" ]; do
  echo "bench/go: round $r of $rounds (about 2 minutes with GOCMP_RUNS=3)..." >&2
  "$build/gocmp_codec" "$out" >>"$out/cairn.jsonl"
  GOCMP_DIR=$out "$scratch/serf.test" -test.run '^TestGocmp$' -test.benchtime="$bt" \
    >>"$out/go.jsonl"
  "$build/gocmp_router" "$out" >>"$out/cairn.jsonl"
  "$scratch/router" "$out" -test.benchtime="$bt" >>"$out/go.jsonl"
  r=$((r + 1))
done
"$scratch/combine" "$out/cairn.jsonl" "$out/go.jsonl" | tee "$out/joined.jsonl"
if [ -n "${GOCMP_MD:-}" ]; then
  "$scratch/combine" -md "$out/joined.jsonl" >"$GOCMP_MD"
fi
