"""model.weights: PATH takes the base from real files of every supported kind, and names what does not fit."""

import keras
import numpy as np
import pytest

from keras_tl.config import load_config
from keras_tl.errors import ModelError
from keras_tl.models import base_layers, build_classifier, weights_source

RAW = np.random.default_rng(1).uniform(0, 255, (2, 32, 32, 3)).astype("float32")


def model_cfg(weights, **extra):
    return load_config(model={"backbone": "mobilenetv2", "alpha": 0.35, "input_size": 32, "weights": str(weights),
                              **extra}).model


def features(model):
    return np.asarray(keras.Model(model.input, model.get_layer("tl_pool").output)(RAW))


@pytest.fixture(scope="module")
def source_model():
    keras.utils.set_random_seed(11)
    return build_classifier(model_cfg("none"), 5)


def bare_base():
    return keras.applications.MobileNetV2(include_top=False, weights=None, alpha=0.35, input_shape=(32, 32, 3))


def copy_into_bare(model):
    bare = bare_base()
    for mine, theirs in zip([l for l in base_layers(model) if l.weights], [l for l in bare.layers if l.weights]):
        theirs.set_weights(mine.get_weights())
    return bare


def test_full_keras_model_flat(tmp_path, source_model):
    path = tmp_path / "flat.keras"
    source_model.save(path)
    np.testing.assert_allclose(features(build_classifier(model_cfg(path), 3)), features(source_model), atol=1e-6)


def test_nested_keras_guide_model(tmp_path, source_model):
    bare = copy_into_bare(source_model)
    inputs = keras.Input((32, 32, 3))
    x = keras.applications.mobilenet_v2.preprocess_input(inputs)
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(bare(x, training=False)))
    path = tmp_path / "guide.keras"
    keras.Model(inputs, outputs).save(path)
    np.testing.assert_allclose(features(build_classifier(model_cfg(path), 3)), features(source_model), atol=1e-6)


def test_weights_h5_of_the_bare_base(tmp_path, source_model):
    path = tmp_path / "base.weights.h5"
    copy_into_bare(source_model).save_weights(path)
    np.testing.assert_allclose(features(build_classifier(model_cfg(path), 3)), features(source_model), atol=1e-6)


def test_legacy_h5_full_model(tmp_path, source_model):
    path = tmp_path / "legacy.h5"
    copy_into_bare(source_model).save(path)  # the HDF5 format keras.applications' downloads also use
    np.testing.assert_allclose(features(build_classifier(model_cfg(path), 3)), features(source_model), atol=1e-6)


def test_mismatched_file_names_the_layer(tmp_path):
    wider = keras.applications.MobileNetV2(include_top=False, weights=None, alpha=0.5, input_shape=(32, 32, 3))
    path = tmp_path / "wider.weights.h5"
    wider.save_weights(path)
    with pytest.raises(ModelError) as err:
        build_classifier(model_cfg(path), 3)
    message = str(err.value)
    assert "does not match" in message and "expects weights (" in message and "the file has (" in message
    assert "\n" not in message


def test_full_model_of_another_base_names_the_layer(tmp_path):
    other = build_classifier(model_cfg("none", alpha=0.5), 3)
    path = tmp_path / "other.keras"
    other.save(path)
    with pytest.raises(ModelError) as err:
        build_classifier(model_cfg(path), 3)
    assert "does not match backbone mobilenetv2 at 32px" in str(err.value)
    assert "'block_1_project' expects weights [(1, 1, 48, 8)]" in str(err.value)
    assert "has [(1, 1, 48, 16)]" in str(err.value)


def test_missing_or_odd_weights_files(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        weights_source(str(tmp_path / "nope.keras"))
    (tmp_path / "w.txt").write_text("x")
    with pytest.raises(ModelError, match=".weights.h5, .h5 or .keras"):
        weights_source(str(tmp_path / "w.txt"))
    (tmp_path / "junk.keras").write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="not a valid .keras file"):
        build_classifier(model_cfg(tmp_path / "junk.keras"), 3)
    assert weights_source("none") is None and weights_source("ImageNet") == "imagenet"


def test_alpha_and_input_size_are_validated():
    with pytest.raises(ModelError, match="only applies to MobileNet"):
        build_classifier(load_config(model={"backbone": "resnet50", "weights": "none", "alpha": 0.5}).model, 2)
    with pytest.raises(ModelError, match="at least 75px"):
        build_classifier(load_config(model={"backbone": "inceptionv3", "weights": "none", "input_size": 64}).model, 2)


def test_efficientnet_preprocessing_statistics_come_with_the_base(tmp_path):
    """EfficientNet normalizes inside the base with statistics stored as weights; copying them must change what
    the layer computes, not only what it stores."""
    source = keras.applications.EfficientNetB0(include_top=False, weights=None, input_shape=(32, 32, 3))
    norm = next(layer for layer in source.layers if isinstance(layer, keras.layers.Normalization))
    norm.adapt(np.random.default_rng(2).uniform(0.2, 0.6, (8, 32, 32, 3)).astype("float32"))
    source.save(tmp_path / "efficientnet.keras")
    cfg = load_config(model={"backbone": "efficientnetb0", "input_size": 32,
                             "weights": str(tmp_path / "efficientnet.keras")}).model
    ours = next(layer for layer in build_classifier(cfg, 3).layers if isinstance(layer, keras.layers.Normalization))
    probe = np.full((1, 4, 4, 3), 0.5, "float32")
    np.testing.assert_allclose(np.asarray(ours(probe)), np.asarray(norm(probe)), rtol=1e-5, atol=1e-5)
