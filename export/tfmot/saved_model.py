"""The SavedModel that export's TFLite converter (keras_tl.export.tflite) reads, of a Keras 3 model or of a tf_keras
model (the pruned or quantization-aware rebuilds), so every TFLite file comes out of that one converter."""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from keras_tl.quiet import silenced_stderr


def saved_model(model, path: Path) -> Path:
    """``model`` saved at ``path`` with one ``serving_default`` signature: a Keras 3 model's takes its own inputs,
    a tf_keras (image-only) model's takes ``image``."""
    if isinstance(model, keras.Model):
        with silenced_stderr():
            model.export(str(path), format="tf_saved_model", verbose=False)
        return path
    # tf_keras' own SavedModel export traces every layer (minutes for a MobileNetV2 QAT model). A module holding
    # only the variables and the serving function carries the same graph.
    serve = tf.function(lambda image: model(image, training=False))
    spec = tf.TensorSpec([None, *model.inputs[0].shape[1:]], model.inputs[0].dtype, name="image")
    holder = tf.Module()
    holder.variables_of_model = list(model.weights)
    holder.serve = serve
    tf.saved_model.save(holder, str(path), signatures={"serving_default": serve.get_concrete_function(spec)})
    return path
