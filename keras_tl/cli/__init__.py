"""The keras-tl command line."""
