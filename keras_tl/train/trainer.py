"""The two-phase schedule: (1) frozen base, train the head; (2) unfreeze the top of the base (BatchNorm stays
frozen) and fine-tune at a low, warmed-up, cosine-decayed learning rate. Each phase resumes after an interruption.
Models that take text freeze the text encoder with the base in phase 1 and unfreeze its top blocks, at their
own learning rate, in phase 2."""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass, field

import keras
import numpy as np

from keras_tl.config.schema import ExperimentConfig
from keras_tl.data import PreparedData
from keras_tl.data.pipeline import balanced_class_weights
from keras_tl.errors import KerasTLError
from keras_tl.models import input_size, model_input_names
from keras_tl.run import RunFolder
from keras_tl.train.callbacks import backup_dir, best_weights_file, done_weights_file, phase_callbacks
from keras_tl.train.freezing import freeze_base, unfreeze_for_fine_tuning
from keras_tl.train.optimizers import fine_tune_optimizer, make_optimizer
from keras_tl.train.seeding import seed_everything


class TrainingDiverged(KerasTLError):
    pass


@dataclass
class PhaseResult:
    phase: int
    epochs_run: int
    resumed: bool
    skipped: bool = False
    trainable_params: int = 0


@dataclass
class TrainResult:
    model: keras.Model
    phases: list[PhaseResult] = field(default_factory=list)


def compile_for(model: keras.Model, optimizer: keras.optimizers.Optimizer, multi_label: bool) -> None:
    if multi_label:
        loss = keras.losses.BinaryCrossentropy()
        metrics = [keras.metrics.BinaryAccuracy(name="accuracy")]
    else:
        loss = keras.losses.SparseCategoricalCrossentropy()
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)


def fit_two_phase(model: keras.Model, data: PreparedData, config: ExperimentConfig, run: RunFolder,
                  log=print) -> TrainResult:
    cfg = config.train
    size = input_size(config.model)
    has_val = bool(data.splits["val"])
    monitor = cfg.monitor if has_val else cfg.monitor.replace("val_", "")
    common = dict(image_size=size, batch_size=config.data.batch_size, seed=config.seed, cache=config.data.cache,
                  inputs=model_input_names(model))
    train_ds = data.dataset("train", training=True, augment=config.data.augment,
                            cache_file=run.data_dir / "tfcache" / "train", **common)
    val_ds = data.dataset("val", training=False, cache_file=run.data_dir / "tfcache" / "val", **common) if has_val else None
    steps = math.ceil(len(data.splits["train"]) / config.data.batch_size)
    class_weight = None
    if config.data.class_weights == "balanced" and not data.multi_label:
        class_weight = balanced_class_weights(data.targets("train"), data.num_classes)
    run.checkpoints_dir.mkdir(parents=True, exist_ok=True)
    result = TrainResult(model)

    def run_phase(phase: int, epochs: int, initial_epoch: int, optimizer) -> PhaseResult:
        done = done_weights_file(run, phase)
        trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
        if done.is_file():
            model.load_weights(str(done))
            log(f"phase {phase}: already finished, weights restored")
            return PhaseResult(phase, 0, resumed=True, skipped=True, trainable_params=trainable)
        if epochs == 0:
            return PhaseResult(phase, 0, resumed=False, skipped=True, trainable_params=trainable)
        seed_everything(config.seed + phase, cfg.deterministic)
        compile_for(model, optimizer, data.multi_label)
        resumed = (backup_dir(run, phase) / "training_metadata.json").is_file()
        log(f"phase {phase}: {'resuming' if resumed else 'training'} {trainable:,} parameters for {epochs} epochs")
        callbacks = phase_callbacks(run, phase, monitor=monitor, patience=cfg.early_stopping_patience,
                                    has_validation=has_val, restore_best=cfg.restore_best,
                                    phase1_epochs=cfg.phase1.epochs, steps_per_epoch=steps)
        model._initial_epoch = None  # Keras keeps the epoch an earlier phase's BackupAndRestore restored
        history = model.fit(train_ds, validation_data=val_ds, epochs=initial_epoch + epochs,
                            initial_epoch=initial_epoch, callbacks=callbacks, class_weight=class_weight,
                            shuffle=False, verbose=cfg.verbose)  # the tf.data pipeline shuffles, seeded
        _raise_if_diverged(history, phase, run)
        best = best_weights_file(run, phase)
        if cfg.restore_best and best.is_file():
            model.load_weights(str(best))
        model.save_weights(str(done))
        shutil.rmtree(backup_dir(run, phase), ignore_errors=True)
        return PhaseResult(phase, len(history.epoch), resumed=resumed, trainable_params=trainable)

    freeze_base(model)
    result.phases.append(run_phase(1, cfg.phase1.epochs, 0, make_optimizer(cfg.phase1, cfg.phase1.learning_rate)))
    unfrozen, text_unfrozen = unfreeze_for_fine_tuning(model, config)
    if cfg.phase2.epochs and not unfrozen and not text_unfrozen:
        log("phase 2: the fine-tune boundary leaves no trainable base layer; only the head trains")
    optimizer = fine_tune_optimizer(cfg.phase2, unfrozen, steps, text_layers=text_unfrozen,
                                    text_learning_rate=config.text.learning_rate)
    result.phases.append(run_phase(2, cfg.phase2.epochs, cfg.phase1.epochs, optimizer))
    return result


def _raise_if_diverged(history: keras.callbacks.History, phase: int, run: RunFolder) -> None:
    losses = history.history.get("loss", [])
    if losses and not np.isfinite(losses[-1]):
        epoch = history.epoch[len(losses) - 1] + 1 if history.epoch else len(losses)
        best = best_weights_file(run, phase)
        kept = f"; the best checkpoint so far is kept at {best}" if best.is_file() else ""
        raise TrainingDiverged(f"phase {phase} diverged at epoch {epoch} (loss is NaN/inf): lower "
                               f"train.phase{phase}.learning_rate{kept}")

