"""Seeds and determinism: a rerun on CPU with the same config gives the same metrics."""

from __future__ import annotations

import keras
import tensorflow as tf

_determinism_on = False


def seed_everything(seed: int, deterministic: bool) -> None:
    global _determinism_on
    keras.utils.set_random_seed(seed)
    if deterministic and not _determinism_on:
        tf.config.experimental.enable_op_determinism()
        _determinism_on = True
