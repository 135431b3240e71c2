"""The two-phase schedule: (1) frozen base, train the head; (2) unfreeze the top of the base (BatchNorm stays
frozen) and fine-tune at a low, warmed-up, cosine-decayed learning rate. Each phase resumes after an interruption.
Models that take text freeze the text encoder with the base in phase 1 and unfreeze its top blocks, at their
own learning rate, in phase 2."""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from keras_tl.config.schema import ExperimentConfig
from keras_tl.data import PreparedData
from keras_tl.data.epoch_seeds import new_epoch_variable
from keras_tl.data.image_cache import choose_cache, image_cache_file
from keras_tl.data.pipeline import IMAGE_INPUT, SHUFFLE_BUFFER, balanced_class_weights
from keras_tl.errors import KerasTLError
from keras_tl.models import input_size, model_input_names
from keras_tl.run import RunFolder, atomic_write_text
from keras_tl.train.cached_features import PhaseInputs, plan_cached_phase1
from keras_tl.train.fitted_phase1 import fit_phase1_head
from keras_tl.train.zero_shot_phase1 import write_zero_shot_head
from keras_tl.train.callbacks import EpochSeeds, phase_callbacks, read_history
from keras_tl.train.freezing import freeze_base, unfreeze_for_fine_tuning
from keras_tl.train.optimizers import fine_tune_optimizer, make_optimizer
from keras_tl.train.seeding import seed_everything
from keras_tl.train.speed import compile_options


class TrainingDiverged(KerasTLError):
    pass


REFUSE_HINT = "pass --overwrite to start over, or -o name=NEW for a new run"


@dataclass
class PhaseResult:
    phase: int
    epochs_run: int
    resumed: bool
    skipped: bool = False
    trainable_params: int = 0
    seconds: float = 0.0


@dataclass
class TrainResult:
    model: keras.Model
    phases: list[PhaseResult] = field(default_factory=list)


def compile_for(model: keras.Model, optimizer: keras.optimizers.Optimizer, multi_label: bool, **options) -> None:
    """Compile with our loss and metrics; ``options`` go to ``model.compile`` (jit_compile, steps_per_execution)."""
    if multi_label:
        loss = keras.losses.BinaryCrossentropy()
        metrics = [keras.metrics.BinaryAccuracy(name="accuracy")]
    else:
        loss = keras.losses.SparseCategoricalCrossentropy()
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics, **options)


