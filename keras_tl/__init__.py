"""keras_tl: transfer learning for image (and image+text) classifiers that ship to phones and edge boards.

Public API (the CLI is a thin layer over it)::

    import keras_tl
    config = keras_tl.load_config("configs/quickstart.yaml", ["train.phase1.epochs=2"])
    run = keras_tl.train_model(config)      # -> RunFolder
    keras_tl.evaluate_model(run.path, "test")

Attributes are imported on first use, so ``keras-tl --help`` does not pay for importing TensorFlow.
"""

import importlib
import os as _os

# TensorFlow's C++ logs drown the CLI's output; users can still choose another level themselves.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"

_EXPORTS = {
    "train_model": "keras_tl.api",
    "evaluate_model": "keras_tl.api",
    "check_data": "keras_tl.api",
    "write_run_report": "keras_tl.api",
    "compare_runs": "keras_tl.evaluate.compare",
    "run_folder_for": "keras_tl.api",
    "ExperimentConfig": "keras_tl.config",
    "load_config": "keras_tl.config",
    "KerasTLError": "keras_tl.errors",
    "KerasPredictor": "keras_tl.predict",
    "Prediction": "keras_tl.predict",
    "predict_files": "keras_tl.predict",
    "RunFolder": "keras_tl.run",
    "TextTokenizer": "keras_tl.data",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'keras_tl' has no attribute {name!r}")
