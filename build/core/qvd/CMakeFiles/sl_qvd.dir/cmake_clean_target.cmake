file(REMOVE_RECURSE
  "libsl_qvd.a"
)
