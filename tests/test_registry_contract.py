"""Every registry entry takes raw 0-255 RGB: our in-model preprocessing reproduces keras.applications'
own ``preprocess_input`` for that family, so exported artifacts need no preprocessing code."""

import keras
import numpy as np
import pytest

from keras_tl.config import load_config
from keras_tl.models import base_layers, build_classifier, get_backbone, list_backbones

PREPROCESS_MODULE = {
    "resnet": "resnet", "efficientnetb": "efficientnet", "efficientnetv2": "efficientnet_v2", "mobilenet": "mobilenet",
    "mobilenetv2": "mobilenet_v2", "mobilenetv3": "mobilenet_v3", "densenet": "densenet", "vgg16": "vgg16",
    "vgg19": "vgg19", "inceptionv3": "inception_v3", "xception": "xception",
}


def reference_preprocess(name):
    if name == "efficientnetlite0":  # normalises 0-255 input itself, as (x - 127) / 128 (tests/test_efficientnet_lite)
        return lambda x: x
    if name.startswith("resnet") and name.endswith("v2"):
        return keras.applications.resnet_v2.preprocess_input
    for prefix in sorted(PREPROCESS_MODULE, key=len, reverse=True):
        if name.startswith(prefix):
            return getattr(keras.applications, PREPROCESS_MODULE[prefix]).preprocess_input
    raise AssertionError(f"no reference preprocessing for {name}")


def test_registry_covers_the_families_the_seeds_name():
    names = set(list_backbones())
    expected = {"resnet50", "resnet101", "resnet152", "resnet50v2", "resnet101v2", "resnet152v2", "mobilenetv2",
                "mobilenetv3small", "mobilenetv3large", "densenet121", "vgg16", "vgg19", "inceptionv3", "xception",
                "efficientnetv2s", *(f"efficientnetb{i}" for i in range(8)), *(f"efficientnetv2b{i}" for i in range(4))}
    assert expected <= names


@pytest.mark.slow
@pytest.mark.parametrize("name", list_backbones())
def test_raw_pixel_input_contract(name):
    spec = get_backbone(name)
    size = spec.min_size
    keras.utils.set_random_seed(0)
    config = load_config(model={"backbone": name, "weights": "none", "input_size": size})
    ours = build_classifier(config.model, 4)
    reference = spec.constructor(include_top=False, weights=None, input_shape=(size, size, 3), **spec.constructor_kwargs)
    ours_weighted = [layer for layer in base_layers(ours) if layer.weights]
    reference_weighted = [layer for layer in reference.layers if layer.weights]
    assert len(ours_weighted) == len(reference_weighted)
    for mine, theirs in zip(ours_weighted, reference_weighted):
        theirs.set_weights(mine.get_weights())
    raw = np.random.default_rng(0).uniform(0, 255, (2, size, size, 3)).astype("float32")
    # The first weighted layer sees exactly what keras.applications' preprocess_input would have produced.
    first = ours_weighted[0].name
    ours_first = keras.Model(ours.input, ours.get_layer(first).output)(raw)
    theirs_first = keras.Model(reference.input, reference.get_layer(reference_weighted[0].name).output)(
        reference_preprocess(name)(raw.copy()))
    np.testing.assert_allclose(np.asarray(ours_first), np.asarray(theirs_first), rtol=1e-4, atol=1e-3)
    assert float(np.abs(np.asarray(ours_first)).max()) > 0
    # And the whole base agrees, end to end.
    ours_map = keras.Model(ours.input, base_layers(ours)[-1].output)(raw)
    np.testing.assert_allclose(np.asarray(ours_map), np.asarray(reference(reference_preprocess(name)(raw.copy()))),
                               rtol=1e-3, atol=1e-3)
    assert ours.output_shape == (None, 4)
