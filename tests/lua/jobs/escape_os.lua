os.execute("touch " .. env("SL_TEST_MARK"))
return {}
