#!/bin/sh
# Checks DESIGN.md's layering: each src/<layer> includes only headers of the
# layers it may use, and protocol layers never touch libuv, sockets or
# clocks directly (they see the world only through src/loop).
# Exit 0 when clean; otherwise lists each violation and exits 1.
set -u
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || exit 2

# Which layer owns a public header (include/cairn/<name>.h).
header_layer() {
  case "$1" in
    error|alloc|log|rng|time|buf|addr|cluster|pinger|cairn) echo base ;;
    loop|loop_uv|sim) echo loop ;;
    coord) echo coord ;;
    wire*|keyring) echo wire ;;
    memberlist|broadcast) echo memberlist ;;
    serf|serf_*) case "$1" in serf_adapter) echo servers ;; *) echo serf ;; esac ;;
    server|manager|router|flooder|pinger_tcp) echo servers ;;
    serfrpc*) echo serfrpc ;;
    agent*) echo agent ;;
    *) echo unknown ;;
  esac
}

allowed() { # layer -> space-separated layers it may include
  case "$1" in
    base) echo "base" ;;
    coord) echo "base coord" ;;
    wire) echo "base coord wire" ;;
    loop) echo "base loop" ;;
    memberlist) echo "base wire loop memberlist" ;;
    serf) echo "base coord wire loop memberlist serf" ;;
    servers) echo "base coord loop servers" ;;
    serfrpc) echo "base coord wire loop servers serfrpc" ;;
    agent|cli) echo "base coord wire loop memberlist serf servers serfrpc agent cli" ;;
  esac
}

bad=0
for dir in src/*/; do
  layer=$(basename "$dir")
  ok=$(allowed "$layer")
  for f in "$dir"*.c "$dir"*.h; do
    [ -e "$f" ] || continue
    # Public headers.
    for h in $(sed -n 's/^#include "cairn\/\([a-z_0-9]*\)\.h".*/\1/p' "$f"); do
      hl=$(header_layer "$h")
      case " $ok " in *" $hl "*) ;; *)
        echo "$f: includes cairn/$h.h (layer $hl), not allowed for $layer"; bad=1 ;;
      esac
    done
    # Internal headers of other layers ("wire/foo.h").
    for h in $(sed -n 's/^#include "\([a-z_]*\)\/[a-z_0-9]*\.h".*/\1/p' "$f" | grep -v "^cairn$"); do
      case " $ok " in *" $h "*) ;; *)
        echo "$f: includes internal header of $h, not allowed for $layer"; bad=1 ;;
      esac
    done
    case "$layer" in
      memberlist|serf|servers|coord|wire)
        if grep -nE '#include <(uv\.h|sys/socket\.h|netinet/|netdb\.h)>|clock_gettime|cairn_monotonic_now|gettimeofday|[^_]time\(NULL\)' "$f"; then
          echo "$f: protocol code touches the world directly (use src/loop)"; bad=1
        fi ;;
    esac
  done
done
[ $bad = 0 ] && echo "layers: clean"
exit $bad
