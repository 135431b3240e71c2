"""Optimizers and learning-rate schedules for the two phases, including layer-wise LR decay for fine-tuning."""

from __future__ import annotations

from typing import Sequence

import keras

from keras_tl.config.schema import FineTuneConfig, PhaseConfig


def make_optimizer(cfg: PhaseConfig, learning_rate) -> keras.optimizers.Optimizer:
    decay = cfg.weight_decay or None
    if cfg.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate, weight_decay=decay)
    if cfg.optimizer == "adamw":
        return keras.optimizers.AdamW(learning_rate, weight_decay=cfg.weight_decay or 0.004)
    if cfg.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=0.9, nesterov=True, weight_decay=decay)
    return keras.optimizers.RMSprop(learning_rate, weight_decay=decay)


def warmup_cosine(peak: float, total_steps: int, warmup_steps: int) -> keras.optimizers.schedules.LearningRateSchedule:
    """Linear warmup from 0 to ``peak``, then cosine decay to 0 (Keras' own CosineDecay with warmup)."""
    warmup_steps = min(warmup_steps, max(total_steps - 1, 0))
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup_steps else peak,
        decay_steps=max(total_steps - warmup_steps, 1),
        warmup_target=peak if warmup_steps else None,
        warmup_steps=warmup_steps,
    )


def fine_tune_optimizer(cfg: FineTuneConfig, unfrozen: list[keras.layers.Layer], steps_per_epoch: int, *,
                        text_layers: Sequence[keras.layers.Layer] = (), text_learning_rate: float = 0.0,
                        ) -> keras.optimizers.Optimizer:
    """Phase 2 optimizer: warmup + cosine schedule; with layerwise_lr_decay < 1, deeper groups get smaller LRs.

    ``text_layers`` (the unfrozen text encoder) get their own peak learning rate, ``text_learning_rate``."""
    total = max(cfg.epochs * steps_per_epoch, 1)
    warmup = int(round(cfg.warmup_epochs * steps_per_epoch))

    def optimizer_for(peak: float) -> keras.optimizers.Optimizer:
        return make_optimizer(cfg, warmup_cosine(peak, total, warmup))

    decayed = cfg.layerwise_lr_decay < 1.0 and bool(unfrozen)
    if not decayed and not text_layers:
        return optimizer_for(cfg.learning_rate)
    optimizer_map = keras.optimizers.OptimizerMap(default_optimizer=optimizer_for(cfg.learning_rate))
    if decayed:
        groups = _chunks(list(reversed(unfrozen)), cfg.lr_groups)  # group 0 sits right below the head
        for depth, group in enumerate(groups, start=1):
            _assign(optimizer_map, group, optimizer_for(cfg.learning_rate * cfg.layerwise_lr_decay ** depth))
    if text_layers:
        _assign(optimizer_map, text_layers, optimizer_for(text_learning_rate))
    # Variables not mapped above (the head) keep the full learning rate of the default optimizer.
    return keras.optimizers.MultiOptimizer(optimizer_map)


def _assign(optimizer_map, layers: Sequence[keras.layers.Layer], optimizer: keras.optimizers.Optimizer) -> None:
    for layer in layers:
        for variable in layer.trainable_weights:
            optimizer_map[variable.path] = optimizer


def _chunks(items: list, n: int) -> list[list]:
    n = max(1, min(n, len(items)))
    size, extra = divmod(len(items), n)
    out, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        out.append(items[start:end])
        start = end
    return out
