"""Callbacks of one training phase: resume, best checkpoint, early stop, history, TensorBoard, NaN stop."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Optional

import keras

from keras_tl.run import RunFolder


def backup_dir(run: RunFolder, phase: int) -> Path:
    return run.checkpoints_dir / f"phase{phase}"


def best_weights_file(run: RunFolder, phase: int) -> Path:
    return run.checkpoints_dir / f"phase{phase}.best.weights.h5"


def done_weights_file(run: RunFolder, phase: int) -> Path:
    return run.checkpoints_dir / f"phase{phase}.done.weights.h5"


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


def phase_callbacks(run: RunFolder, phase: int, *, monitor: str, patience: int, has_validation: bool,
                    restore_best: bool, phase1_epochs: int, steps_per_epoch: int = 0) -> list[keras.callbacks.Callback]:
    callbacks: list[keras.callbacks.Callback] = [
        # History first: if a kill lands between this row and the backup below, the resumed run logs that
        # epoch again (read_history keeps the last row) instead of leaving a gap.
        keras.callbacks.CSVLogger(str(run.history_file), append=True),
        keras.callbacks.TerminateOnNaN(),
    ]
    if restore_best:
        mode = "max" if "accuracy" in monitor else "min"
        best = best_so_far(run.history_file, phase, phase1_epochs, monitor, mode)
        if best is None:
            # Keras treats a missing threshold as "anything improves", even a NaN epoch: start from the worst value.
            best = -math.inf if mode == "max" else math.inf
        callbacks.append(keras.callbacks.ModelCheckpoint(
            str(best_weights_file(run, phase)), monitor=monitor, mode=mode, save_best_only=True,
            save_weights_only=True, initial_value_threshold=best))
    if patience > 0 and has_validation:
        callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, patience=patience,
                                                       mode="max" if "accuracy" in monitor else "min"))
    callbacks += [
        TimelineTensorBoard(str(run.tensorboard_dir), write_graph=False, profile_batch=0,
                            step_offset=phase1_epochs * steps_per_epoch if phase == 2 else 0),
        # Resume: rerunning the same command continues from the last finished epoch of this phase. Last, so
        # that an epoch counts as finished only once its best checkpoint and history row are written.
        keras.callbacks.BackupAndRestore(str(backup_dir(run, phase)), save_freq="epoch", delete_checkpoint=False,
                                         double_checkpoint=True),
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
        try:
            by_epoch[int(row["epoch"])] = row
        except (KeyError, ValueError):
            continue
    rows = [by_epoch[e] for e in sorted(by_epoch)]
    if phase1_epochs is not None:
        for row in rows:
            row["phase"] = 1 if int(row["epoch"]) < phase1_epochs else 2
    return rows


def best_so_far(history: Path, phase: int, phase1_epochs: int, monitor: str, mode: str) -> Optional[float]:
    """The best monitored value already reached in this phase (so a resumed run never overwrites a better checkpoint)."""
    values = []
    for row in read_history(history, phase1_epochs):
        if row["phase"] == phase:
            try:
                value = float(row.get(monitor, "nan"))
            except ValueError:
                continue
            if not math.isnan(value):
                values.append(value)
    if not values:
        return None
    return max(values) if mode == "max" else min(values)
