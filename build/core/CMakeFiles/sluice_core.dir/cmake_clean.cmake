file(REMOVE_RECURSE
  "CMakeFiles/sluice_core.dir/cli.c.o"
  "CMakeFiles/sluice_core.dir/cli.c.o.d"
  "CMakeFiles/sluice_core.dir/log.c.o"
  "CMakeFiles/sluice_core.dir/log.c.o.d"
  "libsluice_core.a"
  "libsluice_core.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/sluice_core.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
