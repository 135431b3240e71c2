"""MobileNetV2 1.0-224, ImageNet-trained then fine-tuned on 5 classes, from the npm package ``nsfwjs@4.4.0`` (MIT).

Its ``dist/models/mobilenet_v2/`` is a Keras 2.2.4 model converted to a TF.js layers model, bundled as JavaScript
(see tfjs.py), with 8-bit weights (uint8 with a per-tensor min and scale). The base is keras.applications'
MobileNetV2 layer for layer, under the same names; its topology marks everything before ``block_11`` untrainable,
so those layers keep their ImageNet weights (8-bit). On top sit average pooling, Dense 256, Dense 128 and the
5-class softmax, which the written file leaves out (``include_top=False``) and the check below uses.

Input: nsfwjs feeds y = x / 255, keras_tl feeds MobileNetV2 z = (x - 127.5) / 127.5 ("tf"), and y = (z + 1) / 2.
So ``Conv1``'s kernel is halved and, since Conv1 has no bias, the constant sum(W) / 2 goes into ``bn_Conv1``'s
moving mean (fold.py): exact inside the image (5.7e-6 after ``bn_Conv1``). ZeroPadding2D pads z with 0, which is
y = 0.5 (mid-grey) where nsfwjs padded black, on the bottom row and right column only; ``bn_Conv1`` turns that
into differences up to 10.7 (its outputs reach 22) on that row and column, which spread with the receptive field.
On the three sample photos the converted base's pooled features are at cosine 0.996 or more to nsfwjs' (max
difference 0.46; features reach 3.8) and its 5-class probabilities within 1.2e-3. Not folding (feeding the
weights (x - 127.5) / 127.5 as they are) would be far worse: cosine 0.70.

The conversion refuses to write the file unless keras.applications' graph with the converted weights, plus the
package's own head, gives the same 5-class outputs as the TF.js model rebuilt from its own topology, on the
sample photos (and exactly the same with nsfwjs' x / 255 input before folding).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from benchmarks.bases import tfjs
from benchmarks.bases.fetch import nsfwjs_files
from benchmarks.bases.fold import filled_base
from benchmarks.bases.photos import photo_batch
from keras_tl.models.io import save_model_atomically

BASE_FILE = "mobilenetv2_nsfwjs.keras"
INPUT_MEAN, INPUT_STD = 0.0, 255.0
HEAD_LAYERS = ("dense_1", "dense_2", "dense_3")
MAX_DIFF_SAME_INPUT = 1e-4
MAX_PROBABILITY_DIFF_FOLDED, MIN_FEATURE_COSINE_FOLDED = 0.02, 0.99  # the mid-grey border; see above


def build_base(layers: dict[str, list[np.ndarray]], fold: bool = True):
    import keras

    model = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(224, 224, 3))
    base = {name: values for name, values in layers.items() if name not in HEAD_LAYERS}
    return filled_base(model, base, ("Conv1", "bn_Conv1"), mean=INPUT_MEAN, std=INPUT_STD, fold=fold,
                       source="the TF.js model")


def with_head(base, layers: dict[str, list[np.ndarray]], model_config: dict):
    """keras_tl's view (pooled base features) followed by the package's own 5-class head."""
    import keras

    config = {spec["name"]: spec["config"] for spec in model_config["config"]["layers"]}
    x = keras.layers.GlobalAveragePooling2D()(base.output)  # its 7x7 AveragePooling2D + Flatten at 224 px
    for name in HEAD_LAYERS:
        dense = keras.layers.Dense(config[name]["units"], config[name]["activation"], name=name)
        x = dense(x)
        dense.set_weights(layers[name])
    return keras.Model(base.input, [base.output, x])


def convert(dest: Path, cache: Optional[Path] = None) -> dict:
    """Write the base into ``dest`` once it passes the checks; return the figures."""
    import keras

    folder = nsfwjs_files(cache, finish=tfjs.unbundle)
    model_config, weights = tfjs.read_model(folder)
    layers = tfjs.layer_weights(weights)
    names, photos = photo_batch()
    reference = tfjs.rebuild(model_config, weights)
    pooled_of = keras.Model(reference.input, reference.get_layer("flatten_1").output)
    want_probabilities = np.asarray(reference(photos / INPUT_STD, training=False))
    want_pooled = np.asarray(pooled_of(photos / INPUT_STD, training=False))

    def outputs(fold: bool, batch: np.ndarray):
        feature_map, probabilities = with_head(build_base(layers, fold), layers, model_config)(batch, training=False)
        return np.asarray(feature_map).mean(axis=(1, 2)), np.asarray(probabilities)

    same_pooled, same_probabilities = outputs(False, photos / INPUT_STD)
    folded_pooled, folded_probabilities = outputs(True, (photos - 127.5) / 127.5)
    report = {"base": BASE_FILE, "photos": names,
              "max_feature_diff_same_input": float(np.abs(same_pooled - want_pooled).max()),
              "max_probability_diff_same_input": float(np.abs(same_probabilities - want_probabilities).max()),
              "max_feature_diff_folded": float(np.abs(folded_pooled - want_pooled).max()),
              "min_feature_cosine_folded": float(_cosine(folded_pooled, want_pooled).min()),
              "max_probability_diff_folded": float(np.abs(folded_probabilities - want_probabilities).max()),
              "top1_5class": [int(i) for i in want_probabilities.argmax(axis=1)],
              "top1_5class_folded": [int(i) for i in folded_probabilities.argmax(axis=1)]}
    if (max(report["max_feature_diff_same_input"], report["max_probability_diff_same_input"]) > MAX_DIFF_SAME_INPUT
            or report["max_probability_diff_folded"] > MAX_PROBABILITY_DIFF_FOLDED
            or report["min_feature_cosine_folded"] < MIN_FEATURE_COSINE_FOLDED
            or report["top1_5class"] != report["top1_5class_folded"]):
        raise ValueError(f"MobileNetV2 from nsfwjs failed its check, nothing written: {report}")
    dest.mkdir(parents=True, exist_ok=True)
    save_model_atomically(build_base(layers), dest / BASE_FILE)
    return report


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
