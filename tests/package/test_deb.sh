#!/bin/sh
# Builds the Debian packages (tools/build_deb.sh: scratch copy of the tree,
# dpkg-buildpackage -b -us -uc, lintian with no errors allowed), unpacks them
# into a scratch root (dpkg -x, nothing is installed on this machine), checks
# what each package holds, and builds two examples shipped by libcairn-dev
# against the unpacked libcairn-dev (pkg-config and find_package) and runs
# them on the unpacked libcairn0.
# Usage: test_deb.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
src=$2
cc=${CC:-cc}
for t in dpkg-buildpackage dh lintian fakeroot; do
  command -v $t >/dev/null || { echo "FAIL: $t is missing (make deps installs it)"; exit 1; }
done
tmp=$(mktemp -d /tmp/cairn-debtest.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

out=$build/deb
JOBS=${JOBS:-2} "$src/tools/build_deb.sh" "$out" || fail "package build"

root=$tmp/root
for d in cairn libcairn0 libcairn-dev; do
  deb=$(ls "$out"/${d}_*.deb)
  dpkg -x "$deb" "$root"
  echo "$d: $(dpkg-deb -f "$deb" Version), Depends: $(dpkg-deb -f "$deb" Depends)"
done
# libcrypto and libmicrohttpd are loaded with dlopen: no NEEDED entry, but
# the packages that load them must still depend on them (debian/rules).
for d in cairn libcairn0; do
  deps=$(dpkg-deb -f "$out"/${d}_*.deb Depends)
  for want in libssl3 libmicrohttpd12; do
    echo "$deps" | grep -q "\b$want" || fail "$d does not depend on $want (dlopen'ed)"
  done
done
triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
lib=usr/lib/$triplet
for f in usr/bin/cairn lib/systemd/system/cairn-agent.service etc/default/cairn-agent \
         var/lib/cairn usr/share/man/man1/cairn.1.gz usr/share/man/man1/cairn-agent.1.gz \
         $lib/libcairn.so.0 usr/include/cairn/cairn.h $lib/libcairn.so $lib/libcairn.a \
         $lib/pkgconfig/cairn.pc $lib/cmake/cairn/cairnConfig.cmake \
         usr/share/man/man3/libcairn.3.gz usr/share/doc/libcairn-dev/examples/mt_client.c; do
  [ -e "$root/$f" ] || fail "no package ships /$f"
done
grep -q '^User=cairn$' "$root/lib/systemd/system/cairn-agent.service" || fail "unit: no User=cairn"
grep -q '^StateDirectory=cairn$' "$root/lib/systemd/system/cairn-agent.service" ||
  fail "unit: no StateDirectory"
dpkg-deb -I "$out"/cairn_*.deb postinst | grep -q 'adduser --system' || fail "no cairn user"
"$root/usr/bin/cairn" --help >/dev/null || fail "packaged cairn --help"
# The symbols file covers the library's version node.
dpkg-deb -I "$out"/libcairn0_*.deb symbols | grep -q '^ CAIRN_0@CAIRN_0 ' || fail "no symbols file"
# The shared library in the package exports exactly the public API.
"$src/tools/check_symbols.sh" "$root/$lib/libcairn.so.0" "$src" || fail "packaged library symbols"

# Build against the unpacked libcairn-dev: pkg-config (the .pc says
# prefix=/usr; the sysroot maps it into the scratch root) and find_package.
export PKG_CONFIG_PATH="$root/$lib/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$root"
export LD_LIBRARY_PATH="$root/$lib"
ex=$root/usr/share/doc/libcairn-dev/examples
for p in mt_client sim_test; do
  # shellcheck disable=SC2046
  "$cc" -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Wno-unused-parameter -Werror "$ex/$p.c" \
    -o "$tmp/$p" $(pkg-config --cflags --libs cairn) -pthread || fail "pkg-config build of $p"
  ldd "$tmp/$p" | grep -q "libcairn.so.0 => $root/$lib/libcairn.so.0" || fail "$p: not on the packaged .so"
  "$tmp/$p" >"$tmp/out" || { cat "$tmp/out"; fail "$p (pkg-config) failed"; }
  echo "package, pkg-config: $p: $(tail -1 "$tmp/out")"
done
unset PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_PATH
cmake -S "$ex" -B "$tmp/cm" -DCMAKE_PREFIX_PATH="$root/usr" -DCMAKE_C_COMPILER="$cc" \
  >"$tmp/cm.log" 2>&1 || { cat "$tmp/cm.log"; fail "find_package(cairn) from the package"; }
cmake --build "$tmp/cm" -j 2 --target mt_client sim_test >"$tmp/cm.log" 2>&1 ||
  { cat "$tmp/cm.log"; fail "cmake build against the package"; }
for p in mt_client sim_test; do
  "$tmp/cm/$p" >"$tmp/out" || { cat "$tmp/out"; fail "$p (find_package) failed"; }
  echo "package, find_package: $p: $(tail -1 "$tmp/out")"
done
echo "package: cairn, libcairn0, libcairn-dev built, lintian clean of errors, examples built against libcairn-dev and ran"
