# Empty dependencies file for sl_qvd.
# This may be replaced when dependencies are built.
