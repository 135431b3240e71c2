"""Callbacks of one training phase: resume, best checkpoint, early stop, history, TensorBoard, NaN stop."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Optional

import keras
import tensorflow as tf

from keras_tl.data.epoch_seeds import reset_seed_states, seed_states
from keras_tl.run import RunFolder, atomic_write_text


class EpochHistory(keras.callbacks.Callback):
    """history.csv with exactly one row per epoch, in the columns of Keras' CSVLogger.

    A resumed epoch replaces the row an interrupted attempt already logged for it (and any later one), and the
    file is replaced atomically, so an interrupt at any moment leaves either the old or the new file."""

    def __init__(self, path: Path):
        super().__init__()
        self.path = path

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        fields, rows = [], []
        if self.path.is_file():
            with self.path.open(newline="", encoding="utf-8") as handle:
                reader = csv.DictReader(handle)
                fields, rows = list(reader.fieldnames or []), list(reader)
        rows = [row for row in rows if _epoch_of(row) is not None and _epoch_of(row) < epoch]
        keys = sorted(logs)
        if not any(key.startswith("val_") for key in keys):
            keys += [f"val_{key}" for key in keys]  # as CSVLogger: a run without validation has NA columns
        fields = fields or ["epoch"]
        fields += [key for key in keys if key not in fields]
        rows.append({"epoch": epoch, **{key: logs.get(key, "NA") for key in keys}})
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=fields, restval="NA", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.path, text.getvalue())


def _epoch_of(row: dict) -> Optional[int]:
    try:
        return int(row["epoch"])
    except (KeyError, TypeError, ValueError):
        return None


class TimelineTensorBoard(keras.callbacks.TensorBoard):
    """TensorBoard for one phase of the two-phase timeline.

    Epoch summaries already continue across phases (phase 2 starts at ``initial_epoch``), but Keras also logs
    ``evaluation_*_vs_iterations`` at the optimizer's step, which phase 2's new optimizer restarts at 0: those
    steps are shifted by phase 1's planned steps so both phases share one x axis."""

    def __init__(self, log_dir: str, *, step_offset: int = 0, **kwargs):
        super().__init__(log_dir, **kwargs)
        self.step_offset = step_offset

    def on_test_end(self, logs=None):
        iterations = getattr(self.model.optimizer, "iterations", None)
        if iterations is not None:
            step = self.step_offset + int(keras.ops.convert_to_numpy(iterations))
            with self._val_writer.as_default():
                for name, value in (logs or {}).items():
                    self.summary.scalar(f"evaluation_{name}_vs_iterations", value, step=step)
        self._pop_writer()


class EpochSeeds(keras.callbacks.Callback):
    """Tells the training pipeline which epoch starts and restarts the model's own seed generators (dropout)
    from (seed, epoch): a resumed epoch draws the batches and masks an uninterrupted run would have drawn."""

    def __init__(self, epoch: tf.Variable, seed: int):
        super().__init__()
        self.epoch, self.seed = epoch, seed

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch.assign(epoch)
        reset_seed_states(seed_states(self.model.variables), self.seed, epoch)


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """Early stopping that, on a resumed phase, first replays the epochs already in history.csv: the run stops
    at the epoch an uninterrupted run would have stopped at."""

    def __init__(self, history: Path, phase: int, phase1_epochs: int, **kwargs):
        super().__init__(**kwargs)
        self.history, self.phase, self.phase1_epochs = history, phase, phase1_epochs
        self._replayed = False

    def on_epoch_begin(self, epoch, logs=None):
        if self._replayed:
            return
        self._replayed = True
        better = (lambda a, b: a > b) if self.mode == "max" else (lambda a, b: a < b)
        for _, value in phase_values(self.history, self.phase, self.phase1_epochs, self.monitor, before=epoch):
            self.wait += 1
            if self.best is None or better(value, self.best):
                self.best, self.wait = value, 0


