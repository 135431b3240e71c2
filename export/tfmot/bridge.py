"""The Keras 3 <-> tf_keras bridge (docs/compression.md).

TFMOT only accepts tf_keras models with a flat graph. ``to_tf_keras`` walks a Keras 3 functional model, creates the
same layers in tf_keras, calls them on the same connections (inlining a nested base model, so the result is always
flat), and copies the weights. ``check_same_outputs`` proves the two compute the same function, and
``copy_weights_to_keras`` brings weights changed in tf_keras (pruned, fine-tuned) back into the Keras 3 model.
"""

from __future__ import annotations

import keras
import numpy as np

from keras_tl.export.tfmot.layers import CONFIG_CARRIES_STATE, BridgeError, tf_keras_layer
from keras_tl.export.tfmot.legacy import tfmot_and_tf_keras

EQUALITY_TOLERANCE = 1e-5


def to_tf_keras(model: keras.Model):
    """A flat tf_keras model computing the same function as ``model``, with its weights copied."""
    _, tf_keras = tfmot_and_tf_keras()
    _require_image_only(model)
    source = model.inputs[0]
    image = tf_keras.Input(shape=tuple(source.shape[1:]), dtype=source.dtype, name=source.name)
    created: dict[int, object] = {}
    outputs = _rebuild(model, [image], created)
    rebuilt = tf_keras.Model(image, outputs, name=model.name)
    for layer in leaf_layers(model):
        _copy_layer_weights(layer, rebuilt.get_layer(layer.name))
    return rebuilt


def leaf_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Every layer of ``model`` that is not itself a model, nested bases included, in graph order."""
    out = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            out += leaf_layers(layer)
        elif not isinstance(layer, keras.layers.InputLayer):
            out.append(layer)
    return out


def copy_weights_to_keras(tf_keras_model, model: keras.Model) -> None:
    """Copy every layer's weights from a (pruned/fine-tuned, TFMOT-stripped) tf_keras model into ``model``."""
    for layer in leaf_layers(model):
        if layer.weights and type(layer).__name__ not in CONFIG_CARRIES_STATE:
            _copy_layer_weights(tf_keras_model.get_layer(layer.name), layer)


def check_same_outputs(model: keras.Model, tf_keras_model, images: np.ndarray,
                       tolerance: float = EQUALITY_TOLERANCE) -> float:
    """max |difference| of the two models' outputs on ``images``; raises BridgeError above ``tolerance``."""
    expected = np.asarray(model(images, training=False))
    actual = np.asarray(tf_keras_model(images, training=False))
    diff = float(np.max(np.abs(expected - actual)))
    if not diff <= tolerance:
        raise BridgeError(f"the tf_keras rebuild of {model.name} differs from the Keras 3 model by {diff:.3g} "
                          f"(tolerance {tolerance:g}) on {len(images)} images")
    return diff


def _rebuild(functional: keras.Model, inputs: list, created: dict[int, object]):
    def as_tf_keras(operation):
        if isinstance(operation, keras.Model):
            if not hasattr(operation, "_run_through_graph"):
                raise BridgeError(f"nested model '{operation.name}' is subclassed, not functional: its graph "
                                  "cannot be rebuilt in tf_keras")
            return lambda *args, **kwargs: _rebuild(operation, keras.tree.flatten(args), created)
        if not isinstance(operation, keras.layers.Layer):
            raise BridgeError(f"'{operation.name}' is a keras.ops call ({type(operation).__name__}), not a layer: "
                              "tf_keras cannot rebuild it; wrap it in a layer")
        if id(operation) not in created:
            created[id(operation)] = tf_keras_layer(operation)
        layer = created[id(operation)]
        # tf_keras decides training vs inference from fit/predict (and BatchNorm's trainable flag) itself.
        return lambda *args, **kwargs: layer(*args, **{k: v for k, v in kwargs.items() if k != "training"})

    # Keras 3 runs its functional graph node by node through this hook; each node here calls a tf_keras layer.
    return functional._run_through_graph(inputs, operation_fn=as_tf_keras)


def _copy_layer_weights(source, target) -> None:
    if type(source).__name__ in CONFIG_CARRIES_STATE:
        return
    values = [np.asarray(w) for w in source.get_weights()]
    expected = [tuple(w.shape) for w in target.get_weights()]
    if [v.shape for v in values] != expected:
        raise BridgeError(f"layer '{source.name}': weights {[v.shape for v in values]} do not fit the rebuilt "
                          f"layer's {expected}")
    target.set_weights(values)


def _require_image_only(model: keras.Model) -> None:
    names = [t.name for t in model.inputs]
    if len(names) != 1 or len(model.outputs) != 1:
        raise BridgeError(f"pruning and QAT support image-only models with one input and one output; this model "
                          f"takes {', '.join(names)} (image+text models cannot be rebuilt in tf_keras: export "
                          "them without --prune/--qat)")
