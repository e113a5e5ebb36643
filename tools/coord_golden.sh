#!/bin/sh
# Regenerates tests/vectors/coord_golden.txt from Serf's Go coordinate package
# (needs the Debian golang-github-hashicorp-serf-dev sources and a Go
# toolchain; offline, GOPATH mode). See tools/coord_golden/golden_test.go.
set -eu
src=${SERF_SRC:-/usr/share/gocode/src/github.com/hashicorp/serf/coordinate}
repo=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
pkg=$scratch/src/github.com/hashicorp/serf/coordinate
mkdir -p "$pkg"
cp "$src"/*.go "$pkg"/
# Route the random direction through a hook the harness can set.
sed -i 's/rand\.Float64() - 0\.5/randFloat() - 0.5/' "$pkg/coordinate.go"
grep -q 'randFloat() - 0.5' "$pkg/coordinate.go"
printf '\nvar randFloat = rand.Float64\n' >>"$pkg/coordinate.go"
cp "$repo/tools/coord_golden/golden_test.go" "$pkg/"
cd "$pkg"
GOLDEN_OUT=$repo/tests/vectors/coord_golden.txt GO111MODULE=off GOFLAGS= \
  GOPATH=$scratch:/usr/share/gocode go test -count=1 -run TestGolden .
echo "wrote $repo/tests/vectors/coord_golden.txt"
