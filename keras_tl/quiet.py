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
    """Import TensorFlow with its C++ logs at FATAL only, whatever TF_CPP_MIN_LOG_LEVEL the environment sets.

    At level 2 (a common setting) TensorFlow still logs errors that are none: a failed cuInit on a machine
    without a GPU, a NodeDef attribute its own tf.data adds. Every real failure reaches Python as an exception,
    which the CLI reports in one line; ``--debug`` (enabled=False) keeps the environment's level and all logs."""
    if enabled:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # read once, when TensorFlow loads: before the import
    with silenced_stderr(enabled):
        import tensorflow  # noqa: F401
        import keras  # noqa: F401
