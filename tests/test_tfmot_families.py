"""Pruning and QAT on the other bases the issue names (EfficientNetB0, ResNet50), through the same public functions
and the same recipe as the MobileNetV2 tests: each base trained from scratch at 32 px on 90 drawn shape images."""

import numpy as np
import pytest

from keras_tl.export.tfmot import PRUNABLE_LAYERS, prune_run_model
from keras_tl.data import load_images, prepare_data
from keras_tl.run import RunFolder
from tests.helpers import make_image_folder, tiny_config, trained_from_scratch
from tests.support.tfmot import accuracy, assert_full_int8, qat_int8

TARGET = 0.5
SIZE = 32
quiet = dict(log=lambda *_: None)


@pytest.fixture(scope="module", params=["efficientnetb0", "resnet50"])
def family(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(request.param)
    folder = make_image_folder(root / "shapes", per_class=30)
    cfg = tiny_config(root / "runs", folder, "none", model={"backbone": request.param, "alpha": None, "dropout": 0.0},
                      export={"prune": TARGET, "prune_epochs": 1, "qat_epochs": 1})
    data = prepare_data(cfg.data, RunFolder(root / "runs" / "tiny").ensure(), seed=cfg.seed, multi_label=False)
    return trained_from_scratch(cfg.model, data), data, cfg


@pytest.fixture(scope="module")
def test_images(family):
    _, data, _ = family
    return load_images(data.paths("test"), SIZE), data.targets("test")


@pytest.mark.slow
def test_the_model_has_learned_its_task(family, test_images):
    """Guards the agreement test below: on a model that guesses, agreement counts coin tosses."""
    model, _, cfg = family
    images, targets = test_images
    assert len(targets) >= 15
    assert accuracy(model.predict(images, verbose=0), targets) >= 0.9, cfg.model.backbone


@pytest.mark.slow
def test_pruning_reaches_the_target_on_every_prunable_layer(family):
    model, data, cfg = family
    # prune_run_model also checks that the Keras 3 copy computes what the pruned tf_keras model does (EfficientNet's
    # adapted Normalization once broke that copy).
    pruned = prune_run_model(model, data, cfg, **quiet)
    assert set(pruned.sparsity) >= {"Conv2D", "Dense", "all"} and set(pruned.sparsity) <= {*PRUNABLE_LAYERS, "all"}
    for kind, counts in pruned.sparsity.items():
        assert abs(counts["sparsity"] - TARGET) <= 0.02, (kind, counts)
    for layer in pruned.model.layers:  # counted again on the Keras 3 copy, layer by layer
        if type(layer).__name__ in PRUNABLE_LAYERS:
            assert abs(np.mean(np.asarray(layer.get_weights()[0]) == 0) - TARGET) <= 0.02, layer.name


@pytest.fixture(scope="module")
def qat(family, test_images, tmp_path_factory):
    model, data, cfg = family
    plain = cfg.model_copy(update={"export": cfg.export.model_copy(update={"prune": None})})
    return qat_int8(model, data, plain, test_images[0], tmp_path_factory.mktemp("qat"))


@pytest.mark.slow
def test_qat_gives_a_full_int8_tflite_with_the_models_outputs(family, qat, test_images):
    _, data, _ = family
    images, _ = test_images
    assert_full_int8(qat.path)
    assert qat.tflite_outputs.shape == qat.keras_outputs.shape == (len(images), data.num_classes)


@pytest.mark.slow
def test_qat_int8_tflite_agrees_with_the_qat_model(family, qat, test_images):
    _, _, cfg = family
    _, targets = test_images
    diff = float(np.abs(qat.tflite_outputs - qat.keras_outputs).max())
    print(f"{cfg.model.backbone}: agreement {qat.agreement:.3f}, max |prob diff| {diff:.4f}, accuracy QAT Keras "
          f"{accuracy(qat.keras_outputs, targets):.3f} / int8 TFLite {accuracy(qat.tflite_outputs, targets):.3f}")
    assert qat.agreement >= 0.98
