# sluice_add_plugin(<name> KIND <source|transform|sink|notifier> SOURCES a.c ... [LIBS ...])
# Builds target <name> as a MODULE named sl-<kind>-<name>.so (the name the engine's loader looks
# for), with hidden visibility so that only sl_plugin_descriptor() is exported, against
# Sluice::plugin. Installed with the SDK (lib/cmake/Sluice) and used inside the Sluice tree too.
function(sluice_add_plugin name)
  cmake_parse_arguments(P "" "KIND" "SOURCES;LIBS" ${ARGN})
  if(NOT P_KIND MATCHES "^(source|transform|sink|notifier)$")
    message(FATAL_ERROR "sluice_add_plugin(${name}): KIND must be source, transform, sink or notifier")
  endif()
  if(NOT name MATCHES "^[a-z0-9_-]+$")
    message(FATAL_ERROR "sluice_add_plugin(${name}): a plugin name is [a-z0-9_-]+")
  endif()
  if(NOT P_SOURCES)
    message(FATAL_ERROR "sluice_add_plugin(${name}): no SOURCES")
  endif()
  add_library(${name} MODULE ${P_SOURCES})
  set_target_properties(${name} PROPERTIES PREFIX "" SUFFIX ".so"
    OUTPUT_NAME "sl-${P_KIND}-${name}" C_VISIBILITY_PRESET hidden CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON POSITION_INDEPENDENT_CODE ON)
  target_link_libraries(${name} PRIVATE Sluice::plugin ${P_LIBS})
endfunction()
