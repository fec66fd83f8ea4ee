file(REMOVE_RECURSE
  "CMakeFiles/sluice_core.dir/batch.c.o"
  "CMakeFiles/sluice_core.dir/batch.c.o.d"
  "CMakeFiles/sluice_core.dir/cli.c.o"
  "CMakeFiles/sluice_core.dir/cli.c.o.d"
  "CMakeFiles/sluice_core.dir/engine.c.o"
  "CMakeFiles/sluice_core.dir/engine.c.o.d"
  "CMakeFiles/sluice_core.dir/flush.c.o"
  "CMakeFiles/sluice_core.dir/flush.c.o.d"
  "CMakeFiles/sluice_core.dir/host.c.o"
  "CMakeFiles/sluice_core.dir/host.c.o.d"
  "CMakeFiles/sluice_core.dir/json.c.o"
  "CMakeFiles/sluice_core.dir/json.c.o.d"
  "CMakeFiles/sluice_core.dir/log.c.o"
  "CMakeFiles/sluice_core.dir/log.c.o.d"
  "CMakeFiles/sluice_core.dir/registry.c.o"
  "CMakeFiles/sluice_core.dir/registry.c.o.d"
  "CMakeFiles/sluice_core.dir/supervisor.c.o"
  "CMakeFiles/sluice_core.dir/supervisor.c.o.d"
  "CMakeFiles/sluice_core.dir/table.c.o"
  "CMakeFiles/sluice_core.dir/table.c.o.d"
  "CMakeFiles/sluice_core.dir/valtext.c.o"
  "CMakeFiles/sluice_core.dir/valtext.c.o.d"
  "libsluice_core.a"
  "libsluice_core.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/sluice_core.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
