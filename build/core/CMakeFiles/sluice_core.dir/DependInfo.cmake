
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/core/batch.c" "core/CMakeFiles/sluice_core.dir/batch.c.o" "gcc" "core/CMakeFiles/sluice_core.dir/batch.c.o.d"
  "/work/main/core/cli.c" "core/CMakeFiles/sluice_core.dir/cli.c.o" "gcc" "core/CMakeFiles/sluice_core.dir/cli.c.o.d"
  "/work/main/core/engine.c" "core/CMakeFiles/sluice_core.dir/engine.c.o" "gcc" "core/CMakeFiles/sluice_core.dir/engine.c.o.d"
  "/work/main/core/flush.c" "core/CMakeFiles/sluice_core.dir/flush.c.o" "gcc" "core/CMakeFiles/sluice_core.dir/flush.c.o.d"
  "/work/main/core/host.c" "core/CMakeFiles/sluice_core.dir/host.c.o" "gcc" "core/CMakeFiles/sluice_core.dir/host.c.o.d"
  "/work/main/core/json.c" "core/CMakeFiles/sluice_core.dir/json.c.o" "gcc" "core/CMakeFiles/sluice_core.dir/json.c.o.d"
  "/work/main/core/log.c" "core/CMakeFiles/sluice_core.dir/log.c.o" "gcc" "core/CMakeFiles/sluice_core.dir/log.c.o.d"
  "/work/main/core/registry.c" "core/CMakeFiles/sluice_core.dir/registry.c.o" "gcc" "core/CMakeFiles/sluice_core.dir/registry.c.o.d"
  "/work/main/core/supervisor.c" "core/CMakeFiles/sluice_core.dir/supervisor.c.o" "gcc" "core/CMakeFiles/sluice_core.dir/supervisor.c.o.d"
  "/work/main/core/table.c" "core/CMakeFiles/sluice_core.dir/table.c.o" "gcc" "core/CMakeFiles/sluice_core.dir/table.c.o.d"
  "/work/main/core/valtext.c" "core/CMakeFiles/sluice_core.dir/valtext.c.o" "gcc" "core/CMakeFiles/sluice_core.dir/valtext.c.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/main/build/core/qvd/CMakeFiles/sl_qvd.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
