"""Latency at batch 1: p50/p90 over N timed runs after warm-up, for the Keras model and every artifact."""

from __future__ import annotations

import time
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from keras_tl.config.schema import BenchmarkConfig

KERAS_RUNTIME = "tensorflow"


def latency_ms(predict: Callable[[dict], object], sample: dict, settings: BenchmarkConfig) -> tuple[float, float]:
    for _ in range(settings.warmup):
        predict(sample)
    times = []
    for _ in range(settings.runs):
        started = time.perf_counter()
        predict(sample)
        times.append((time.perf_counter() - started) * 1000)
    p50, p90 = np.percentile(times, [50, 90])
    return round(float(p50), 4), round(float(p90), 4)


def keras_predict(model: keras.Model) -> Callable[[dict], np.ndarray]:
    """The Keras model as a compiled tf.function (how it would be served), taking input dicts.

    ``model.predict`` adds several milliseconds of per-call overhead that no deployment pays."""
    names = [tensor.name for tensor in model.inputs]
    call = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    def predict(inputs: dict) -> np.ndarray:
        x = inputs[names[0]] if len(names) == 1 else {name: inputs[name] for name in names}
        return call(x).numpy()

    return predict
