#!/bin/sh
# DESIGN.md "Names": the library's linker namespace is cairn_ only.
#  - every global symbol libcairn defines starts with cairn_ (public API) or
#    cairn__ (library-internal, never declared in include/cairn/);
#  - every cairn_ (single underscore) symbol it defines is declared in a
#    public header, and every function a public header declares is defined.
# For the shared library (LIB ending in .so*) the dynamic symbol table is
# read instead, and it must hold exactly the public API: no cairn__ name, no
# other name, every public function exported, each at version CAIRN_0, and
# the SONAME libcairn.so.<major>.
# Usage: check_symbols.sh LIBCAIRN.a|LIBCAIRN.so ROOT. Exit 0 when clean,
# else lists each offender and exits 1.
set -u
lib=$1
root=${2:-$(cd "$(dirname "$0")/.." && pwd)}
cc=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bad=0

case "$lib" in
*.so | *.so.*) shared=1 ;;
*) shared=0 ;;
esac
if [ $shared = 1 ]; then
  # Dynamic symbols as name@@VERSION; the version node itself is an A symbol.
  nm -D --defined-only "$lib" 2>/dev/null | awk 'NF == 3 && $2 != "A" { print $3 }' |
    sort -u >"$tmp/versioned"
  sed 's/@.*//' "$tmp/versioned" | sort -u >"$tmp/defined"
else
  nm -g --defined-only "$lib" 2>/dev/null | awk 'NF == 3 { print $3 }' | sort -u >"$tmp/defined"
fi
[ -s "$tmp/defined" ] || { echo "symbols: no symbols read from $lib"; exit 1; }

# Function declarations of the public headers, as the compiler sees them.
printf '#include "cairn/cairn.h"\n#include "cairn/loop_uv.h"\n' >"$tmp/all.c"
# -aux-info is GCC's: under clang (the ASan build) use gcc, which
# build-essential always brings.
"$cc" --version 2>/dev/null | grep -qi clang && cc=gcc
"$cc" -std=c11 -D_GNU_SOURCE -I"$root/include" -fsyntax-only -aux-info "$tmp/aux" "$tmp/all.c" ||
  { echo "symbols: public headers do not compile"; exit 1; }
grep "$root/include/cairn/" "$tmp/aux" | grep -v ' static ' |
  sed -n 's/.*[ *]\(cairn_[A-Za-z0-9_]*\) *(.*/\1/p' | sort -u >"$tmp/declared"
# Public data symbols (extern variables) would be listed here too.
grep -hE '^extern [^(]*\bcairn_[A-Za-z0-9_]+;' "$root"/include/cairn/*.h |
  sed 's/.*\(cairn_[A-Za-z0-9_]*\);.*/\1/' >>"$tmp/declared"
sort -u -o "$tmp/declared" "$tmp/declared"

grep -v '^cairn_' "$tmp/defined" | sed 's/^/outside the cairn_ prefix: /' >"$tmp/out"
grep '^cairn_[^_]' "$tmp/defined" | comm -23 - "$tmp/declared" |
  sed 's/^/public name not declared in include\/cairn (make it cairn__ or declare it): /' >>"$tmp/out"
comm -13 "$tmp/defined" "$tmp/declared" | sed 's/^/declared in include\/cairn but not defined: /' >>"$tmp/out"
grep -n 'cairn__[A-Za-z0-9_]' "$root"/include/cairn/*.h | sed 's/^/internal name in a public header: /' >>"$tmp/out"
if [ $shared = 1 ]; then
  grep '^cairn__' "$tmp/defined" | sed 's/^/internal name exported by the shared library: /' >>"$tmp/out"
  grep -v '@@CAIRN_0$' "$tmp/versioned" | sed 's/^/exported without version CAIRN_0: /' >>"$tmp/out"
  soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
  echo "$soname" | grep -qx 'libcairn\.so\.[0-9][0-9]*' ||
    echo "SONAME is \"$soname\", expected libcairn.so.<major>" >>"$tmp/out"
fi
if [ -s "$tmp/out" ]; then
  cat "$tmp/out"; bad=1
else
  if [ $shared = 1 ]; then
    echo "symbols: $(basename "$lib") ($soname) exports $(grep -c '^cairn_[^_]' "$tmp/defined") public symbols at CAIRN_0, exactly the functions of include/cairn, nothing internal"
  else
    echo "symbols: $(grep -c '^cairn_[^_]' "$tmp/defined") public, $(grep -c '^cairn__' "$tmp/defined") internal (cairn__), none outside"
  fi
fi
exit $bad
