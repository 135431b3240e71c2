class EdgeError(Exception):
    """A problem with the user's input or model, reported as one line (never a traceback)."""
