# Empty dependencies file for sl-source-generator.
# This may be replaced when dependencies are built.
