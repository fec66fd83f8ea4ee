error("red \27[31m text\tx")
