"""Magnitude pruning through the bridge: prune in tf_keras during a short fine-tune, then copy the sparse weights
back into a copy of the Keras 3 model, so that every export path (TFLite variants, ONNX) applies to it."""

from __future__ import annotations

from dataclasses import dataclass, field

import keras
import numpy as np

from keras_tl.export.tfmot.bridge import check_same_outputs, copy_weights_to_keras, leaf_layers, to_tf_keras
from keras_tl.export.tfmot.finetune import (CHECK_IMAGES, fine_tune, reestimate_batchnorm, split_images,
                                            steps_per_epoch, unfreeze)
from keras_tl.export.tfmot.legacy import tfmot_and_tf_keras
from keras_tl.config import ExperimentConfig
from keras_tl.data import PreparedData
from keras_tl.errors import ConfigError
from keras_tl.models import assign_weights

PRUNABLE_LAYERS = ("Conv2D", "DepthwiseConv2D", "Dense")
# Sparsity ramps up over this share of the fine-tune; the rest lets the surviving weights recover at the target.
RAMP_FRACTION = 2 / 3
MASK_UPDATES = 10


@dataclass
class PruneResult:
    model: keras.Model  # a pruned copy of the Keras 3 model; the original is left as it was
    target_sparsity: float
    sparsity: dict[str, dict] = field(default_factory=dict)  # per layer type, plus "all"
    bridge_max_abs_diff: float = 0.0
    history: dict[str, list[float]] = field(default_factory=dict)


def prune_run_model(model: keras.Model, data: PreparedData, cfg: ExperimentConfig, log=print) -> PruneResult:
    """Prune the kernels of ``model``'s Conv2D, DepthwiseConv2D and Dense layers to ``cfg.export.prune``."""
    tfmot, tf_keras = tfmot_and_tf_keras()
    target = cfg.export.prune
    if target is None:
        raise ConfigError("export.prune is not set: give the target sparsity, e.g. --prune 0.5")
    images = split_images(data, cfg, "test", CHECK_IMAGES)
    rebuilt = to_tf_keras(model)
    diff = check_same_outputs(model, rebuilt, images)
    unfreeze(rebuilt, batchnorm=True)
    steps = steps_per_epoch(data, cfg) * cfg.export.prune_epochs
    schedule = sparsity_schedule(target, steps)

    def wrap(layer):
        # Returning the original layer objects keeps their weights; only the wrappers are new.
        if type(layer).__name__ == "DepthwiseConv2D":
            # TFMOT's registry names no prunable weight for DepthwiseConv2D; it prunes any layer that names its own.
            layer.get_prunable_weights = lambda: [layer.depthwise_kernel]
        if type(layer).__name__ in PRUNABLE_LAYERS:
            return tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=schedule)
        return layer

    wrapped = tf_keras.models.clone_model(rebuilt, clone_function=wrap)
    log(f"pruning to {target:.0%} sparsity over {cfg.export.prune_epochs} epochs ({steps} steps)")
    history = fine_tune(wrapped, data, cfg, epochs=cfg.export.prune_epochs,
                        learning_rate=cfg.export.prune_learning_rate,
                        callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    reestimate_batchnorm(wrapped, data, cfg)
    stripped = tfmot.sparsity.keras.strip_pruning(wrapped)
    pruned = keras.models.clone_model(model)
    assign_weights(pruned, model.get_weights())
    copy_weights_to_keras(stripped, pruned)
    check_same_outputs(pruned, stripped, images)
    return PruneResult(pruned, target, sparsity_by_layer_type(pruned), diff, history)


def sparsity_schedule(target: float, total_steps: int):
    """PolynomialDecay from 0 to ``target``, reaching it exactly at a mask update before training ends."""
    tfmot, _ = tfmot_and_tf_keras()
    end = int(total_steps * RAMP_FRACTION) - 1
    if end < 1:
        return tfmot.sparsity.keras.ConstantSparsity(target, begin_step=0, frequency=1)
    frequency = max(1, end // MASK_UPDATES)
    end -= end % frequency  # masks change only every `frequency` steps: the last change must land on end_step
    return tfmot.sparsity.keras.PolynomialDecay(0.0, target, begin_step=0, end_step=end, frequency=frequency)


def sparsity_by_layer_type(model: keras.Model) -> dict[str, dict]:
    """Share of exactly-zero kernel weights per prunable layer type (and over all of them) in a Keras 3 model."""
    counts = {name: [0, 0, 0] for name in (*PRUNABLE_LAYERS, "all")}  # layers, weights, zeros
    for layer in leaf_layers(model):
        kind = type(layer).__name__
        if kind in PRUNABLE_LAYERS:
            kernel = np.asarray(layer.get_weights()[0])
            for key in (kind, "all"):
                counts[key][0] += 1
                counts[key][1] += kernel.size
                counts[key][2] += int(np.count_nonzero(kernel == 0))
    return {kind: {"layers": n, "weights": size, "zeros": zeros, "sparsity": zeros / size if size else 0.0}
            for kind, (n, size, zeros) in counts.items() if n}
