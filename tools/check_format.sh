#!/bin/sh
# STYLE.md: every C file is formatted by the checked-in .clang-format.
# Lists each file clang-format would change and exits 1; `make format` fixes.
set -u
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || exit 2
command -v clang-format >/dev/null || { echo "format: clang-format is not installed (make deps)"; exit 1; }
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  files=$(git ls-files --cached --others --exclude-standard '*.c' '*.h')
else
  files=$(find src include tests fuzz bench tools examples -name '*.[ch]' 2>/dev/null)
fi
# One clang-format run for all files; it names each file it would change.
out=$(echo "$files" | xargs clang-format --dry-run -Werror 2>&1)
if [ -n "$out" ]; then
  named=$(echo "$out" | sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error: code should be clang-formatted.*/\1/p' | sort -u)
  if [ -n "$named" ]; then echo "$named" | sed 's/$/: not clang-formatted (make format)/'; else echo "$out"; fi
  exit 1
fi
echo "format: $(echo "$files" | wc -w) files clean"
