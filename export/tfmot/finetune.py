"""The short tf_keras fine-tunes that pruning and QAT need, on the run's own train split."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np

from keras_tl.export.tfmot.legacy import tfmot_and_tf_keras
from keras_tl.config import ExperimentConfig
from keras_tl.data import PreparedData, load_images
from keras_tl.data.image_cache import choose_cache
from keras_tl.data.pipeline import SHUFFLE_BUFFER
from keras_tl.models import input_size
from keras_tl.train import TrainingDiverged

CHECK_IMAGES = 32  # enough to catch a wrong layer; the full verification happens on the exported artifacts


def steps_per_epoch(data: PreparedData, cfg: ExperimentConfig) -> int:
    return math.ceil(len(data.splits["train"]) / cfg.data.batch_size)


def unfreeze(tf_keras_model, *, batchnorm: bool) -> None:
    """Let every weight move during the fine-tune; BatchNorm too only with ``batchnorm``.

    A frozen tf_keras BatchNorm also runs in inference mode, so its statistics cannot drift: what QAT needs, since
    the converter folds them into the convolutions. Pruning needs the opposite: every mask update shifts the kernels' output
    statistics, and a network normalizing with the unpruned ones trains against the wrong scale (measured on the
    quickstart model, 50 % pruning, 4 epochs at 1e-3: 0.60 test accuracy with BatchNorm frozen, 0.83-0.88 in five
    runs with it training)."""
    _, tf_keras = tfmot_and_tf_keras()
    for layer in tf_keras_model.layers:
        layer.trainable = batchnorm or not isinstance(layer, tf_keras.layers.BatchNormalization)


def fine_tune(tf_keras_model, data: PreparedData, cfg: ExperimentConfig, *, epochs: int, learning_rate: float,
              callbacks: Sequence = ()) -> dict[str, list[float]]:
    _, tf_keras = tfmot_and_tf_keras()
    if data.multi_label:
        loss, accuracy = tf_keras.losses.BinaryCrossentropy(), tf_keras.metrics.BinaryAccuracy(name="accuracy")
    else:
        loss = tf_keras.losses.SparseCategoricalCrossentropy()
        accuracy = tf_keras.metrics.SparseCategoricalAccuracy(name="accuracy")
    tf_keras_model.compile(optimizer=tf_keras.optimizers.Adam(learning_rate), loss=loss, metrics=[accuracy])
    train = data.dataset("train", image_size=input_size(cfg.model), batch_size=cfg.data.batch_size, training=True,
                         seed=cfg.seed, augment=cfg.data.augment, cache=_memory_or_none(data, cfg))
    history = tf_keras_model.fit(train, epochs=epochs, callbacks=list(callbacks), shuffle=False,
                                 verbose=cfg.train.verbose)
    losses = history.history.get("loss", [])
    if losses and not np.isfinite(losses[-1]):
        raise TrainingDiverged(f"the pruning/QAT fine-tune diverged (loss is NaN/inf) at learning rate "
                               f"{learning_rate:g}; lower export.prune_learning_rate / export.qat_learning_rate")
    return history.history


def reestimate_batchnorm(tf_keras_model, data: PreparedData, cfg: ExperimentConfig) -> None:
    """Re-estimate every BatchNorm's moving statistics over the train split (gamma and beta stay as they are).

    Zeroing half of each kernel shifts every convolution's output statistics. BatchNorm trains on batch statistics
    during the pruning fine-tune, but its moving averages lag behind the last mask updates, and a network predicting
    with the unpruned model's statistics collapses to one class. Works on a model wrapped for pruning too (the masks
    only change at their scheduled steps)."""
    _, tf_keras = tfmot_and_tf_keras()
    norms = [layer for layer in tf_keras_model.layers if isinstance(layer, tf_keras.layers.BatchNormalization)]
    if not norms:
        return
    saved = [(layer.trainable, layer.momentum) for layer in norms]
    for layer in norms:
        layer.trainable = True  # a frozen tf_keras BatchNorm runs in inference mode and updates nothing
    train = data.dataset("train", image_size=input_size(cfg.model), batch_size=cfg.data.batch_size, training=False,
                         seed=cfg.seed, cache="none")
    for step, (images, _) in enumerate(train):
        for layer in norms:
            layer.momentum = step / (step + 1)  # a plain average over the whole split, not a decaying one
        tf_keras_model(images, training=True)
    for layer, (trainable, momentum) in zip(norms, saved):
        layer.trainable, layer.momentum = trainable, momentum


def split_images(data: PreparedData, cfg: ExperimentConfig, split: str, limit: int) -> np.ndarray:
    """Up to ``limit`` images of ``split`` (decoded as in training), or of the train split when it is empty."""
    paths = data.paths(split) or data.paths("train")
    return load_images(paths[:limit], input_size(cfg.model))


def _memory_or_none(data: PreparedData, cfg: ExperimentConfig) -> str:
    """The fine-tunes cache their images in memory when training would (auto: when they fit its budget); they
    keep no disk cache of their own."""
    size, images = input_size(cfg.model), len(data.splits["train"])
    choice = choose_cache(cfg.data.cache, cached_images=images, shuffle_images=min(images, SHUFFLE_BUFFER),
                          image_size=size, folder=Path("."), memory_mb=cfg.data.cache_memory_mb, disk_mb=0)
    return "memory" if choice.mode == "memory" else "none"
