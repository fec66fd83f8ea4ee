# Empty compiler generated dependencies file for sl-sink-file.
# This may be replaced when dependencies are built.
