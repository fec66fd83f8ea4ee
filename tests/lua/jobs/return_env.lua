-- The environment table has a metatable; the loader reads it raw and never triggers it.
return _ENV
