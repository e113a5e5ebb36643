#!/bin/sh
# Builds the Debian packages (cairn, libcairn0, libcairn-dev) from a scratch
# copy of the source tree, so the working tree is never touched, and runs
# lintian on them. The package build compiles only the library and the
# program (CAIRN_TESTS=OFF, DEB_BUILD_OPTIONS=nocheck): `make test` is where
# the tests run.
# Usage: build_deb.sh OUTDIR. Leaves *.deb, *.changes, *.buildinfo and
# lintian.txt in OUTDIR; exits 1 when the build fails or lintian reports an
# error.
set -eu
out=$1
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=${JOBS:-2}
mkdir -p "$out"
out=$(cd "$out" && pwd)
scratch=$(mktemp -d /tmp/cairn-deb.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

# The tree as git sees it (tracked and new files, not ignored ones).
mkdir "$scratch/cairn"
if git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
  # One tar reading the list (xargs would split a long list into several
  # archives, and the reading tar stops at the end of the first).
  (cd "$root" && git ls-files -z -co --exclude-standard | tar cf - --null -T - 2>/dev/null) |
    tar xf - -C "$scratch/cairn"
else
  (cd "$root" && tar cf - --exclude='./build*' --exclude=./.git .) | tar xf - -C "$scratch/cairn"
fi

echo "deb: dpkg-buildpackage in $scratch/cairn"
start=$(date +%s)
(cd "$scratch/cairn" &&
  DEB_BUILD_OPTIONS="nocheck parallel=$jobs" dpkg-buildpackage -b -us -uc) \
  >"$out/build.log" 2>&1 || { tail -40 "$out/build.log"; echo "deb: dpkg-buildpackage failed"; exit 1; }
rm -f "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo
mv "$scratch"/*.deb "$scratch"/*.changes "$scratch"/*.buildinfo "$out"/
echo "deb: built in $(( $(date +%s) - start )) s:"
(cd "$out" && ls -1 *.deb)

# Lintian: errors fail the build; warnings are listed.
lintian --fail-on error --tag-display-limit 0 -I "$out"/*.changes >"$out/lintian.txt" 2>&1 &&
  rc=0 || rc=$?
echo "deb: lintian: $(grep -c '^E:' "$out/lintian.txt") errors, $(grep -c '^W:' "$out/lintian.txt") warnings, $(grep -c '^I:' "$out/lintian.txt") info"
cat "$out/lintian.txt"
[ $rc = 0 ] || { echo "deb: lintian reports errors"; exit 1; }
