"""``keras-tl export --prune/--qat``: pruning and QAT inside the normal export.

Pruning replaces the model that every artifact is built from and verified against with its pruned copy (saved as
``export/model_pruned.keras``, the report's Keras row). QAT adds one artifact, ``model_qat_int8.tflite``, converted
by the same converter as the post-training int8 file and verified against the QAT Keras model it was converted from
(whose outputs are kept beside it, so ``keras-tl benchmark`` verifies it the same way); its agreement with the
model every other artifact is verified against is recorded too, for the comparison with post-training int8. The
report's ``compression`` section holds the sparsity per layer type, the gzip size of every artifact and the
pruned/unpruned gzip ratio of the fp32 TFLite.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from keras_tl.export import tflite
from keras_tl.export.artifacts import ArtifactSpec, sha256
from keras_tl.export.errors import ExportError
from keras_tl.export.exporter import Exporter
from keras_tl.export.inputs import RunInputs
from keras_tl.export.report import ArtifactEntry
from keras_tl.export.runtimes import artifact_outputs
from keras_tl.export.tfmot.prune import prune_run_model
from keras_tl.export.tfmot.qat import train_qat_model
from keras_tl.export.tfmot.saved_model import saved_model
from keras_tl.export.verify import compare, predict_all
from keras_tl.errors import KerasTLError
from keras_tl.run_files import ExportReport
from keras_tl.models import IMAGE_INPUT, get_backbone, load_trained_model
from keras_tl.models.vision_transformers import is_transformer

QAT_SPEC = ArtifactSpec("tflite", "qat_int8")


@dataclass
class Compression:
    specs: list[ArtifactSpec] = field(default_factory=list)  # artifacts beyond export.quantize (the QAT file)
    sources: dict[str, tuple[Path, str]] = field(default_factory=dict)  # precision -> (SavedModel, convert as)
    references: dict[str, np.ndarray] = field(default_factory=dict)  # precision -> outputs it is verified against
    report: dict = field(default_factory=dict)
    unpruned_fp32_gzip: Optional[int] = None


def compress(inputs: RunInputs, work: Path, log: Callable[[str], None]) -> Optional[Compression]:
    """Prune and/or QAT-train the run's model as ``export.prune`` / ``export.qat`` ask; None when neither.

    Swaps the pruned model into ``inputs`` so that every artifact is built from it and verified against it."""
    settings = inputs.config.export
    pruned_file = inputs.run.pruned_model_file
    if settings.prune is None and not settings.qat:
        pruned_file.unlink(missing_ok=True)  # this export's artifacts come from the unpruned model
        return None
    _require_image_only(inputs)
    result = Compression()
    if settings.prune is not None:
        unpruned = tflite.convert(saved_model(inputs.model, work / "unpruned"), "fp32")
        result.unpruned_fp32_gzip = gzip_size(unpruned)
        pruned = prune_run_model(inputs.model, inputs.data, inputs.config, log=log)
        staged = work / pruned_file.name
        pruned.model.save(staged)
        os.replace(staged, pruned_file)
        inputs.model, inputs.model_file = pruned.model, pruned_file
        result.report["prune"] = {"target_sparsity": settings.prune, "epochs": settings.prune_epochs,
                                  "learning_rate": settings.prune_learning_rate,
                                  "model": _relative(inputs, pruned_file), "sparsity": pruned.sparsity,
                                  "bridge_max_abs_diff": pruned.bridge_max_abs_diff,
                                  "unpruned_fp32_tflite_gzip_bytes": result.unpruned_fp32_gzip}
    else:
        pruned_file.unlink(missing_ok=True)
    if settings.qat:
        qat = train_qat_model(inputs.model, inputs.data, inputs.config, log=log)
        outputs = predict_all(lambda batch: np.asarray(qat.model(batch[IMAGE_INPUT], training=False)),
                              inputs.batches())
        result.references[QAT_SPEC.precision] = outputs
        np.savez(inputs.run.qat_reference_file, probabilities=outputs, source_sha256=sha256(inputs.model_file))
        result.sources[QAT_SPEC.precision] = (saved_model(qat.model, work / "qat_saved_model"), "int8")
        result.specs.append(QAT_SPEC)
        result.report["qat"] = {"epochs": settings.qat_epochs, "learning_rate": settings.qat_learning_rate,
                                "sparsity_preserving": qat.preserve_sparsity, "artifact": QAT_SPEC.filename,
                                "bridge_max_abs_diff": qat.bridge_max_abs_diff,
                                "qat_keras_accuracy": _accuracy(outputs, inputs)}
    return result


def record(compression: Compression, exporter: Exporter, results: Sequence[ArtifactEntry]) -> dict:
    """Gzip sizes of the artifacts, the fp32 gzip ratio and the QAT file's agreement with the model the others are
    verified against; returns the report's ``compression`` section."""
    inputs, section = exporter.inputs, compression.report
    section["gzip_bytes"] = {r.name: gzip_size((inputs.run.path / r.path).read_bytes()) for r in results if r.path}
    fp32 = section["gzip_bytes"].get(ArtifactSpec("tflite", "fp32").filename)
    if "prune" in section and fp32:
        section["prune"]["gzip_ratio_fp32_tflite"] = round(fp32 / compression.unpruned_fp32_gzip, 4)
    qat_file = next((r for r in results if r.path and r.precision == QAT_SPEC.precision), None)
    if "qat" in section and qat_file is not None:
        outputs = artifact_outputs(inputs.run.path / qat_file.path, "tflite", inputs.batches(),
                                   inputs.config.export.benchmark.threads)
        agreement = top1_agreement(outputs, exporter.reference)
        qat_file.details["agreement_with_keras"] = section["qat"]["agreement_with_keras"] = agreement
        section["qat"]["agreement_with_qat_keras"] = qat_file.top1_agreement
    return section