def fit_two_phase(model: keras.Model, data: PreparedData, config: ExperimentConfig, run: RunFolder,
                  log=print) -> TrainResult:
    cfg = config.train
    options = compile_options(cfg)
    size = input_size(config.model)
    has_val = bool(data.splits["val"])
    monitor = cfg.monitor if has_val else cfg.monitor.replace("val_", "")
    if monitor != cfg.monitor:
        log(f"note: there is no validation split, so early stopping and the best checkpoint follow the training "
            f"{monitor} instead of train.monitor={cfg.monitor}")
    common = dict(image_size=size, batch_size=config.data.batch_size, seed=config.seed,
                  cache=image_cache_mode(config, data, size, run, model_input_names(model), log),
                  inputs=model_input_names(model))

    def cache_file(split: str):
        return image_cache_file(split, data.paths(split), size, run_cache_dir=run.image_cache_dir,
                                shared_dir=config.data.cache_dir)

    epoch = new_epoch_variable()
    train_ds = data.dataset("train", training=True, augment=config.data.augment, cache_file=cache_file("train"),
                            epoch=epoch, **common)
    val_ds = data.dataset("val", training=False, cache_file=cache_file("val"), **common) if has_val else None
    zero_shot = cfg.phase1.head == "zeroshot"  # writes its head from the text tower: no features to cache
    cached = None if zero_shot else plan_cached_phase1(model, data, config, run, epoch=epoch, log=log)
    steps = math.ceil(len(data.splits["train"]) / config.data.batch_size)
    class_weight = None
    if config.data.class_weights == "balanced" and not data.multi_label:
        class_weight = balanced_class_weights(data.targets("train"), data.num_classes)
    run.checkpoints_dir.mkdir(parents=True, exist_ok=True)
    result = TrainResult(model)

    check_epochs(run, config)
    phases = _read_phases(run)
    ran = _epochs_logged(run, phases, cfg.phase1.epochs)

    def run_phase(phase: int, epochs: int, initial_epoch: int, optimizer, cached=None) -> PhaseResult:
        done = run.done_weights_file(phase)
        trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
        head_only = cached is not None
        if done.is_file():
            planned = phases.get(str(phase), {})
            stopped_early = planned.get("epochs_run", 0) < planned.get("epochs", 0)
            if not planned or stopped_early or ran[phase] == epochs:
                model.load_weights(str(done))
                log(f"phase {phase}: already finished, weights restored")
                return PhaseResult(phase, 0, resumed=True, skipped=True, trainable_params=trainable)
            # More epochs than it finished with: continue from its last epoch's state, as after an interrupt.
            if not run.finished_dir(phase, head_only).is_dir():
                raise KerasTLError(f"phase {phase} finished without keeping its training state, so it cannot add "
                                   f"epochs: {REFUSE_HINT}")
            shutil.rmtree(run.backup_dir(phase, head_only), ignore_errors=True)
            os.replace(run.finished_dir(phase, head_only), run.backup_dir(phase, head_only))
            done.unlink()
        if epochs == 0:
            return PhaseResult(phase, 0, resumed=False, skipped=True, trainable_params=trainable)
        phases[str(phase)] = {"first_epoch": initial_epoch, "epochs": epochs}
        _write_phases(run, phases)
        seed_everything(config.seed + phase, cfg.deterministic)
        if phase == 1 and zero_shot:
            write_zero_shot_head(model, config, data.label_names, run, val_ds, log)
            return finish_one_pass_phase(trainable)
        if phase == 1 and cfg.phase1.head != "sgd":
            return run_fitted_phase(trainable)
        fit = cached.inputs() if head_only else PhaseInputs(model, train_ds, val_ds)
        steps_per_execution = max(options["steps_per_execution"], fit.min_steps_per_execution)
        compile_for(fit.model, optimizer, data.multi_label, **{**options, "steps_per_execution": steps_per_execution})
        resumed = _usable_backup(run.backup_dir(phase, head_only))
        log(f"phase {phase}: {'resuming' if resumed else 'training'} {trainable:,} parameters for {epochs} epochs"
            + (f" ({ran[phase]} done)" if resumed and ran[phase] else "") + (" on cached features" if head_only else ""))
        callbacks = phase_callbacks(run, phase, monitor=monitor, patience=cfg.early_stopping_patience,
                                    restore_best=cfg.restore_best,
                                    phase1_epochs=cfg.phase1.epochs, steps_per_epoch=steps, head_only=head_only,
                                    epoch_seeds=EpochSeeds(epoch, config.seed))
        fit.model._initial_epoch = None  # Keras keeps the epoch an earlier phase's BackupAndRestore restored
        try:
            history = fit.model.fit(fit.train, validation_data=fit.val, epochs=initial_epoch + epochs,
                                    initial_epoch=initial_epoch, steps_per_epoch=fit.steps_per_epoch,
                                    callbacks=callbacks, class_weight=class_weight,
                                    shuffle=False, verbose=cfg.verbose)  # the tf.data pipeline shuffles, seeded
        finally:
            if head_only:
                cached.cleanup()
        _raise_if_diverged(history, phase, run, head_only)
        best = run.best_weights_file(phase, head_only)
        if cfg.restore_best and best.is_file():
            fit.model.load_weights(str(best))  # the head model shares its layers with the full model
        model.save_weights(str(done))
        phases[str(phase)]["epochs_run"] = _epochs_logged(run, phases, cfg.phase1.epochs)[phase]
        _write_phases(run, phases)
        _keep_finished_state(run, phase, head_only)
        return PhaseResult(phase, len(history.epoch), resumed=resumed, trainable_params=trainable)

    def run_fitted_phase(trainable: int) -> PhaseResult:
        if cached is None:
            raise KerasTLError(f"train.phase1.head: {cfg.phase1.head} needs cached features, which this run cannot "
                               "use (see the phase 1 line above): use head: sgd")
        log(f"phase 1: fitting a {cfg.phase1.head} head ({trainable:,} parameters) on cached features")
        try:
            fit_phase1_head(cached, config, run, log)
        finally:
            cached.cleanup()
        return finish_one_pass_phase(trainable)

    def finish_one_pass_phase(trainable: int) -> PhaseResult:
        model.save_weights(str(run.done_weights_file(1)))
        phases["1"]["epochs_run"] = 1
        _write_phases(run, phases)
        return PhaseResult(1, 1, resumed=False, trainable_params=trainable)

    def timed(phase: int, *args) -> PhaseResult:
        started = time.perf_counter()
        outcome = run_phase(phase, *args)
        outcome.seconds = time.perf_counter() - started
        if not outcome.skipped:
            log(f"phase {phase}: finished in {outcome.seconds:.1f} s")
        return outcome

    freeze_base(model)
    result.phases.append(timed(1, cfg.phase1.epochs, 0, make_optimizer(cfg.phase1, cfg.phase1.learning_rate),
                               cached))
    unfrozen, text_unfrozen = unfreeze_for_fine_tuning(model, config)
    if cfg.phase2.epochs and not unfrozen and not text_unfrozen:
        log("phase 2: the fine-tune boundary leaves no trainable base layer; only the head trains")
    optimizer = fine_tune_optimizer(cfg.phase2, unfrozen, steps, text_layers=text_unfrozen,
                                    text_learning_rate=config.text.learning_rate)
    result.phases.append(timed(2, cfg.phase2.epochs, cfg.phase1.epochs, optimizer))
    return result


