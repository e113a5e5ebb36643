#!/bin/sh
# Install cairn into a scratch prefix (cmake --install, with DESTDIR as
# `make install` does), then build the examples shipped in the installed
# docs against that copy, as a user would: with pkg-config (shared library)
# and with find_package(cairn) (shared and static), and run each.
# Usage: test_install_examples.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
src=$2
cc=${CC:-cc}
tmp=$(mktemp -d /tmp/cairn-install.XXXXXX)
serf_pid=
cleanup() {
  if [ -n "$serf_pid" ]; then
    kill "$serf_pid" 2>/dev/null || true
    wait "$serf_pid" 2>/dev/null || true # 143: it was killed
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
fail() { echo "FAIL: $*"; exit 1; }

# 1. Install into a scratch prefix, as `make install PREFIX=...` does; and a
# staged install (DESTDIR, as packagers do) must hold the same files.
root=$tmp/prefix
cmake --install "$build" --prefix "$root" >"$tmp/install.log" ||
  { cat "$tmp/install.log"; fail "cmake --install"; }
DESTDIR=$tmp/stage cmake --install "$build" --prefix /usr/local >"$tmp/install.log" ||
  { cat "$tmp/install.log"; fail "cmake --install with DESTDIR"; }
[ "$(cd "$root" && find . | sort)" = "$(cd "$tmp/stage/usr/local" && find . | sort)" ] ||
  fail "DESTDIR install differs from the prefix install"
libdir=$(cd "$root" && ls -d lib*/pkgconfig | head -1 | xargs dirname)
echo "installed into $root ($(find "$root" -type f -o -type l | wc -l) files):"
(cd "$root" && find . -type f -o -type l | sort | sed 's/^\.\///')
for f in include/cairn/cairn.h include/cairn/loop_uv.h "$libdir/libcairn.a" \
         "$libdir/libcairn.so" "$libdir/libcairn.so.0" "$libdir/pkgconfig/cairn.pc" \
         "$libdir/cmake/cairn/cairnConfig.cmake" bin/cairn share/man/man1/cairn.1 \
         share/man/man1/cairn-agent.1 share/man/man3/libcairn.3 share/doc/cairn/API.md \
         share/doc/cairn/examples/mt_client.c; do
  [ -e "$root/$f" ] || fail "not installed: $f"
done
"$root/bin/cairn" --help >/dev/null || fail "installed cairn --help"
grep -q "^prefix=$root\$" "$root/$libdir/pkgconfig/cairn.pc" || fail "cairn.pc prefix"

export PKG_CONFIG_PATH="$root/$libdir/pkgconfig"
export LD_LIBRARY_PATH="$root/$libdir"
pkg-config --exists cairn || fail "pkg-config does not find cairn"
echo "pkg-config --cflags --libs cairn: $(pkg-config --cflags --libs cairn)"
echo "pkg-config --static --libs cairn: $(pkg-config --static --libs cairn)"

# A Serf agent for router_serf (a Consul server of dc1 as far as tags go).
if command -v serf >/dev/null; then
  ports=$(python3 -c 'import socket
ps = []
for _ in range(2):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); ps.append(s); print(s.getsockname()[1])')
  gossip=$(echo "$ports" | sed -n 1p)
  rpc=$(echo "$ports" | sed -n 2p)
  serf agent -node=s1.dc1 -bind=127.0.0.1:"$gossip" -rpc-addr=127.0.0.1:"$rpc" -profile=local \
    -tag role=consul -tag dc=dc1 -tag port=8300 -tag vsn=2 -tag build=1.9.1:cairn \
    >"$tmp/serf.log" 2>&1 &
  serf_pid=$!
  i=0
  until serf members -rpc-addr=127.0.0.1:"$rpc" >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -lt 100 ] || { cat "$tmp/serf.log"; fail "serf agent did not start"; }
    sleep 0.1
  done
else
  echo "SKIP: serf is not installed: router_serf is built but not run"
fi

run_examples() { # DIR HOW
  for ex in router_serf mt_client gossip_node sim_test; do
    [ -x "$1/$ex" ] || fail "$2: $ex was not built"
  done
  if [ -n "$serf_pid" ]; then
    out=$("$1/router_serf" --serf-rpc 127.0.0.1:"$rpc" dc1) || fail "$2: router_serf"
    [ "$out" = "dc1 s1.dc1 127.0.0.1:8300" ] || fail "$2: router_serf printed \"$out\""
    echo "$2: router_serf: $out"
  fi
  "$1/mt_client" >"$tmp/out" || { cat "$tmp/out"; fail "$2: mt_client"; }
  echo "$2: mt_client: $(tail -1 "$tmp/out")"
  "$1/gossip_node" >"$tmp/out" || { cat "$tmp/out"; fail "$2: gossip_node"; }
  echo "$2: gossip_node: $(wc -l <"$tmp/out") member events"
  "$1/sim_test" >"$tmp/out" || { cat "$tmp/out"; fail "$2: sim_test"; }
  echo "$2: sim_test: $(head -1 "$tmp/out")"
}

# 2. pkg-config, with the examples' own Makefile, from the installed docs.
cp -r "$root/share/doc/cairn/examples" "$tmp/pc"
CC="$cc" CFLAGS="-O2 -Wall -Wextra -Wno-unused-parameter -Werror" make -s -C "$tmp/pc" ||
  fail "pkg-config build of the examples"
ldd "$tmp/pc/mt_client" | grep -q "libcairn.so.0 => $root/$libdir/libcairn.so.0" ||
  { ldd "$tmp/pc/mt_client"; fail "mt_client does not use the installed libcairn.so.0"; }
run_examples "$tmp/pc" pkg-config

# 3. find_package(cairn): cairn::cairn (shared) and cairn::cairn_static.
for kind in shared static; do
  opt=OFF
  [ $kind = static ] && opt=ON
  cmake -S "$root/share/doc/cairn/examples" -B "$tmp/cm-$kind" -DCMAKE_PREFIX_PATH="$root" \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="-Wall -Wno-unused-parameter -Werror" \
    -DCAIRN_EXAMPLES_STATIC=$opt >"$tmp/cm.log" 2>&1 || { cat "$tmp/cm.log"; fail "cmake ($kind)"; }
  cmake --build "$tmp/cm-$kind" -j 2 >"$tmp/cm.log" 2>&1 || { cat "$tmp/cm.log"; fail "cmake build ($kind)"; }
  if [ $kind = static ]; then
    ! ldd "$tmp/cm-$kind/mt_client" | grep -q libcairn || fail "static build links libcairn.so"
  fi
  run_examples "$tmp/cm-$kind" "find_package $kind"
done
echo "install: examples built against the installed copy (pkg-config, find_package shared/static) and ran"
