"""Quantization-aware training through the bridge, converted straight to full-int8 TFLite.

With ``export.prune`` set as well, the model is pruned first and QAT uses TFMOT's sparsity-preserving scheme
(collaborative optimization), so the int8 artifact keeps the zeros.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import keras
import numpy as np

from keras_tl.export.tfmot.bridge import check_same_outputs, to_tf_keras
from keras_tl.export.tfmot.calibrate import calibrate_ranges
from keras_tl.export.tfmot.convert import run_tflite, tflite_bytes, top1_agreement
from keras_tl.export.tfmot.finetune import CHECK_IMAGES, fine_tune, split_images, unfreeze
from keras_tl.export.tfmot.quantize import quantization_aware
from keras_tl.config import ExperimentConfig
from keras_tl.data import PreparedData


@dataclass
class QatResult:
    tflite: bytes  # full-int8 TFLite: int8 ops, export.int8_image_input image input, float32 probabilities
    test_paths: list[str]  # the images both outputs below were computed on (the test split)
    keras_outputs: np.ndarray  # the QAT model's probabilities: the reference the artifact is verified against
    tflite_outputs: np.ndarray
    agreement: float  # top-1 agreement of the two
    preserve_sparsity: bool
    bridge_max_abs_diff: float = 0.0
    history: dict[str, list[float]] = field(default_factory=dict)


@dataclass
class QatModel:
    model: object  # the tf_keras quantization-aware model (fake-quant nodes hold every tensor's range)
    representative: np.ndarray  # train images that started the activation ranges
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
    return QatModel(qat_model, representative, preserve, diff, history)


def qat_int8_tflite(model: keras.Model, data: PreparedData, cfg: ExperimentConfig, log=print) -> QatResult:
    """QAT-fine-tune ``model`` (left unchanged) and convert it to full-int8 TFLite; verify it on the test split.

    Sparsity-preserving when ``cfg.export.prune`` is set (pass the pruned model from ``prune_run_model``)."""
    trained = train_qat_model(model, data, cfg, log)
    artifact = tflite_bytes(trained.model, int8=True, representative=trained.representative,
                            input_type=cfg.export.int8_image_input)
    test_paths = data.paths("test") or data.paths("train")
    test = split_images(data, cfg, "test", len(test_paths))
    keras_outputs = np.asarray(trained.model.predict(test, batch_size=cfg.data.batch_size, verbose=0))
    tflite_outputs = run_tflite(artifact, test)
    return QatResult(artifact, test_paths, keras_outputs, tflite_outputs,
                     top1_agreement(keras_outputs, tflite_outputs), trained.preserve_sparsity,
                     trained.bridge_max_abs_diff, trained.history)
