"""One Keras 3 layer -> the equivalent tf_keras layer, built from its translated config.

Only Keras' own layers (and keras_tl's ChannelReverse) are translated; anything else is named in a BridgeError
rather than guessed at. Weights are not part of the config: the bridge copies them afterwards.
"""

from __future__ import annotations

import functools
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_tl.export.tfmot.legacy import tfmot_and_tf_keras
from keras_tl.errors import KerasTLError
from keras_tl.models import ChannelReverse

# Keras 3 config keys that tf_keras layers do not know, and the value that means "feature not used".
_KERAS3_ONLY = {"quantization_config": None, "lora_rank": None, "lora_alpha": None}
# Layers whose state the translated config carries itself, so there are no weights to copy.
CONFIG_CARRIES_STATE = ("Normalization",)
# tf_keras knows Keras 3's "silu" only as "swish" (the same function); TFMOT's QAT registry only accepts "swish".
_ACTIVATION_NAMES = {"silu": "swish"}


class BridgeError(KerasTLError):
    """The model cannot be rebuilt in tf_keras (so TFMOT cannot prune or quantize it)."""


def tf_keras_layer(layer: keras.layers.Layer):
    """A new, unbuilt tf_keras layer with the same name and settings as ``layer``."""
    _, tf_keras = tfmot_and_tf_keras()
    if isinstance(layer, ChannelReverse):
        return channel_reverse_class()(name=layer.name, trainable=layer.trainable)
    class_name = type(layer).__name__
    target = getattr(tf_keras.layers, class_name, None)
    if target is None or not type(layer).__module__.startswith("keras."):
        raise BridgeError(f"layer '{layer.name}' ({type(layer).__module__}.{class_name}) has no tf_keras "
                          "equivalent, so TFMOT cannot prune or quantize this model")
    config = translate_config(layer, tf_keras)
    try:
        return target.from_config(config)
    except (TypeError, ValueError) as err:
        reason = str(err).strip().splitlines()[-1][:200]
        raise BridgeError(f"layer '{layer.name}' ({class_name}) cannot be rebuilt in tf_keras: {reason}") from None


def translate_config(layer: keras.layers.Layer, tf_keras) -> dict[str, Any]:
    config = dict(layer.get_config())
    config["dtype"] = layer.dtype_policy.name
    for key in list(config):
        value = config[key]
        if key.endswith("_initializer"):
            del config[key]  # the weights are copied over, so initial values never matter
        elif key in _KERAS3_ONLY:
            if value != _KERAS3_ONLY[key]:
                raise BridgeError(f"layer '{layer.name}' uses the Keras 3 feature {key}={value!r}, which "
                                  "tf_keras (and so TFMOT) does not have")
            del config[key]
        elif key.endswith(("_regularizer", "_constraint")) and value is not None:
            config[key] = _translate_object(layer, key, value, tf_keras)
        elif key == "activation" and isinstance(value, str):
            config[key] = _ACTIVATION_NAMES.get(value, value)
    if type(layer).__name__ == "BatchNormalization":
        # Keras 3 computes x * inv + (beta - mean * inv) like tf.nn.batch_normalization; tf_keras' fused kernel
        # rounds differently (1e-4 on MobileNetV2's pooled features), the unfused path gives identical outputs.
        config["fused"] = False
    if type(layer).__name__ == "Normalization":
        config["mean"] = np.asarray(layer.mean).reshape(-1)
        config["variance"] = np.asarray(layer.variance).reshape(-1)
    return config


def _translate_object(layer, key: str, value, tf_keras):
    kind = tf_keras.regularizers if key.endswith("_regularizer") else tf_keras.constraints
    try:
        return kind.get({"class_name": value["class_name"], "config": value["config"]})
    except (KeyError, TypeError, ValueError):
        raise BridgeError(f"layer '{layer.name}': {key} {value.get('class_name', value)!r} has no tf_keras "
                          "equivalent") from None


@functools.cache
def channel_reverse_class():
    """tf_keras twin of keras_tl's ChannelReverse (RGB -> BGR for caffe-mode bases), registered for TFMOT's clones."""
    _, tf_keras = tfmot_and_tf_keras()

    @tf_keras.saving.register_keras_serializable(package="keras_tl")
    class ChannelReverse(tf_keras.layers.Layer):
        def call(self, inputs):
            return tf.reverse(inputs, axis=[-1])

        def compute_output_shape(self, input_shape):
            return input_shape

    return ChannelReverse
