"""Start quantization-aware training from measured activation ranges instead of TFMOT's initial [-6, 6].

TFMOT's activation quantizers move their ranges by an exponential moving average with decay 0.999, so a fine-tune
of a few hundred steps leaves them close to [-6, 6]: larger activations are clipped and small ones (preprocessed
pixels, logits) lose resolution. As post-training quantization does, measure each quantized tensor's range on
representative images with the float model, and start from there; the QAT fine-tune then adapts the weights.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from keras_tl.export.tfmot.legacy import tfmot_and_tf_keras

# Quantizer variable prefix -> which tensor of the wrapped layer it quantizes.
_LAYER_OUTPUT = ("output", "post_activation")
_PRE_ACTIVATION = "pre_activation"


def calibrate_ranges(qat_model, float_model, images: np.ndarray, batch_size: int) -> int:
    """Set the activation ranges of ``qat_model`` to those ``float_model`` shows on ``images``; returns how many."""
    _, tf_keras = tfmot_and_tf_keras()
    pairs, tensors = [], []
    for layer in qat_model.layers:
        for prefix, (low, high) in _range_variables(layer).items():
            tensor = _float_tensor(layer, prefix, float_model, tf_keras)
            if tensor is not None:
                pairs.append((low, high))
                tensors.append(tensor)
    if not pairs:
        return 0
    probe = tf_keras.Model(float_model.inputs, tensors)

    @tf.function
    def batch_ranges(batch):
        outputs = probe(batch, training=False)
        return tf.stack([tf.reduce_min(t) for t in outputs]), tf.stack([tf.reduce_max(t) for t in outputs])

    lows, highs = np.full(len(pairs), np.inf), np.full(len(pairs), -np.inf)
    for start in range(0, len(images), batch_size):
        low, high = batch_ranges(tf.constant(images[start:start + batch_size]))
        lows, highs = np.minimum(lows, low.numpy()), np.maximum(highs, high.numpy())
    for (low_var, high_var), low, high in zip(pairs, lows, highs):
        # TFLite needs 0 inside every range (zero padding, ReLU).
        low_var.assign(min(float(low), 0.0))
        high_var.assign(max(float(high), 0.0))
    return len(pairs)


def _range_variables(layer) -> dict[str, tuple]:
    """Scalar per-tensor ``<prefix>_min``/``<prefix>_max`` activation-range variables of a QAT layer, by prefix."""
    found: dict[str, dict[str, object]] = {}
    for variable in layer.non_trainable_weights:
        short = variable.name.split("/")[-1].split(":")[0]
        prefix, _, end = short.rpartition("_")
        if end in ("min", "max") and variable.shape.rank == 0:
            found.setdefault(prefix, {})[end] = variable
    return {prefix: (v["min"], v["max"]) for prefix, v in found.items() if len(v) == 2}


def _float_tensor(layer, prefix: str, float_model, tf_keras):
    """The float model's tensor that ``layer``'s ``prefix`` quantizer sees, or None for weight quantizers."""
    tfmot, _ = tfmot_and_tf_keras()
    quantize = tfmot.quantization.keras
    if isinstance(layer, quantize.QuantizeWrapperV2):
        source = float_model.get_layer(layer.layer.name)
        if prefix in _LAYER_OUTPUT:
            return source.output
        if prefix == _PRE_ACTIVATION:
            return _without_activation(source, tf_keras)(source.input)
        return None
    if type(layer).__name__ == "QuantizeLayer" and layer.input.name == float_model.input.name:
        return float_model.input
    return None


def _without_activation(layer, tf_keras):
    twin = type(layer).from_config({**layer.get_config(), "activation": "linear", "name": f"{layer.name}_logits"})
    twin.build(layer.input.shape)
    twin.set_weights(layer.get_weights())
    return twin
