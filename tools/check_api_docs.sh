#!/bin/sh
# STYLE.md "Comments": the public headers are the API reference, in one
# style: a comment above every public function (its contract: parameters,
# return values, ownership, thread), above every type and CAIRN_ constant at
# file scope, and above every struct field.
#  - functions, types and constants: the comment ends on the line before the
#    declaration, or before the group of declarations (no blank line
#    between) it belongs to;
#  - struct fields: a comment covers at most the three fields below it
#    (`major`, `minor`, `patch`).
# Forward declarations, enumerators and include guards are exempt. Exits 1
# naming each bare declaration.
# Usage: check_api_docs.sh ROOT
set -u
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
out=$(for h in "$root"/include/cairn/*.h; do
  awk -v f="$(basename "$h")" '
    function report(kind, what) {
      sub(/^[ \t]+/, "", what)
      printf "%s:%d: %s has no comment: %s\n", f, NR, kind, what
    }
    /^[ \t]*$/ { documented = 0; prevdoc = 0; run = 99; next }
    {
      line = $0
      comment_end = (line ~ /\*\/[ \t]*$/)
      in_comment = (line ~ /^[ \t]*(\/\*|\*)/)
      # A declaration starts after a statement, a brace or a comment.
      starts = !cont
      if (starts && !in_comment && depth == 0 && line !~ /^typedef/ &&
          line ~ /^[A-Za-z_][A-Za-z0-9_ *]*[ *]cairn_[A-Za-z0-9_]+[ \t]*\(/) {
        nf++
        if (!documented) report("function", line)
      } else if (starts && !in_comment && depth == 0 && line ~ /^(typedef|enum|struct|union) / &&
                 line !~ /^(struct|union) [A-Za-z0-9_]+;/) {
        nt++
        if (!documented) report("type", line)
        if (line ~ /^typedef (struct|union)|^(struct|union) [A-Za-z0-9_]+ \{/) instruct = 1
      } else if (depth == 0 && line ~ /^#define CAIRN_/ && line !~ /^#define CAIRN_[A-Z0-9_]*_H[ \t]*$/) {
        nc++
        if (!documented) report("constant", line)
      } else if (starts && !in_comment && depth == 1 && instruct && line ~ /^[ \t]+[A-Za-z_]/) {
        nfi++
        run = prevdoc ? 1 : run + 1
        if (run > 3) report("field", line)
      }
      if (!in_comment && line !~ /^#/) {
        o = gsub(/\{/, "{", line); c = gsub(/\}/, "}", line)
        depth += o - c
        if (depth == 0) instruct = 0
        cont = (line !~ /[;{}][ \t]*$/ && line !~ /\*\/[ \t]*$/)
      }
      if (comment_end) documented = 1
      prevdoc = comment_end
    }
    END { printf "#%d %d %d %d\n", nf, nt, nc, nfi }' "$h"
done)
bad=$(echo "$out" | grep -v '^#')
counts=$(echo "$out" | sed -n 's/^#//p' |
  awk '{ f += $1; t += $2; c += $3; d += $4 } END { print f " functions, " t " types, " c " constants, " d " struct fields" }')
if [ -n "$bad" ]; then
  echo "$bad"
  exit 1
fi
echo "api docs: $counts in include/cairn, each under a comment"
