#!/bin/sh
# Checks DESIGN.md's layering over every C file and header, public
# (include/cairn/) and internal (src/<layer>/): each includes only headers of
# the layers it may use, and protocol layers never touch libuv, sockets,
# clocks, files, name resolution or processes directly (they see the world
# only through src/loop, whose simulator implementation makes them testable).
#
# One departure from DESIGN.md's table, on purpose: wire and serfrpc may
# include cairn/coord.h for the cairn_coord value type (the coordinate is a
# field of serf's ping payload and of the RPC's get-coordinate reply); they
# call no coord function.
# Exit 0 when clean; otherwise lists each violation and exits 1.
set -u
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || exit 2

# Which layer owns a public header (include/cairn/<name>.h).
header_layer() {
  case "$1" in
    error|alloc|log|rng|time|buf|addr|cluster|pinger|limits) echo base ;;
    cairn) echo all ;;
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

# The layer a public header belongs to may include only what that layer may.
bad=0
for f in include/cairn/*.h; do
  self=$(header_layer "$(basename "$f" .h)")
  [ "$self" = all ] && continue # cairn.h: the umbrella header
  ok=$(allowed "$self")
  for h in $(sed -n 's/^#include "\([a-z_]*\)\/\([a-z_0-9]*\)\.h".*/\1\/\2/p' "$f"); do
    case "$h" in
      cairn/*) hl=$(header_layer "${h#cairn/}")
        case " $ok " in *" $hl "*) ;; *)
          echo "$f: includes $h.h (layer $hl), not allowed for $self"; bad=1 ;;
        esac ;;
      *) echo "$f: a public header includes internal header $h.h"; bad=1 ;;
    esac
  done
done

# Calls that reach the world: sockets, clocks, files, name resolution,
# processes, environment. Matched as calls, not as parts of longer names.
world='(^|[^A-Za-z0-9_.>])(socket|bind|connect|accept4?|sendto|recvfrom|sendmsg|recvmsg|getaddrinfo|getnameinfo|gethostbyname2?|gethostbyaddr|res_n?query|fopen|fdopen|freopen|open|openat|creat|opendir|unlink|unlinkat|rename|renameat|mkstemp|fsync|fdatasync|ftruncate|stat|lstat|fstat|popen|system|fork|vfork|execl|execlp|execle|execv|execvp|execve|posix_spawnp?|getenv|sleep|usleep|nanosleep|clock_gettime|gettimeofday|time|getrandom) *\('

# The file without its comments (line numbers kept), so prose cannot trip it.
strip_comments() {
  perl -0777 -pe 's{/\*.*?\*/}{ (my $c = $&) =~ s/[^\n]//g; $c }gse; s{//[^\n]*}{}g' "$1"
}

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
        if grep -nE '#include <(uv\.h|sys/socket\.h|netinet/|netdb\.h|fcntl\.h|dirent\.h|spawn\.h|sys/stat\.h)>|cairn_monotonic_now' "$f" ||
           strip_comments "$f" | grep -nE "$world"; then
          echo "$f: protocol code touches the world directly (use src/loop)"; bad=1
        fi ;;
    esac
  done
done
[ $bad = 0 ] && echo "layers: clean"
exit $bad
