"""The two-phase transfer-learning schedule, freezing rules, optimizers and callbacks."""

from keras_tl.train.cached_features import CachedPhase1, PhaseInputs, head_of, plan_cached_phase1
from keras_tl.train.callbacks import history_value, read_history
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
from keras_tl.train.speed import compile_options, float32_model, precision_policy
from keras_tl.train.trainer import PhaseResult, TrainingDiverged, TrainResult, compile_for, fit_two_phase

__all__ = [
    "CachedPhase1",
    "PhaseInputs",
    "PhaseResult",
    "TrainResult",
    "TrainingDiverged",
    "boundary_index",
    "compile_for",
    "compile_options",
    "fine_tune_optimizer",
    "fit_two_phase",
    "float32_model",
    "freeze_base",
    "head_of",
    "make_optimizer",
    "plan_cached_phase1",
    "precision_policy",
    "history_value",
    "read_history",
    "seed_everything",
    "trainable_per_phase",
    "unfreeze_for_fine_tuning",
    "unfreeze_text_top",
    "unfreeze_top",
    "warmup_cosine",
]
