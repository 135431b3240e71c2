"""``keras-tl export --prune/--qat``: pruning and QAT inside the normal export.

Pruning replaces the model that every artifact is built from and verified against with its pruned copy (saved as
``export/model_pruned.keras``, the report's Keras row). QAT adds one artifact, ``model_qat_int8.tflite``, converted
by the same converter as the post-training int8 file and verified against the same Keras model; its agreement
with the QAT Keras model it came from is recorded too. The report's ``compression`` section holds the sparsity per
layer type, the gzip size of every artifact and the pruned/unpruned gzip ratio of the fp32 TFLite.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from export import tflite
from export.artifacts import ArtifactSpec
from export.errors import ExportError
from export.inputs import RunInputs
from export.report import REPORT_NAME, ArtifactResult
from export.runtimes import PREDICTORS
from export.tfmot.convert import gzip_size, save_serving_model, top1_agreement
from export.tfmot.prune import prune_run_model
from export.tfmot.qat import train_qat_model
from export.verify import predict_all
from keras_tl.cli.quiet import silenced_stderr
from keras_tl.models import IMAGE_INPUT, load_trained_model

PRUNED_MODEL = "model_pruned.keras"
QAT_SPEC = ArtifactSpec("tflite", "qat_int8")
SECTION = "compression"


@dataclass
class Compression:
    specs: list[ArtifactSpec] = field(default_factory=list)  # artifacts beyond export.quantize (the QAT file)
    sources: dict[str, tuple[Path, str]] = field(default_factory=dict)  # precision -> (SavedModel, convert as)
    report: dict = field(default_factory=dict)
    qat_model: object = None
    unpruned_fp32_gzip: Optional[int] = None


def compress(inputs: RunInputs, work: Path, log: Callable[[str], None]) -> Optional[Compression]:
    """Prune and/or QAT-train the run's model as ``export.prune`` / ``export.qat`` ask; None when neither.

    Swaps the pruned model into ``inputs`` so that every artifact is built from it and verified against it."""
    settings = inputs.config.export
    pruned_file = inputs.run.export_dir / PRUNED_MODEL
    if settings.prune is None and not settings.qat:
        pruned_file.unlink(missing_ok=True)  # this export's artifacts come from the unpruned model
        return None
    _require_image_only(inputs)
    result = Compression()
    if settings.prune is not None:
        unpruned = tflite.convert(_saved_model(inputs.model, work / "unpruned"), "fp32")
        result.unpruned_fp32_gzip = gzip_size(unpruned)
        pruned = prune_run_model(inputs.model, inputs.data, inputs.config, log=log)
        staged = work / PRUNED_MODEL
        pruned.model.save(staged)
        os.replace(staged, pruned_file)
        inputs.model, inputs.model_file = pruned.model, pruned_file
        result.report["prune"] = {"target_sparsity": settings.prune, "epochs": settings.prune_epochs,
                                  "learning_rate": settings.prune_learning_rate, "model": _relative(inputs, pruned_file),
                                  "sparsity": pruned.sparsity, "bridge_max_abs_diff": pruned.bridge_max_abs_diff,
                                  "unpruned_fp32_tflite_gzip_bytes": result.unpruned_fp32_gzip}
    else:
        pruned_file.unlink(missing_ok=True)
    if settings.qat:
        qat = train_qat_model(inputs.model, inputs.data, inputs.config, log=log)
        result.qat_model = qat.model
        result.sources[QAT_SPEC.precision] = (save_serving_model(qat.model, work / "qat_saved_model"), "int8")
        result.specs.append(QAT_SPEC)
        result.report["qat"] = {"epochs": settings.qat_epochs, "learning_rate": settings.qat_learning_rate,
                                "sparsity_preserving": qat.preserve_sparsity, "artifact": QAT_SPEC.filename,
                                "bridge_max_abs_diff": qat.bridge_max_abs_diff}
    return result


def record(compression: Compression, inputs: RunInputs, results: Sequence[ArtifactResult]) -> dict:
    """Gzip sizes of the artifacts, the fp32 gzip ratio and the QAT file's agreement with its QAT Keras model;
    returns the report's ``compression`` section."""
    section = compression.report
    section["gzip_bytes"] = {r.name: gzip_size((inputs.run.path / r.path).read_bytes()) for r in results if r.path}
    fp32 = section["gzip_bytes"].get(ArtifactSpec("tflite", "fp32").filename)
    if "prune" in section and fp32:
        section["prune"]["gzip_ratio_fp32_tflite"] = round(fp32 / compression.unpruned_fp32_gzip, 4)
    qat_file = next((r for r in results if r.path and r.precision == QAT_SPEC.precision), None)
    if compression.qat_model is not None and qat_file is not None:
        predictor = PREDICTORS["tflite"](inputs.run.path / qat_file.path, inputs.config.export.benchmark.threads)
        artifact = predict_all(predictor.predict, inputs.batches())
        qat_keras = predict_all(lambda batch: np.asarray(compression.qat_model(batch[IMAGE_INPUT], training=False)),
                                inputs.batches())
        agreement = top1_agreement(artifact, qat_keras)
        qat_file.details["agreement_with_qat_keras"] = agreement
        section["qat"]["agreement_with_qat_keras"] = agreement
        section["qat"]["qat_keras_accuracy"] = float(np.mean(qat_keras.argmax(axis=1) == inputs.targets()))
    return section


def use_exported_model(inputs: RunInputs) -> Optional[dict]:
    """For ``keras-tl benchmark``: when the last export pruned, its artifacts are measured against the pruned
    model; returns that export's ``compression`` section (None when there is none)."""
    pruned_file = inputs.run.export_dir / PRUNED_MODEL
    try:
        report = json.loads((inputs.run.export_dir / REPORT_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        report = {}
    section = report.get(SECTION)
    if section and "prune" in section and pruned_file.is_file():
        inputs.model, inputs.model_file = load_trained_model(pruned_file), pruned_file
    return section


def _require_image_only(inputs: RunInputs) -> None:
    others = [name for name in inputs.input_names if name != IMAGE_INPUT]
    if others:
        raise ExportError(f"pruning and QAT support image-only models; this model also reads {', '.join(others)} "
                          "(image+text models cannot be rebuilt in tf_keras): export it without --prune/--qat")


def _saved_model(model, path: Path) -> Path:
    with silenced_stderr():
        model.export(str(path), format="tf_saved_model", verbose=False)
    return path


def _relative(inputs: RunInputs, path: Path) -> str:
    return path.relative_to(inputs.run.path).as_posix()
