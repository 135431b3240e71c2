"""Phase 1 with a fitted head: compute the base features once, fit the output layer with scikit-learn, log one epoch."""

from __future__ import annotations

import time

import keras
import numpy as np
from sklearn.metrics import accuracy_score, log_loss

from keras_tl.config.schema import ExperimentConfig
from keras_tl.errors import ConfigError
from keras_tl.models import PREDICTIONS_LAYER
from keras_tl.run import RunFolder
from keras_tl.train.cached_features import CachedPhase1
from keras_tl.train.callbacks import EpochHistory
from keras_tl.train.heads import FittedHead, fit_head


def fit_phase1_head(cached: CachedPhase1, config: ExperimentConfig, run: RunFolder, log=print) -> FittedHead:
    """Fit ``train.phase1.head`` on the cached features and write it into the model's output layer."""
    phase1 = config.train.phase1
    output = _output_layer(cached.head)
    train_x, train_y, val_x, val_y = cached.arrays()
    started = time.perf_counter()
    fitted = fit_head(phase1.head, train_x, train_y, cached.data.num_classes,
                      calibration=None if val_x is None else (val_x, val_y),
                      regularization=phase1.regularization,
                      balanced=config.data.class_weights == "balanced", seed=config.seed)
    output.set_weights([fitted.kernel.astype("float32"), fitted.bias.astype("float32")])
    logs = {**_metrics(cached.head, train_x, train_y, ""),
            **(_metrics(cached.head, val_x, val_y, "val_") if val_x is not None else {})}
    EpochHistory(run.history_file).on_epoch_end(0, logs)
    temperature = f", temperature {fitted.temperature:.3g}" if phase1.head != "logistic" else ""
    shown = ", ".join(f"{key} {value:.4f}" for key, value in logs.items())
    log(f"phase 1: fitted a {phase1.head} head on {len(train_x):,} cached features in "
        f"{time.perf_counter() - started:.1f} s{temperature}: {shown}")
    return fitted


def _output_layer(head: keras.Model) -> keras.layers.Dense:
    """The Dense output layer, which must read the pooled features directly (dropout aside)."""
    inner = [layer for layer in head.layers if not isinstance(layer, (keras.layers.InputLayer, keras.layers.Dropout))]
    if len(inner) != 1 or inner[0].name != PREDICTIONS_LAYER:
        raise ConfigError(f"train.phase1.head: a fitted head needs the output layer right after the pooled features; "
                          f"this model has {[layer.name for layer in inner]}: use head: sgd")
    return inner[0]


def _metrics(head: keras.Model, features: np.ndarray, targets: np.ndarray, prefix: str) -> dict[str, float]:
    probabilities = head.predict(features, batch_size=1024, verbose=0)
    return {f"{prefix}accuracy": float(accuracy_score(targets, probabilities.argmax(axis=1))),
            f"{prefix}loss": float(log_loss(targets, probabilities, labels=np.arange(probabilities.shape[1])))}
