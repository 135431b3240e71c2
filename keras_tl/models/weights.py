"""``model.weights``: imagenet (keras.applications downloads them), none, or a local file to take the base from.

A local file may be a ``.weights.h5`` saved from the bare base model, a legacy ``.h5`` weights file (what
keras.applications caches), or a full ``.keras``/``.h5`` model that contains the base (nested or flat).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Optional

import keras

from keras_tl.errors import ModelError
from keras_tl.models.io import check_keras_archive

WEIGHTED_FILE_SUFFIXES = (".keras", ".h5")

def weights_source(value: str) -> Optional[str | Path]:
    """'imagenet', None (random init), or an existing local Path."""
    text = (value or "").strip()
    if text.lower() == "imagenet":
        return "imagenet"
    if text.lower() in ("none", "null", "random", ""):
        return None
    path = Path(text).expanduser()
    if not path.is_file():
        raise ModelError(f"model.weights file not found: {path} (use imagenet, none, or a .weights.h5/.h5/.keras file)")
    if not path.name.endswith(WEIGHTED_FILE_SUFFIXES):
        raise ModelError(f"model.weights {path} must be a .weights.h5, .h5 or .keras file")
    return path


def assign_weights(layer: keras.layers.Layer, values: list) -> None:
    """``layer.set_weights(values)`` plus the step it leaves out for layers whose computation is derived from their
    weights: an adapted Normalization (EfficientNet's preprocessing) goes on using its old mean and variance until
    ``finalize_state`` reads the assigned ones. ``layer`` may be a whole model."""
    layer.set_weights(values)
    for leaf in _all_layers(layer) if isinstance(layer, keras.Model) else [layer]:
        if hasattr(leaf, "finalize_state"):
            leaf.finalize_state()


def copy_base_weights(path: Path, target_layers: list[keras.layers.Layer], bare_base: keras.Model, what: str) -> None:
    """Fill ``target_layers`` (the base inside our model, in order) from the file at ``path``."""
    target = [layer for layer in target_layers if layer.weights]
    candidates = _candidate_layer_lists(path, bare_base)
    best = min(candidates, key=lambda c: abs(len(c) - len(target))) if candidates else []
    for candidate in candidates:
        if _shapes(candidate) == _shapes(target):
            for src, dst in zip(candidate, target):
                assign_weights(dst, src.get_weights())
            return
    raise ModelError(f"model.weights {path} does not match {what}: {_first_mismatch(best, target)}")


def _candidate_layer_lists(path: Path, bare_base: keras.Model) -> list[list[keras.layers.Layer]]:
    """Weighted-layer lists the file could provide: the bare base filled from it, or layers of a full model."""
    if not path.name.endswith(".keras"):
        try:
            with warnings.catch_warnings():
                # Keras notes containers without weights in the file; those hold nothing to load.
                warnings.filterwarnings("ignore", message="Skipping nested container")
                bare_base.load_weights(str(path))
            return [[layer for layer in bare_base.layers if layer.weights]]
        except Exception as err:  # noqa: BLE001 - a full-model .h5 is tried below; otherwise explained
            if path.name.endswith(".weights.h5"):
                raise ModelError(f"model.weights {path} does not match the base: {_load_error(err)}") from None
            weights_error = err
    check_keras_archive(path, "model.weights")
    try:
        model = keras.saving.load_model(str(path), compile=False, safe_mode=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file becomes one clear message
        if not path.name.endswith(".keras"):
            err = weights_error
        raise ModelError(f"model.weights {path} could not be read as weights or a model: {_load_error(err)}") from None
    candidates = [[layer for layer in _all_layers(nested) if layer.weights] for nested in _nested_models(model)]
    candidates.append([layer for layer in model.layers if layer.weights and not isinstance(layer, keras.Model)
                       and not layer.name.startswith("tl_")])
    return [c for c in candidates if c]


def _nested_models(model: keras.Model) -> list[keras.Model]:
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found.append(layer)
            found.extend(_nested_models(layer))
    return found


def _all_layers(model: keras.Model) -> list[keras.layers.Layer]:
    layers = []
    for layer in model.layers:
        layers.extend(_all_layers(layer) if isinstance(layer, keras.Model) else [layer])
    return layers


def _shapes(layers: list[keras.layers.Layer]) -> list[tuple]:
    return [tuple(tuple(w.shape) for w in layer.weights) for layer in layers]


def _first_mismatch(source: list, target: list) -> str:
    for i, (src, dst) in enumerate(zip(source, target)):
        src_shapes = [tuple(w.shape) for w in src.weights]
        dst_shapes = [tuple(w.shape) for w in dst.weights]
        if src_shapes != dst_shapes:
            return (f"layer #{i} '{dst.name}' expects weights {dst_shapes}, the file's layer '{src.name}' has "
                    f"{src_shapes}")
    return f"the file has {len(source)} weighted layers for the base, the base has {len(target)}"


def _load_error(err: Exception) -> str:
    """Keras' load errors run to pages of tensor values; keep the layer and the two shapes."""
    text = str(err)
    layer = re.search(r"object <\w+ name=([^,>]+)", text) or re.search(r"path=([^/,]+)/", text)
    shapes = re.search(r"variable\.shape=(\([^)]*\)), Received: value\.shape=(\([^)]*\))", text)
    count = re.search(r"A total of (\d+) objects", text)
    if layer and shapes:
        more = f" ({count.group(1)} layers do not fit)" if count else ""
        return f"layer '{layer.group(1)}' expects weights {shapes.group(1)}, the file has {shapes.group(2)}{more}"
    first = text.strip().splitlines()[0] if text.strip() else type(err).__name__
    return first[:200]