def image_cache_mode(config: ExperimentConfig, data: PreparedData, size: int, run: RunFolder, inputs: list[str],
                     log=print) -> str:
    """data.cache, with auto settled for this run's splits on this machine (and the reason logged in one line)."""
    cfg = config.data
    if cfg.cache != "auto":
        return cfg.cache
    if IMAGE_INPUT not in inputs:
        return "none"  # a text-only model decodes no image
    folder = Path(cfg.cache_dir).expanduser() if cfg.cache_dir else run.image_cache_dir
    train = len(data.splits["train"])
    choice = choose_cache("auto", cached_images=train + len(data.splits["val"]),
                          shuffle_images=min(train, SHUFFLE_BUFFER), image_size=size, folder=folder,
                          memory_mb=cfg.cache_memory_mb, disk_mb=cfg.cache_disk_mb)
    log(choice.reason)
    return choice.mode


def check_epochs(run: RunFolder, config: ExperimentConfig) -> None:
    """Refuse epoch settings that contradict the epochs a run already trained (epochs cannot be untrained)."""
    ran = _epochs_logged(run, _read_phases(run), config.train.phase1.epochs)
    for phase, epochs in ((1, config.train.phase1.epochs), (2, config.train.phase2.epochs)):
        if ran[phase] > epochs:
            raise KerasTLError(f"phase {phase} already ran {ran[phase]} epochs, more than "
                               f"train.phase{phase}.epochs={epochs}: {REFUSE_HINT}")


def _read_phases(run: RunFolder) -> dict:
    try:
        return json.loads(run.phases_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # a new run, or one of a keras_tl that kept no record


def _write_phases(run: RunFolder, phases: dict) -> None:
    atomic_write_text(run.phases_file, json.dumps(phases, indent=1))


def _epochs_logged(run: RunFolder, phases: dict, phase1_epochs: int) -> dict[int, int]:
    """Epochs in history.csv per phase. Phase 2's epochs are numbered from phase 1's planned epochs, so once
    phase 2 has started that number may not change."""
    started = phases.get("2", {}).get("first_epoch")
    if started is None and (run.done_weights_file(2).is_file() or run.backup_dir(2).is_dir()):
        started = phase1_epochs  # a run of a keras_tl that kept no record
    if started is not None and started != phase1_epochs:
        raise KerasTLError(f"phase 2 of this run already started after {started} phase-1 epochs; "
                           f"train.phase1.epochs={phase1_epochs} would renumber its epochs: {REFUSE_HINT}")
    epochs = [int(row["epoch"]) for row in read_history(run.history_file)]
    boundary = math.inf if started is None else started
    return {1: sum(e < boundary for e in epochs), 2: sum(e >= boundary for e in epochs)}


def _usable_backup(backup) -> bool:
    """Whether a BackupAndRestore state can be resumed. A save interrupted after the weights but before the
    metadata would make Keras restore new weights at epoch 0: go back to the previous copy, or drop it."""
    metadata = backup / "training_metadata.json"
    if backup.is_dir() and not metadata.is_file():
        previous = [backup / "latest.weights.h5.bkp", backup / "training_metadata.json.bkp"]
        if all(p.is_file() for p in previous):
            os.replace(previous[0], backup / "latest.weights.h5")
            os.replace(previous[1], metadata)
        else:
            shutil.rmtree(backup)
    return metadata.is_file()


def _keep_finished_state(run: RunFolder, phase: int, head_only: bool) -> None:
    """Keep the phase's last training state (weights and optimizer) for a later rerun with more epochs; its
    previous copy (``.bkp``) is only needed while an interrupt can land mid-write."""
    backup, kept = run.backup_dir(phase, head_only), run.finished_dir(phase, head_only)
    if not backup.is_dir():
        return
    for copy in backup.glob("*.bkp"):
        copy.unlink()
    shutil.rmtree(kept, ignore_errors=True)
    os.replace(backup, kept)


def _raise_if_diverged(history: keras.callbacks.History, phase: int, run: RunFolder, head_only: bool) -> None:
    losses = history.history.get("loss", [])
    if losses and not np.isfinite(losses[-1]):
        epoch = history.epoch[len(losses) - 1] + 1 if history.epoch else len(losses)
        best = run.best_weights_file(phase, head_only)
        kept = f"; the best checkpoint so far is kept at {best}" if best.is_file() else ""
        raise TrainingDiverged(f"phase {phase} diverged at epoch {epoch} (loss is NaN/inf): lower "
                               f"train.phase{phase}.learning_rate{kept}")

