"""Which nodes of an exported graph belong to the BERT text tower, so that int8 can keep them in float.

Full-integer int8 of a BERT encoder is not faithful: LayerNorm, softmax and GELU activations (and the attention
mask's large negative bias) do not fit one int8 scale each. Both converters keep the layer names in their node
names (``.../tl_bert_layer_0_1/...`` in TFLite tensor names and tf2onnx node names), which is how these patterns
find the tower: the encoder's layers and the text pooling on top of it.
"""

from __future__ import annotations

import re
from typing import Iterable

import keras

from keras_tl.models import TEXT_FEATURES_LAYER, text_encoder_layers


def text_tower_pattern(model: keras.Model) -> re.Pattern | None:
    """A pattern matching the graph node names of ``model``'s text tower; None for models without one."""
    names = [layer.name for layer in text_encoder_layers(model)]
    if not names:
        return None
    alternatives = "|".join(re.escape(name) for name in sorted([*names, TEXT_FEATURES_LAYER], key=len, reverse=True))
    # Keras 3 adds "_<n>" to a layer's name scope in traced graphs; ";" joins the names of fused TFLite ops.
    return re.compile(rf"(?:^|/)(?:{alternatives})(?:_\d+)?/")


def matching(names: Iterable[str], pattern: re.Pattern) -> list[str]:
    return sorted({name for name in names if pattern.search(name)})
