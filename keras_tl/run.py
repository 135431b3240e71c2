"""The run folder: the one place a training run writes to, and what every later command reads.

Layout (docs/architecture.md): config.yaml, labels.txt, splits/, model.keras, history.csv, metrics.json,
plots/, report.md, report.html, predictions/, tensorboard/, checkpoints/, export/ -- plus data/ for the scan report
and converted images, and tokenizer.json for models that take text. RunFolder names every path; what the result
files hold is typed in keras_tl/run_files.py.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Optional

from keras_tl.errors import RunFolderError


# Every entry keras_tl writes at the top of a run folder: the only names --overwrite (or a retry after a failed
# attempt) may delete. Anything else there belongs to the user.
OWN_ENTRIES = frozenset({
    "config.yaml", "labels.txt", "splits", "model.keras", "history.csv", "metrics.json", "plots", "report.md",
    "report.html", "tensorboard", "checkpoints", "export", "data", "tokenizer.json", "predictions", "training.json",
    "features",
})
_OWN_TEMPORARIES = frozenset({"model.partial.keras", ".write-test"})


def is_own_entry(name: str) -> bool:
    """Whether keras_tl writes this top-level name (atomic writes leave NAME.tmp behind when interrupted)."""
    return name in OWN_ENTRIES or name in _OWN_TEMPORARIES or (name.endswith(".tmp") and name[:-4] in OWN_ENTRIES)


class RunFolder:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    # -- layout ---------------------------------------------------------------------------------------------
    @property
    def config_file(self) -> Path:
        return self.path / "config.yaml"

    @property
    def training_file(self) -> Path:
        """The command that trained the run and each attempt's wall time (a resumed run has several)."""
        return self.path / "training.json"

    def training_record(self) -> dict:
        if not self.training_file.is_file():
            return {}
        try:
            return json.loads(self.training_file.read_text(encoding="utf-8"))
        except ValueError:
            return {}  # half-written by a crash: the report falls back to file times

    def record_training(self, command: Optional[str], started: float, finished: float) -> None:
        record = self.training_record()
        record.setdefault("attempts", []).append({
            "command": command, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
            "seconds": round(finished - started, 1)})
        record["seconds"] = round(sum(a["seconds"] for a in record["attempts"]), 1)
        atomic_write_text(self.training_file, json.dumps(record, indent=1))

    @property
    def labels_file(self) -> Path:
        return self.path / "labels.txt"

    @property
    def splits_dir(self) -> Path:
        return self.path / "splits"

    @property
    def model_file(self) -> Path:
        return self.path / "model.keras"

    @property
    def tokenizer_file(self) -> Path:
        """The text tokenizer of image+text and text models (tokenizers' JSON format, no TensorFlow needed)."""
        return self.path / "tokenizer.json"

    @property
    def history_file(self) -> Path:
        return self.path / "history.csv"

    @property
    def metrics_file(self) -> Path:
        return self.path / "metrics.json"

    @property
    def plots_dir(self) -> Path:
        return self.path / "plots"

    @property
    def report_file(self) -> Path:
        return self.path / "report.md"

    @property
    def html_report_file(self) -> Path:
        """report.md rendered, with every image embedded."""
        return self.path / "report.html"

    def split_plot_file(self, kind: str, split: str) -> Path:
        """plots/KIND_SPLIT.png of an evaluated split: confusion, misclassified or slices."""
        return self.plots_dir / f"{kind}_{split}.png"

    @property
    def predictions_dir(self) -> Path:
        return self.path / "predictions"

    def predictions_file(self, split: str) -> Path:
        """Every image of an evaluated split with its prediction (keras_tl.run_files.PredictionRow)."""
        return self.predictions_dir / f"{split}.csv"

    @property
    def tensorboard_dir(self) -> Path:
        return self.path / "tensorboard"

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / "checkpoints"

    def _checkpoint_stem(self, phase: int, head_only: bool) -> str:
        # A head trained on cached features checkpoints the head model's weights, which the full model cannot load.
        return f"phase{phase}-head" if head_only else f"phase{phase}"

    def backup_dir(self, phase: int, head_only: bool = False) -> Path:
        """BackupAndRestore's state of an unfinished phase: what an interrupted run resumes from."""
        return self.checkpoints_dir / self._checkpoint_stem(phase, head_only)

    def best_weights_file(self, phase: int, head_only: bool = False) -> Path:
        return self.checkpoints_dir / f"{self._checkpoint_stem(phase, head_only)}.best.weights.h5"

    def done_weights_file(self, phase: int) -> Path:
        """The weights a finished phase ended with (a rerun skips the phase)."""
        return self.checkpoints_dir / f"phase{phase}.done.weights.h5"

    def finished_dir(self, phase: int, head_only: bool = False) -> Path:
        """Where a finished phase keeps its last BackupAndRestore state, so that more epochs can continue it later."""
        return self.checkpoints_dir / f"{self._checkpoint_stem(phase, head_only)}.finished"

    @property
    def phases_file(self) -> Path:
        """Per phase: its first epoch, planned epochs and, once finished, the epochs it ran (early stop: fewer)."""
        return self.checkpoints_dir / "phases.json"

    @property
    def export_dir(self) -> Path:
        return self.path / "export"

    @property
    def export_report_file(self) -> Path:
        """What export and benchmark measured (keras_tl.run_files.ExportReport)."""
        return self.export_dir / "export_report.json"

    @property
    def pruned_model_file(self) -> Path:
        """export --prune: the pruned copy of model.keras that every artifact is built from and verified against."""
        return self.export_dir / "model_pruned.keras"

    @property
    def qat_reference_file(self) -> Path:
        """export --qat: the QAT Keras model's outputs on the verification images, which its int8 file is verified
        against."""
        return self.export_dir / "model_qat_int8.reference.npz"

    @property
    def data_dir(self) -> Path:
        return self.path / "data"

    @property
    def features_dir(self) -> Path:
        """Where `keras-tl features` writes SPLIT.npz unless told another file."""
        return self.path / "features"

    @property
    def scan_report_file(self) -> Path:
        return self.data_dir / "scan_report.json"

    @property
    def converted_dir(self) -> Path:
        return self.data_dir / "converted"

    @property
    def image_cache_dir(self) -> Path:
        """tf.data cache files of data.cache: disk when data.cache_dir does not name a shared folder."""
        return self.data_dir / "tfcache"

    def feature_store_file(self, split: str) -> Path:
        """Cached phase-1 features too large for train.feature_memory_mb, memory-mapped."""
        return self.data_dir / "features" / f"{split}.npy"

    # -- reading ----------------------------------------------------------------------------------------------
    def labels(self) -> list[str]:
        if not self.labels_file.is_file():
            raise RunFolderError(f"{self.path} is not a keras-tl run folder (no labels.txt)")
        return [line for line in self.labels_file.read_text(encoding="utf-8").splitlines() if line]

    def write_labels(self, labels: list[str]) -> None:
        atomic_write_text(self.labels_file, "".join(label + "\n" for label in labels))

    def config(self):
        from keras_tl.config import read_yaml, validate_config

        if not self.config_file.is_file():
            raise RunFolderError(f"{self.path} is not a keras-tl run folder (no config.yaml)")
        return validate_config(read_yaml(self.config_file))

    def require_model(self) -> Path:
        if not self.config_file.is_file():
            raise RunFolderError(f"{self.path} is not a keras-tl run folder (no config.yaml)")
        if not self.model_file.is_file():
            raise RunFolderError(f"{self.path} has no trained model (model.keras); run 'keras-tl train' first")
        return self.model_file

    def ensure(self) -> "RunFolder":
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            probe = self.path / ".write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as err:
            raise RunFolderError(f"cannot write to run folder {self.path}: {err.strerror or err}") from None
        return self

    def writable(self) -> bool:
        """Whether files can be created here (a read-only mount or an immutable folder refuses root too)."""
        try:
            probe = self.path / ".write-test"
            probe.write_text("")
            probe.unlink()
            return True
        except OSError:
            return False


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so an interruption never leaves a half-written file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def find_run(path: str | Path) -> Optional[RunFolder]:
    run = RunFolder(path)
    return run if run.config_file.is_file() else None
