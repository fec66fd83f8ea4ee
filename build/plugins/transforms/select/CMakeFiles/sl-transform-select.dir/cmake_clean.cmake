file(REMOVE_RECURSE
  "../../sl-transform-select.pdb"
  "../../sl-transform-select.so"
  "CMakeFiles/sl-transform-select.dir/select.c.o"
  "CMakeFiles/sl-transform-select.dir/select.c.o.d"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/sl-transform-select.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
