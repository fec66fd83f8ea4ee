file(REMOVE_RECURSE
  "../sluice"
  "../sluice.pdb"
  "CMakeFiles/sluice.dir/main.c.o"
  "CMakeFiles/sluice.dir/main.c.o.d"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/sluice.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
