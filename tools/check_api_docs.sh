#!/bin/sh
# STYLE.md "Comments": every public function has a contract. Each function
# declared in include/cairn/*.h must sit under a comment: the comment ends
# on the line before its declaration, or before the group of declarations
# (no blank line between) it belongs to. Exits 1 naming each bare one.
# Usage: check_api_docs.sh ROOT
set -u
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
out=$(for h in "$root"/include/cairn/*.h; do
  awk -v f="$(basename "$h")" '
    /^[ \t]*$/ { documented = 0; next }      # a blank line ends a group
    /\*\/[ \t]*$/ { documented = 1; next }   # a comment ends here
    /^[A-Za-z_][A-Za-z0-9_ *]*[ *]cairn_[A-Za-z0-9_]+[ \t]*\(/ && !/^typedef/ {
      n++
      if (!documented) {
        match($0, /cairn_[A-Za-z0-9_]+[ \t]*\(/)
        name = substr($0, RSTART, RLENGTH - 1)
        printf "%s:%d: %s has no contract comment\n", f, NR, name
      }
    }
    END { printf "#%d\n", n }' "$h"
done)
bad=$(echo "$out" | grep -v '^#')
total=$(echo "$out" | sed -n 's/^#//p' | awk '{ s += $1 } END { print s }')
if [ -n "$bad" ]; then
  echo "$bad"
  exit 1
fi
echo "api docs: $total public function declarations, each under a contract comment"
