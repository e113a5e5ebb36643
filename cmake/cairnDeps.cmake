# The libraries libcairn is built on, as imported targets named
# PkgConfig::cairn_<dep>. Included by the build and, installed, by
# cairnConfig.cmake, so that cairn::cairn_static (which lists them) resolves
# in a user's project; the cairn_ prefix keeps our pkg_check_modules result
# variables out of the user's namespace (FindZLIB sets ZLIB_FOUND, ...).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
# libcrypto and libmicrohttpd are not among them: libcairn loads them at run
# time (dlopen) when a key is installed or the HTTP API started, and needs
# only their headers to build (CMakeLists.txt).
foreach(_cairn_dep uv:libuv msgpack:msgpack urcu:liburcu-bp zlib:zlib jansson:jansson
                  pcre2:libpcre2-8)
  string(REPLACE ":" ";" _cairn_dep "${_cairn_dep}")
  list(GET _cairn_dep 0 _cairn_name)
  list(GET _cairn_dep 1 _cairn_module)
  if(NOT TARGET PkgConfig::cairn_${_cairn_name})
    pkg_check_modules(cairn_${_cairn_name} REQUIRED IMPORTED_TARGET ${_cairn_module})
  endif()
endforeach()
unset(_cairn_dep)
unset(_cairn_name)
unset(_cairn_module)
