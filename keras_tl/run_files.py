"""What the run folder's result files hold: one pydantic model per file, used by its writer and by every reader.

``metrics.json`` is ``Metrics``, ``predictions/<split>.csv`` holds ``PredictionRow`` rows, and
``export/export_report.json`` is ``ExportReport`` with one ``ArtifactEntry`` per artifact (docs/export.md). Numbers
stay numbers: nothing is formatted on its way to disk, so a reader gets back exactly what the writer had.

Keys a model does not know are ignored when reading, so a folder written by another keras_tl version still loads.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any, Literal, Optional, TypeVar

from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError, model_validator

from keras_tl.errors import RunFolderError
from keras_tl.run import atomic_write_text

PASSED, FAILED, ERROR, REFERENCE = "passed", "failed", "error", "reference"
Status = Literal["passed", "failed", "error", "reference"]


class RunFile(BaseModel):
    model_config = ConfigDict(extra="ignore")


# -- metrics.json -----------------------------------------------------------------------------------------------
class ClassMetrics(RunFile):
    precision: float
    recall: float
    f1: float
    support: int


_TOP_K_SCORE = re.compile(r"top_\d+_accuracy")


class SliceMetrics(RunFile):
    value: str  # the manifest column's value ("(blank)" for rows without one)
    count: int
    accuracy: float
    macro_f1: float
    too_small: bool  # under evaluate.slice_min_count images: listed, not ranked


class SliceReport(RunFile):
    """Per-slice results of one split (evaluate.slice_by / keras-tl evaluate --slice-by)."""

    column: str
    min_count: int
    overall_accuracy: float
    slices: list[SliceMetrics]
    worst: Optional[str] = None  # the ranked slice with the lowest accuracy; None when every slice is too small
    worst_gap: Optional[float] = None  # overall accuracy minus the worst slice's


class SplitMetrics(RunFile):
    """One evaluated split. The top-k accuracy is a float under ``top_K_accuracy``: the key names its k
    (evaluate.top_k), so a run evaluated with another k keeps its column."""

    model_config = ConfigDict(extra="allow")

    split: Optional[str] = None
    samples: int
    accuracy: float  # multi-label: per label and image, at the 0.5 threshold
    exact_match: Optional[float] = None  # multi-label: every label of the image right
    macro_f1: Optional[float] = None  # single-label
    micro_f1: Optional[float] = None  # multi-label
    per_class: dict[str, ClassMetrics] = {}
    confusion_matrix: Optional[list[list[int]]] = None  # single-label: rows true class, columns predicted
    slices: Optional[SliceReport] = None

    @model_validator(mode="after")
    def _top_k_scores_are_numbers(self):
        extra = self.__pydantic_extra__
        for key in list(extra):
            if not _TOP_K_SCORE.fullmatch(key):
                del extra[key]  # a key of another keras_tl version: ignored, as in every run file
            elif isinstance(extra[key], bool) or not isinstance(extra[key], (int, float)):
                raise ValueError(f"{key} must be a number, not {repr(extra[key])[:40]}")
            else:
                extra[key] = float(extra[key])
        return self

    def scores(self) -> dict[str, float]:
        """Every score the split has, in a fixed reading order (the CLI prints them so)."""
        ordered = {"exact_match": self.exact_match, "accuracy": self.accuracy, **(self.model_extra or {}),
                   "macro_f1": self.macro_f1, "micro_f1": self.micro_f1}
        return {key: value for key, value in ordered.items() if value is not None}


class Metrics(RootModel[dict[str, SplitMetrics]]):
    """metrics.json: the metrics of each evaluated split, by split name."""

    @classmethod
    def read(cls, path: Path) -> "Metrics":
        """The file's metrics; none when the run was not evaluated yet."""
        return read_json(path, cls, "metrics file", "delete it and evaluate the run again") or cls({})

    def write(self, path: Path) -> None:
        write_json(path, self, exclude_none=True)  # a score a split does not have is left out, not null


# -- predictions/<split>.csv ------------------------------------------------------------------------------------
class PredictionRow(RunFile):
    """One image of an evaluated split. CSV, so that a spreadsheet opens it; the numbers are written unrounded."""

    image: str  # its path in the split file
    file: str  # the file decoded (a converted copy when TensorFlow cannot read the original)
    label: str  # true label (multi-label: the labels joined by data.label_separator)
    predicted: str
    confidence: float  # probability of the prediction (multi-label: mean over labels of max(p, 1 - p))
    error: float  # 1 - probability of the true class (multi-label: the largest |target - probability|)


PREDICTION_COLUMNS = tuple(PredictionRow.model_fields)


