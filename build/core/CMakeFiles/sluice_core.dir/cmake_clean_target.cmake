file(REMOVE_RECURSE
  "libsluice_core.a"
)
