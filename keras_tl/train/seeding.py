"""Seeds and determinism: a rerun on CPU with the same config gives the same metrics."""

from __future__ import annotations

import keras
import tensorflow as tf
# The public API can only switch op determinism on; Keras reads this module's flag (and refuses XLA while it is on).
from tensorflow.python.framework import config as tf_framework_config


def seed_everything(seed: int, deterministic: bool) -> None:
    keras.utils.set_random_seed(seed)
    if deterministic != tf_framework_config.is_op_determinism_enabled():
        if deterministic:
            tf.config.experimental.enable_op_determinism()
        else:
            tf_framework_config.disable_op_determinism()
