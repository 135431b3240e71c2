"""`keras-tl features`: the pooled base features of a split, for users who fit their own classifier on them."""

from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np

from keras_tl.errors import DataError, KerasTLError
from keras_tl.data import load_prepared
from keras_tl.evaluate.evaluator import predict_split
from keras_tl.models import FEATURES_LAYER, input_size, load_trained_model
from keras_tl.progress import keras_verbose
from keras_tl.run import RunFolder


def write_features(run: RunFolder, split: str, output: Path, *, overwrite: bool = False) -> tuple[Path, int, int]:
    """Write ``features`` (float32, one row per image), ``targets``, ``label_names`` and ``paths`` of ``split`` to
    an .npz file; returns (file, rows, width)."""
    config = run.config()
    if output.suffix != ".npz":
        raise KerasTLError(f"-o {output}: the features file must end in .npz (numpy.load reads it)")
    if output.exists() and not overwrite:
        raise KerasTLError(f"{output} already exists: pass --overwrite to replace it, or -o another file")
    if config.model.modality != "image":
        raise KerasTLError(f"this run's model reads text (model.modality: {config.model.modality}); "
                           "features are written for image-only models")
    data = load_prepared(run, config.data, config.model.multi_label)
    if not data.splits[split]:
        raise DataError(f"the {split} split of {run.path} is empty; pass another --split")
    model = load_trained_model(run.require_model())
    extractor = keras.Model(model.inputs[0], model.get_layer(FEATURES_LAYER).output)
    features = predict_split(extractor, data, split, image_size=input_size(config.model),
                             batch_size=config.data.batch_size, seed=config.seed, verbose=keras_verbose())
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial.npz")
    np.savez(partial, features=features.astype("float32"), targets=data.targets(split),
             label_names=np.asarray(data.label_names), paths=np.asarray(data.paths(split)))
    os.replace(partial, output)
    return output, int(features.shape[0]), int(features.shape[1])
