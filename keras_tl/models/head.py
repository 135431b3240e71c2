"""The classifier head: pooling -> dropout -> optional hidden dense layers -> softmax (or sigmoid)."""

from __future__ import annotations

from typing import Sequence

import keras

HEAD_PREFIX = "tl_"
FEATURES_LAYER = "tl_pool"
PREDICTIONS_LAYER = "tl_predictions"


def pool(feature_map: keras.KerasTensor, pooling: str) -> keras.KerasTensor:
    layer = keras.layers.GlobalAveragePooling2D if pooling == "avg" else keras.layers.GlobalMaxPooling2D
    return layer(name=FEATURES_LAYER)(feature_map)


def classification_head(features: keras.KerasTensor, num_classes: int, *, dropout: float,
                        hidden_units: Sequence[int], multi_label: bool) -> keras.KerasTensor:
    x = features
    if dropout > 0:
        x = keras.layers.Dropout(dropout, name="tl_dropout")(x)
    for i, units in enumerate(hidden_units):
        x = keras.layers.Dense(units, activation="relu", name=f"tl_hidden_{i}")(x)
        if dropout > 0:
            x = keras.layers.Dropout(dropout, name=f"tl_hidden_{i}_dropout")(x)
    activation = "sigmoid" if multi_label else "softmax"
    # float32 output keeps probabilities exact under mixed precision.
    return keras.layers.Dense(num_classes, activation=activation, dtype="float32", name=PREDICTIONS_LAYER)(x)
