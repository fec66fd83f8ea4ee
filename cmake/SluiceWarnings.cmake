set(SL_WARNINGS -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes -Wno-unused-parameter)
function(sl_warnings tgt)
  target_compile_options(${tgt} PRIVATE ${SL_WARNINGS})
endfunction()
