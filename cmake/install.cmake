# `cmake --install` (and `make install PREFIX=... DESTDIR=...`): headers,
# libcairn.so.0 + libcairn.a, the cairn program, cairn.pc, the CMake package
# (find_package(cairn) -> cairn::cairn, cairn::cairn_static), man pages, docs
# and the examples.
include(CMakePackageConfigHelpers)

set(_cairn_libs cairn)
if(TARGET cairn_shared)
  list(PREPEND _cairn_libs cairn_shared)
endif()
install(TARGETS ${_cairn_libs} EXPORT cairnTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT lib NAMELINK_COMPONENT dev
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/cairn
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev FILES_MATCHING PATTERN "*.h")
if(TARGET cairn-cli)
  install(TARGETS cairn-cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT bin)
endif()

# pkg-config: absolute libdir/includedir stay absolute (Debian's multiarch
# libdir is relative, lib/<triplet>).
foreach(_d LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_d}}")
    set(CAIRN_PC_${_d} "${CMAKE_INSTALL_${_d}}")
  else()
    set(CAIRN_PC_${_d} "\${prefix}/${CMAKE_INSTALL_${_d}}")
  endif()
endforeach()
# The prefix is the one given at install time (cmake --install --prefix).
set(CAIRN_PC_PREFIX "@CAIRN_PC_PREFIX@")
configure_file(${PROJECT_SOURCE_DIR}/cmake/cairn.pc.in ${PROJECT_BINARY_DIR}/cairn.pc.in @ONLY)
install(CODE "set(CAIRN_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  configure_file(\"${PROJECT_BINARY_DIR}/cairn.pc.in\" \"${PROJECT_BINARY_DIR}/cairn.pc\" @ONLY)"
  COMPONENT dev)
install(FILES ${PROJECT_BINARY_DIR}/cairn.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

set(_cairn_cmakedir ${CMAKE_INSTALL_LIBDIR}/cmake/cairn)
install(EXPORT cairnTargets NAMESPACE cairn:: DESTINATION ${_cairn_cmakedir} COMPONENT dev)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/cairnConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cairnConfig.cmake INSTALL_DESTINATION ${_cairn_cmakedir})
# 0.x: a minor version may break the API; 1.x on: SameMajorVersion.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cairnConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/cairnConfig.cmake
              ${PROJECT_BINARY_DIR}/cairnConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/cmake/cairnDeps.cmake
        DESTINATION ${_cairn_cmakedir} COMPONENT dev)

install(FILES ${PROJECT_SOURCE_DIR}/man/cairn.1 ${PROJECT_SOURCE_DIR}/man/cairn-agent.1
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT bin)
install(FILES ${PROJECT_SOURCE_DIR}/man/libcairn.3
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man3 COMPONENT dev)
# Directories are listed at install time, so new docs and examples need no
# re-configure.
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT doc)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}
        COMPONENT doc FILES_MATCHING PATTERN "*.md")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples
        COMPONENT doc FILES_MATCHING PATTERN "*.c" PATTERN "CMakeLists.txt" PATTERN "Makefile")
