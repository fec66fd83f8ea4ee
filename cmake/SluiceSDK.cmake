# The SDK for plugin authors: what `cmake --install` puts next to the binary and the plugins.
#   include/sluice/plugin.h, include/sluice/testhost.h   the ABI header and the mock host's API
#   lib/libsluice-testhost.so                            the mock host (testhost/)
#   lib/pkgconfig/sluice.pc, sluice-testhost.pc          pkg-config (paths of the install prefix)
#   lib/cmake/Sluice/                                    find_package(Sluice 2.0): Sluice::plugin,
#                                                        Sluice::testhost, sluice_add_plugin()
# The package version is the plugin ABI version (a plugin cares about nothing else); a request
# is satisfied by the same major only.
include(CMakePackageConfigHelpers)

# Headers-only target for plugins: the include directory, nothing to link.
add_library(sluice_plugin_api INTERFACE)
add_library(Sluice::plugin ALIAS sluice_plugin_api)
set_target_properties(sluice_plugin_api PROPERTIES EXPORT_NAME plugin)
target_include_directories(sluice_plugin_api INTERFACE
  "$<BUILD_INTERFACE:${CMAKE_SOURCE_DIR}/core/include>"
  "$<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>")
install(TARGETS sluice_plugin_api EXPORT SluiceTargets)
install(FILES core/include/sluice/plugin.h DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/sluice")

set(SL_CMAKE_INSTALL_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/Sluice")
install(EXPORT SluiceTargets NAMESPACE Sluice:: DESTINATION "${SL_CMAKE_INSTALL_DIR}")
configure_package_config_file(cmake/SluiceConfig.cmake.in
  "${CMAKE_BINARY_DIR}/sdk/SluiceConfig.cmake" INSTALL_DESTINATION "${SL_CMAKE_INSTALL_DIR}"
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_BINDIR)
write_basic_package_version_file("${CMAKE_BINARY_DIR}/sdk/SluiceConfigVersion.cmake"
  VERSION "${SL_ABI_VERSION}" COMPATIBILITY SameMajorVersion)
install(FILES "${CMAKE_BINARY_DIR}/sdk/SluiceConfig.cmake"
  "${CMAKE_BINARY_DIR}/sdk/SluiceConfigVersion.cmake" cmake/SluiceAddPlugin.cmake
  DESTINATION "${SL_CMAKE_INSTALL_DIR}")

# pkg-config files are written at install time so that `cmake --install build --prefix P` gets
# P in them, not the prefix the build was configured with.
install(CODE "
  set(SL_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  set(SL_PC_INCLUDEDIR \"${CMAKE_INSTALL_INCLUDEDIR}\")
  set(SL_PC_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
  set(SL_ABI_VERSION \"${SL_ABI_VERSION}\")
  set(PROJECT_VERSION \"${PROJECT_VERSION}\")
  configure_file(\"${CMAKE_SOURCE_DIR}/cmake/sluice.pc.in\" \"${CMAKE_BINARY_DIR}/sdk/sluice.pc\" @ONLY)
  configure_file(\"${CMAKE_SOURCE_DIR}/cmake/sluice-testhost.pc.in\"
                 \"${CMAKE_BINARY_DIR}/sdk/sluice-testhost.pc\" @ONLY)
")
install(FILES "${CMAKE_BINARY_DIR}/sdk/sluice.pc" "${CMAKE_BINARY_DIR}/sdk/sluice-testhost.pc"
  DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig")

# The same helper for plugins and examples built inside this tree.
include(cmake/SluiceAddPlugin.cmake)
