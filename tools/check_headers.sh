#!/bin/sh
# STYLE.md: every public header is self-contained. Compiles each
# include/cairn/*.h on its own as C11; exits 1 naming any that does not.
set -u
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cc=${CC:-cc}
bad=0
for h in "$root"/include/cairn/*.h; do
  if ! printf '#include "cairn/%s"\n' "$(basename "$h")" |
       "$cc" -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -fsyntax-only -I"$root/include" -x c - 2>/tmp/hdr.$$; then
    echo "$(basename "$h"): not self-contained:"; cat /tmp/hdr.$$; bad=1
  fi
done
rm -f /tmp/hdr.$$
[ $bad = 0 ] && echo "headers: each compiles alone"
exit $bad