def write_predictions(path: Path, rows: list[PredictionRow]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=PREDICTION_COLUMNS)
    writer.writeheader()
    writer.writerows(row.model_dump() for row in rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, buffer.getvalue())


def read_predictions(path: Path) -> list[PredictionRow]:
    """The rows of a predictions file (none when the split was not evaluated; older files hold rounded numbers)."""
    if not path.is_file():
        return []
    fix = "evaluate the split again to rewrite it"
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise RunFolderError(f"cannot read {path} ({type(err).__name__}: {str(err)[:200]}); {fix}") from None
    parsed = []
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        try:
            parsed.append(PredictionRow.model_validate(row))
        except ValidationError as err:
            raise RunFolderError(f"{path}:{line} is not a row of a predictions file ({_first_problem(err)}); "
                                 f"{fix}") from None
    return parsed


# -- export/export_report.json ----------------------------------------------------------------------------------
class ArtifactEntry(RunFile):
    """One exported file (or the Keras model's reference row) and how it measured."""

    format: str  # tflite / onnx (keras for the reference row)
    precision: str
    runtime: str = ""
    status: Optional[Status] = None  # reports that hold only ``passed`` get theirs from it
    path: Optional[str] = None  # relative to the run folder; None when no file was kept
    size_bytes: Optional[int] = None
    sha256: Optional[str] = None
    accuracy: Optional[float] = None
    top1_agreement: Optional[float] = None
    agreement_interval: Optional[list[float]] = None  # 95 % Wilson interval of top1_agreement: [low, high]
    verified_samples: Optional[int] = None  # images top1_agreement was measured on (every split of the run)
    max_abs_diff: Optional[float] = None
    threshold: Optional[float] = None
    passed: Optional[bool] = None
    latency_ms_p50: Optional[float] = None
    latency_ms_p90: Optional[float] = None
    details: dict[str, Any] = {}  # how it was built: granularity and its attempts, input type, opset, seconds
    error: Optional[str] = None

    @property
    def name(self) -> str:
        return Path(self.path).name if self.path else f"{self.format} {self.precision}"

    @property
    def outcome(self) -> Optional[str]:
        """passed / failed / error / reference: the entry's status, or what its ``passed`` flag says."""
        if self.status:
            return self.status
        if self.passed is None:
            return None
        return PASSED if self.passed else FAILED


class ExportReport(RunFile):
    """What ``keras-tl export`` / ``benchmark`` measured; every field but the entries is absent from hand-made or
    early reports."""

    run: Optional[str] = None
    created: Optional[str] = None
    keras_tl_version: Optional[str] = None
    command: Optional[str] = None  # export or benchmark
    split: Optional[str] = None  # the split accuracy is measured on
    samples: Optional[int] = None  # images every artifact was verified on
    labels: list[str] = []
    thresholds: dict[str, float] = {}
    benchmark: dict[str, int] = {}  # runs, warmup, threads, batch
    keras_accuracy: Optional[float] = None
    keras: Optional[ArtifactEntry] = None  # the reference row
    artifacts: list[ArtifactEntry] = []
    all_passed: Optional[bool] = None
    # export --prune / --qat (docs/compression.md); absent, not null, from the reports of other exports
    compression: Optional[dict[str, Any]] = Field(None, exclude_if=lambda section: section is None)

    @property
    def entries(self) -> list[ArtifactEntry]:
        """The reference row first, then every artifact."""
        return ([self.keras] if self.keras else []) + list(self.artifacts)

    @classmethod
    def read(cls, path: Path) -> Optional["ExportReport"]:
        """The report; None when the run was never exported."""
        return read_json(path, cls, "export report", "export the run again to rewrite it")

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, self)


# -- reading and writing ----------------------------------------------------------------------------------------
Model = TypeVar("Model", bound=BaseModel)


def read_json(path: Path, model: type[Model], what: str, fix: str) -> Optional[Model]:
    """``path`` validated as ``model``; None when it does not exist, one clear line (ending in ``fix``) when it is
    not such a file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as err:
        raise RunFolderError(f"cannot read {path}: {getattr(err, 'strerror', None) or err}") from None
    try:
        return model.model_validate_json(text)
    except ValidationError as err:
        raise RunFolderError(f"{path} is not a valid {what} ({_first_problem(err)}); {fix}") from None


def write_json(path: Path, model: BaseModel, *, exclude_none: bool = False) -> None:
    atomic_write_text(path, model.model_dump_json(indent=2, exclude_none=exclude_none) + "\n")


def _first_problem(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}" if where else first["msg"]
