file(REMOVE_RECURSE
  "../../sl-source-generator.pdb"
  "../../sl-source-generator.so"
  "CMakeFiles/sl-source-generator.dir/generator.c.o"
  "CMakeFiles/sl-source-generator.dir/generator.c.o.d"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/sl-source-generator.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