def phase_callbacks(run: RunFolder, phase: int, *, monitor: str, patience: int, restore_best: bool,
                    phase1_epochs: int, steps_per_epoch: int = 0,
                    head_only: bool = False, epoch_seeds: Optional[EpochSeeds] = None) -> list[keras.callbacks.Callback]:
    callbacks: list[keras.callbacks.Callback] = [epoch_seeds] if epoch_seeds is not None else []
    callbacks += [
        # History first: if a kill lands between this row and the backup below, the resumed run logs that
        # epoch again (replacing its row) instead of leaving a gap.
        EpochHistory(run.history_file),
        keras.callbacks.TerminateOnNaN(),
    ]
    if restore_best:
        mode = "max" if "accuracy" in monitor else "min"
        best = best_so_far(run.history_file, phase, phase1_epochs, monitor, mode)
        if best is None:
            # Keras treats a missing threshold as "anything improves", even a NaN epoch: start from the worst value.
            best = -math.inf if mode == "max" else math.inf
        callbacks.append(keras.callbacks.ModelCheckpoint(
            str(run.best_weights_file(phase, head_only)), monitor=monitor, mode=mode, save_best_only=True,
            save_weights_only=True, initial_value_threshold=best))
    if patience > 0:  # without a validation split, monitor is a training metric
        callbacks.append(ResumableEarlyStopping(run.history_file, phase, phase1_epochs, monitor=monitor,
                                                patience=patience, mode="max" if "accuracy" in monitor else "min"))
    callbacks += [
        TimelineTensorBoard(str(run.tensorboard_dir), write_graph=False, profile_batch=0,
                            step_offset=phase1_epochs * steps_per_epoch if phase == 2 else 0),
        # Resume: rerunning the same command continues from the last finished epoch of this phase. Last, so
        # that an epoch counts as finished only once its best checkpoint and history row are written.
        keras.callbacks.BackupAndRestore(str(run.backup_dir(phase, head_only)), save_freq="epoch",
                                         delete_checkpoint=False, double_checkpoint=True),
    ]
    return callbacks


def read_history(path: Path, phase1_epochs: Optional[int] = None) -> list[dict]:
    """history.csv rows, one per epoch: a resumed epoch that was logged twice keeps its last row.

    With ``phase1_epochs``, each row gets its "phase": phase 2 always starts at epoch index phase1_epochs
    (even when phase 1 stopped early), so the epoch number tells the phases apart."""
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    by_epoch: dict[int, dict] = {}
    for row in rows:
        if _epoch_of(row) is not None:
            by_epoch[_epoch_of(row)] = row
    rows = [by_epoch[e] for e in sorted(by_epoch)]
    if phase1_epochs is not None:
        for row in rows:
            row["phase"] = 1 if int(row["epoch"]) < phase1_epochs else 2
    return rows


def history_value(row: dict, key: str) -> Optional[float]:
    """A metric of a history.csv row; None when it has no value ('NA' when there is no val split, or NaN)."""
    try:
        value = float(row.get(key))
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def phase_values(history: Path, phase: int, phase1_epochs: int, monitor: str,
                 before: Optional[int] = None) -> list[tuple[int, float]]:
    """(epoch, value) of the monitored metric for this phase's logged epochs (NaNs left out), in epoch order."""
    values = []
    for row in read_history(history, phase1_epochs):
        if row["phase"] != phase or (before is not None and int(row["epoch"]) >= before):
            continue
        value = history_value(row, monitor)
        if value is not None:
            values.append((int(row["epoch"]), value))
    return values


def best_so_far(history: Path, phase: int, phase1_epochs: int, monitor: str, mode: str) -> Optional[float]:
    """The best monitored value already reached in this phase (so a resumed run never overwrites a better checkpoint)."""
    values = [value for _, value in phase_values(history, phase, phase1_epochs, monitor)]
    if not values:
        return None
    return max(values) if mode == "max" else min(values)
