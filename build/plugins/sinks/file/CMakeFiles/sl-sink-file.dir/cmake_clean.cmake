file(REMOVE_RECURSE
  "../../sl-sink-file.pdb"
  "../../sl-sink-file.so"
  "CMakeFiles/sl-sink-file.dir/file.c.o"
  "CMakeFiles/sl-sink-file.dir/file.c.o.d"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/sl-sink-file.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
