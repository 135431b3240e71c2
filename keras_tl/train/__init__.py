"""The two-phase transfer-learning schedule, freezing rules, optimizers and callbacks."""

from keras_tl.train.callbacks import read_history
from keras_tl.train.freezing import (
    boundary_index,
    freeze_base,
    trainable_per_phase,
    unfreeze_for_fine_tuning,
    unfreeze_text_top,
    unfreeze_top,
)
from keras_tl.train.optimizers import fine_tune_optimizer, make_optimizer, warmup_cosine
from keras_tl.train.seeding import seed_everything
from keras_tl.train.trainer import PhaseResult, TrainingDiverged, TrainResult, compile_for, fit_two_phase

__all__ = [
    "PhaseResult",
    "TrainResult",
    "TrainingDiverged",
    "boundary_index",
    "compile_for",
    "fine_tune_optimizer",
    "fit_two_phase",
    "freeze_base",
    "make_optimizer",
    "read_history",
    "seed_everything",
    "trainable_per_phase",
    "unfreeze_for_fine_tuning",
    "unfreeze_text_top",
    "unfreeze_top",
    "warmup_cosine",
]
