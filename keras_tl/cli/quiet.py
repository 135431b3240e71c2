"""Keep TensorFlow's start-up chatter (C++ logs written before any log level applies) off the terminal."""

from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def silenced_stderr(enabled: bool = True):
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow_quietly(enabled: bool = True) -> None:
    with silenced_stderr(enabled):
        import tensorflow  # noqa: F401
        import keras  # noqa: F401
