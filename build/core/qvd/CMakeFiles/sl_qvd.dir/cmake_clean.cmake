file(REMOVE_RECURSE
  "CMakeFiles/sl_qvd.dir/qvd_stub.c.o"
  "CMakeFiles/sl_qvd.dir/qvd_stub.c.o.d"
  "libsl_qvd.a"
  "libsl_qvd.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/sl_qvd.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
