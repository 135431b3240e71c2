"""Typed experiment configuration (YAML + overrides)."""

from keras_tl.config.loader import config_to_dict, load_config, parse_override, read_yaml, save_config, validate_config
from keras_tl.config.schema import (
    AugmentConfig,
    DataConfig,
    EvaluateConfig,
    ExperimentConfig,
    ExportConfig,
    FineTuneConfig,
    ModelConfig,
    PhaseConfig,
    TextConfig,
    TrainConfig,
)

__all__ = [
    "AugmentConfig",
    "DataConfig",
    "EvaluateConfig",
    "ExperimentConfig",
    "ExportConfig",
    "FineTuneConfig",
    "ModelConfig",
    "PhaseConfig",
    "TextConfig",
    "TrainConfig",
    "config_to_dict",
    "load_config",
    "parse_override",
    "read_yaml",
    "save_config",
    "validate_config",
]
