"""Quantization-aware training through the bridge; export converts the result with its TFLite converter (pipeline.py).

With ``export.prune`` set as well, the model is pruned first and QAT uses TFMOT's sparsity-preserving scheme
(collaborative optimization), so the int8 artifact keeps the zeros.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import keras

from keras_tl.export.tfmot.bridge import check_same_outputs, to_tf_keras
from keras_tl.export.tfmot.calibrate import calibrate_ranges
from keras_tl.export.tfmot.finetune import CHECK_IMAGES, fine_tune, split_images, unfreeze
from keras_tl.export.tfmot.quantize import quantization_aware
from keras_tl.config import ExperimentConfig
from keras_tl.data import PreparedData


@dataclass
class QatModel:
    model: object  # the tf_keras quantization-aware model (fake-quant nodes hold every tensor's range)
    preserve_sparsity: bool
    bridge_max_abs_diff: float = 0.0
    history: dict[str, list[float]] = field(default_factory=dict)


def train_qat_model(model: keras.Model, data: PreparedData, cfg: ExperimentConfig, log=print) -> QatModel:
    """QAT-fine-tune a tf_keras rebuild of ``model`` (left unchanged); sparsity-preserving when
    ``cfg.export.prune`` is set (pass the pruned model from ``prune_run_model``)."""
    preserve = cfg.export.prune is not None
    check = split_images(data, cfg, "test", CHECK_IMAGES)
    rebuilt = to_tf_keras(model)
    diff = check_same_outputs(model, rebuilt, check)
    unfreeze(rebuilt, batchnorm=False)
    qat_model = quantization_aware(rebuilt, preserve_sparsity=preserve)
    representative = split_images(data, cfg, "train", cfg.export.representative_samples)
    calibrate_ranges(qat_model, rebuilt, representative, cfg.data.batch_size)
    log(f"quantization-aware training for {cfg.export.qat_epochs} epochs"
        + (" (sparsity-preserving)" if preserve else ""))
    history = fine_tune(qat_model, data, cfg, epochs=cfg.export.qat_epochs,
                        learning_rate=cfg.export.qat_learning_rate)
    return QatModel(qat_model, preserve, diff, history)

