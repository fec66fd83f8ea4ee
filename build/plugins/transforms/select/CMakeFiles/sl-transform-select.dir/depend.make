# Empty dependencies file for sl-transform-select.
# This may be replaced when dependencies are built.
