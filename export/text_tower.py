"""Which nodes of an exported graph belong to the text tower, so that int8 can keep them in float.

Full-integer int8 of a transformer encoder is not faithful: LayerNorm, softmax and GELU activations (and the
attention mask's large negative bias) do not fit one int8 scale each. Both converters keep the layer names in their
node names (``.../tl_bert_layer_0_1/...``; every family's layers are ``tl_<family>_*``, float_scope.py), which is how
these patterns find the tower: the encoder's layers and the text pooling on top.

The default ("mixed") keeps only the tower's activations float: its matmuls and embedding lookup, which hold
nearly all of its weights, stay int8. On easy-VQA with MiniLM-L6 that file is as small as full int8 and agrees with
the Keras model as well as the all-float tower does (README, "Exporting image+text models").
"""

from __future__ import annotations

import re
from typing import Optional

import keras

from keras_tl.export.float_scope import FloatScope, layers_pattern
from keras_tl.models import TEXT_FEATURES_LAYER, text_encoder_layers


def text_tower_pattern(model: keras.Model) -> re.Pattern | None:
    """A pattern matching the graph node names of ``model``'s text tower; None for models without one."""
    names = [layer.name for layer in text_encoder_layers(model)]
    return layers_pattern([*names, TEXT_FEATURES_LAYER]) if names else None


def float_scope(model: keras.Model, scheme: str) -> Optional[FloatScope]:
    """What of ``model``'s text tower an int8 export keeps float under ``export.int8_text_tower``; None: nothing."""
    pattern = text_tower_pattern(model)
    if pattern is None or scheme == "int8":
        return None
    return FloatScope(pattern, weights_int8=scheme == "mixed")
