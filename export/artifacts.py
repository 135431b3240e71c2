"""What an export writes: one artifact per (format, precision), staged under a temporary name until verified.

An artifact reaches its final name only after it passes verification, so an interrupted or failed export never
leaves a file under a name that a phone app or a script would pick up.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from keras_tl.config.schema import QUANTIZE_BY_FORMAT

FORMAT_SUFFIX = {"tflite": ".tflite", "onnx": ".onnx"}
FORMAT_RUNTIME = {"tflite": "ai_edge_litert", "onnx": "onnxruntime"}
# What export.quantize can ask of each format (the schema's table, which says why), plus qat_int8: full int8 from
# quantization-aware training (export.qat), not a choice of export.quantize.
FORMAT_PRECISIONS = {**QUANTIZE_BY_FORMAT, "tflite": (*QUANTIZE_BY_FORMAT["tflite"], "qat_int8")}
INT8_PRECISIONS = ("dynamic", "int8", "qat_int8")
STAGED_SUFFIX = ".partial"
FAILED_SUFFIX = ".failed"


@dataclass(frozen=True)
class ArtifactSpec:
    format: str
    precision: str

    @property
    def filename(self) -> str:
        return f"model_{self.precision}{FORMAT_SUFFIX[self.format]}"

    @property
    def runtime(self) -> str:
        return FORMAT_RUNTIME[self.format]

    @property
    def is_int8(self) -> bool:
        return self.precision in INT8_PRECISIONS


def plan(formats: Sequence[str], precisions: Sequence[str]) -> tuple[list[ArtifactSpec], list[str]]:
    """The artifacts to build, in a stable order, and the (format, precision) pairs that do not exist."""
    specs, skipped = [], []
    for fmt in dict.fromkeys(formats):
        for precision in dict.fromkeys(precisions):
            if precision in FORMAT_PRECISIONS[fmt]:
                specs.append(ArtifactSpec(fmt, precision))
            else:
                skipped.append(f"{fmt} {precision}")
    return specs, skipped


def spec_for_file(path: Path) -> Optional[ArtifactSpec]:
    """The spec of a final-name artifact file (model_<precision>.<format>), or None for any other file."""
    fmt = next((f for f, suffix in FORMAT_SUFFIX.items() if path.suffix == suffix), None)
    precision = path.stem.removeprefix("model_")
    if fmt is None or not path.stem.startswith("model_") or precision not in FORMAT_PRECISIONS[fmt]:
        return None
    return ArtifactSpec(fmt, precision)


def staged_path(final: Path) -> Path:
    return final.with_name(final.name + STAGED_SUFFIX)


def failed_path(final: Path) -> Path:
    return final.with_name(final.name + FAILED_SUFFIX)


def publish(staged: Path, final: Path, *, passed: bool, keep_failed: bool) -> Optional[Path]:
    """Rename a verified artifact to its final name; a failed one goes away or to ``.failed``.

    Whatever an earlier export left under the other names goes too, so the folder matches the new report."""
    failed = failed_path(final)
    if passed:
        os.replace(staged, final)
        failed.unlink(missing_ok=True)
        return final
    if keep_failed:
        os.replace(staged, failed)
    else:
        staged.unlink(missing_ok=True)
        failed.unlink(missing_ok=True)
    final.unlink(missing_ok=True)  # also when the failed file was already under its final name
    return failed if keep_failed else None


def discard(final: Path) -> None:
    """An artifact that could not be built: nothing of it, old or new, stays."""
    for path in (final, staged_path(final), failed_path(final)):
        path.unlink(missing_ok=True)


def remove_leftovers(export_dir: Path) -> None:
    """Staged files of an interrupted export (never under a final name, but still clutter)."""
    for path in export_dir.glob(f"model_*{STAGED_SUFFIX}"):
        if spec_for_file(path.with_name(path.name.removesuffix(STAGED_SUFFIX))) is not None:  # only names we write
            path.unlink(missing_ok=True)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
