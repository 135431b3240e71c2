"""Speed options from the config: mixed precision, XLA compilation and steps per execution.

Mixed precision is a training setting only: layers are built under the policy (Keras keeps their variables in
float32), and the trained model is handed on as a float32 model, so evaluation, model.keras and every export see
the same float32 graph whatever precision trained it.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import keras

from keras_tl.config.schema import TrainConfig
from keras_tl.models.weights import assign_weights


@contextmanager
def precision_policy(mixed_precision: str) -> Iterator[None]:
    """Layers built inside take ``mixed_precision`` ("none" = float32); the global policy is restored after."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32" if mixed_precision == "none" else mixed_precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def float32_model(model: keras.Model) -> keras.Model:
    """The same graph and weights with every layer computing in float32 (returns ``model`` if it already does)."""
    if all(layer.dtype_policy.name == "float32" for layer in model.layers):
        return model

    def as_float32(layer: keras.layers.Layer) -> keras.layers.Layer:
        return layer.__class__.from_config({**layer.get_config(), "dtype": "float32"})

    with precision_policy("none"):
        clone = keras.models.clone_model(model, clone_function=as_float32)
    assign_weights(clone, model.get_weights())
    return clone


def compile_options(cfg: TrainConfig) -> dict:
    """Keyword arguments for ``model.compile`` (the schema refuses jit_compile: on with deterministic: true)."""
    jit_compile = {"auto": "auto", "on": True, "off": False}[cfg.jit_compile]
    return {"jit_compile": jit_compile, "steps_per_execution": cfg.steps_per_execution}