def exported_references(inputs: RunInputs) -> dict[str, np.ndarray]:
    """The QAT Keras model's outputs saved by the export that made ``model_qat_int8.tflite``, while the model it
    was trained from is still the one in the run (a retrained or re-pruned model makes the file stale)."""
    path = inputs.run.qat_reference_file
    if not path.is_file() or not inputs.model_file.is_file():
        return {}
    with np.load(path) as saved:
        if str(saved["source_sha256"]) != sha256(inputs.model_file):
            return {}
        return {QAT_SPEC.precision: saved["probabilities"]}


def use_exported_model(inputs: RunInputs) -> Optional[dict]:
    """For ``keras-tl benchmark``: when the last export pruned, its artifacts are measured against the pruned
    model; returns that export's ``compression`` section (None when there is none)."""
    pruned_file = inputs.run.pruned_model_file
    try:
        report = ExportReport.read(inputs.run.export_report_file)
    except KerasTLError:
        report = None  # no report to go by: the artifacts are measured against model.keras
    section = report.compression if report else None
    if section and "prune" in section and pruned_file.is_file():
        inputs.model, inputs.model_file = load_trained_model(pruned_file), pruned_file
    return section


def refuse_transformer_compression(config) -> None:
    """TFMOT works on tf_keras models, and the bridge rebuilds only Keras' own layers there, not keras-hub's
    transformer blocks (TFMOT's QAT has no quantize config for attention or LayerNorm either): refused before the
    model is even loaded."""
    settings = config.export
    spec = get_backbone(config.model.backbone)
    if (settings.prune is not None or settings.qat) and config.model.uses_image and is_transformer(spec):
        asked = " and ".join(n for n, on in (("export.prune", settings.prune is not None), ("export.qat", settings.qat))
                             if on)
        raise ExportError(f"{asked}: TFMOT cannot prune or quantization-aware-train the transformer base "
                          f"{spec.name} (its keras-hub blocks cannot be rebuilt in tf_keras, which TFMOT needs); "
                          "export it without --prune/--qat: post-training quantization works (export.quantize: "
                          "fp16, dynamic, int8)")


def _require_image_only(inputs: RunInputs) -> None:
    others = [name for name in inputs.input_names if name != IMAGE_INPUT]
    if others:
        raise ExportError(f"pruning and QAT support image-only models; this model also reads {', '.join(others)} "
                          "(image+text models cannot be rebuilt in tf_keras): export it without --prune/--qat")


def _accuracy(outputs: np.ndarray, inputs: RunInputs) -> float:
    return compare(outputs, outputs, inputs.targets(), inputs.labels, multi_label=inputs.multi_label,
                   threshold=0.0, accuracy_rows=inputs.accuracy_rows).accuracy


def gzip_size(data: bytes) -> int:
    """Bytes after gzip -9: what a download or an app bundle ships, and where pruning's zeros pay off."""
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def top1_agreement(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.argmax(a, axis=-1) == np.argmax(b, axis=-1)))


def _relative(inputs: RunInputs, path: Path) -> str:
    return path.relative_to(inputs.run.path).as_posix()
