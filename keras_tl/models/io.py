"""Load a trained model file safely (Keras safe mode: no code from the file ever runs)."""

from __future__ import annotations

import importlib
import zipfile
from pathlib import Path

import keras

from keras_tl.errors import ModelError
from keras_tl.models import preprocessing, text_tower  # noqa: F401 - registers keras_tl objects before deserialising

TRANSFORMER_LAYERS_MODULE = "keras_tl.models.vision_transformer_layers"


def load_trained_model(path: str | Path) -> keras.Model:
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file not found: {path}")
    check_keras_archive(path, "model")
    _register_transformer_layers_if_used(path)
    try:
        return keras.saving.load_model(str(path), compile=False, safe_mode=True)
    except Exception as err:  # noqa: BLE001 - corrupt, foreign or unsafe files all become one clear line
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelError(f"cannot load model {path}: {first[:240]}") from None


def _register_transformer_layers_if_used(path: Path) -> None:
    """Transformer bases' layers register when their module is imported, which imports keras-hub (seconds):
    only for a model whose config names them."""
    try:
        with zipfile.ZipFile(path) as archive:
            config = archive.read("config.json")
    except (KeyError, OSError, zipfile.BadZipFile):
        return  # not a .keras archive: Keras explains what it cannot read
    if TRANSFORMER_LAYERS_MODULE.encode() in config:
        importlib.import_module(TRANSFORMER_LAYERS_MODULE)


def check_keras_archive(path: Path, what: str) -> None:
    """Refuse a .keras file that is no zip archive: Keras itself reports such a file as "File not found"."""
    if path.name.endswith(".keras") and not zipfile.is_zipfile(path):
        raise ModelError(f"cannot load {what} {path}: not a valid .keras file (truncated or not a zip archive; "
                         f"{path.stat().st_size:,} bytes)")


def save_model_atomically(model: keras.Model, path: str | Path) -> None:
    """Save next to the target and rename, so an interrupted save never leaves a broken model.keras."""
    path = Path(path)
    tmp = path.with_name(path.stem + ".partial.keras")
    model.save(str(tmp))
    tmp.replace(path)
