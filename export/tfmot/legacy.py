"""Import TFMOT and tf_keras without switching the rest of the process to Keras 2.

Importing TFMOT sets ``TF_USE_LEGACY_KERAS=1`` in ``os.environ``. That makes ``tf.keras`` resolve to tf_keras if it
has not been resolved yet, and every subprocess started afterwards (the CLI in tests, converters) inherits it.
keras_tl itself always imports ``keras`` (Keras 3), but TF's own helpers and other libraries go through ``tf.keras``.
So: resolve ``tf.keras`` first (to whatever the user's environment chose), import TFMOT, then restore the variable.
TFMOT still gets tf_keras: it checks ``tf.keras.version()`` and imports tf_keras itself when that says 3.x.
"""

from __future__ import annotations

import functools
import os
from types import ModuleType

_ENV = "TF_USE_LEGACY_KERAS"


@functools.cache
def tfmot_and_tf_keras() -> tuple[ModuleType, ModuleType]:
    """(tensorflow_model_optimization, tf_keras), imported once per process with the environment left as found."""
    import tensorflow as tf

    getattr(tf.keras, "version", None)  # resolves the lazy tf.keras module before TFMOT flips the switch
    before = os.environ.get(_ENV)
    try:
        import tensorflow_model_optimization as tfmot
        import tf_keras
    finally:
        if before is None:
            os.environ.pop(_ENV, None)
        else:
            os.environ[_ENV] = before
    return tfmot, tf_keras
