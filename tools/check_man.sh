#!/bin/sh
# The man pages cannot drift from the program and the headers:
#  - cairn.1 lists exactly the commands of `cairn --help` (as `.SS "cairn X"`
#    sections) and exactly the flags of every `cairn X --help` but agent's;
#  - cairn-agent.1 lists exactly the flags of `cairn agent --help`;
#  - libcairn.3 names exactly the headers in include/cairn/;
#  - each page renders without groff warnings.
# Both sides are read mechanically, so a flag added to a command's --help (or
# a header added) fails this check until the page documents it.
# Usage: check_man.sh CAIRN_BINARY ROOT. Exit 0 when they agree, else 1.
set -u
bin=$1
root=${2:-$(cd "$(dirname "$0")/.." && pwd)}
man=$root/man
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bad=0

# Long flags in --help text (plus --help itself, which every command takes).
help_flags() { { cat; echo "--help"; } | grep -o -- '--[a-z][a-z0-9-]*' | sort -u; }
# Long flags a page documents: roff's \- is a dash; comments are skipped.
page_flags() { grep -v '^\.\\"' "$1" | sed 's/\\-/-/g' | grep -o -- '--[a-z][a-z0-9-]*' | sort -u; }
# Compares two sorted lists; names each difference.
compare() { # WHAT EXPECTED(from the program) ACTUAL(from the page) PAGE
  comm -23 "$2" "$3" | sed "s|^|$4: missing $1 (the program has it): |" >>"$tmp/out"
  comm -13 "$2" "$3" | sed "s|^|$4: lists $1 the program does not have: |" >>"$tmp/out"
}
: >"$tmp/out"

"$bin" --help >"$tmp/usage" || { echo "man: $bin --help failed"; exit 1; }
sed -n '/^commands:/,/^$/s/^  \([a-z][a-z0-9-]*\) .*/\1/p' "$tmp/usage" | sort -u >"$tmp/cmds"
[ -s "$tmp/cmds" ] || { echo "man: no commands read from $bin --help"; exit 1; }
grep -v '^\.\\"' "$man/cairn.1" | sed 's/\\-/-/g' |
  sed -n 's/^\.SS "cairn \([a-z][a-z0-9-]*\).*/\1/p' | sort -u >"$tmp/page_cmds"
compare command "$tmp/cmds" "$tmp/page_cmds" cairn.1

: >"$tmp/cli_help"
for c in $(cat "$tmp/cmds"); do
  [ "$c" = agent ] && continue
  "$bin" "$c" --help >>"$tmp/cli_help" 2>&1
done
help_flags <"$tmp/cli_help" >"$tmp/cli_flags"
page_flags "$man/cairn.1" >"$tmp/cli_page"
compare flag "$tmp/cli_flags" "$tmp/cli_page" cairn.1

"$bin" agent --help 2>&1 | help_flags >"$tmp/agent_flags"
page_flags "$man/cairn-agent.1" >"$tmp/agent_page"
compare flag "$tmp/agent_flags" "$tmp/agent_page" cairn-agent.1

(cd "$root/include" && ls cairn/*.h) | sort -u >"$tmp/headers"
grep -v '^\.\\"' "$man/libcairn.3" | grep -o 'cairn/[a-z0-9_]*\.h' | sort -u >"$tmp/page_headers"
compare header "$tmp/headers" "$tmp/page_headers" libcairn.3

for p in "$man"/*.[1-8]; do
  groff -man -ww -z "$p" 2>&1 | sed "s|^|$(basename "$p"): groff: |" >>"$tmp/out"
done

if [ -s "$tmp/out" ]; then
  cat "$tmp/out"
  bad=1
else
  echo "man: cairn.1 ($(wc -l <"$tmp/cmds") commands, $(wc -l <"$tmp/cli_flags") flags), cairn-agent.1 ($(wc -l <"$tmp/agent_flags") flags), libcairn.3 ($(wc -l <"$tmp/headers") headers) agree with the program and include/cairn"
fi
exit $bad
