"""Shared fixtures: real image files on disk and a tiny base model file. Nothing is downloaded."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from keras_tl.run import RunFolder  # noqa: E402
from tests.helpers import make_calibrated_base, make_image_folder, tiny_config  # noqa: E402


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory) -> Path:
    """3 classes x 12 coloured-shape PNG/JPEG images, 40x40 (resized to 32 by the pipeline)."""
    return make_image_folder(tmp_path_factory.mktemp("data") / "shapes", per_class=12)


@pytest.fixture(scope="session")
def base_weights(tmp_path_factory) -> Path:
    """A MobileNetV2 (alpha 0.35, 32 px) .keras model with real BatchNorm statistics (see helpers)."""
    return make_calibrated_base(tmp_path_factory.mktemp("weights") / "base.keras")


@pytest.fixture
def config_factory(tmp_path, image_folder, base_weights):
    def factory(**overrides):
        return tiny_config(tmp_path / "runs", image_folder, base_weights, **overrides)

    return factory


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, image_folder, base_weights):
    """The tiny config's data, scanned and split once per module (PreparedData), for tests that train repeatedly."""
    from keras_tl.data import prepare_data

    root = tmp_path_factory.mktemp("prepared")
    config = tiny_config(root / "runs", image_folder, base_weights)
    return prepare_data(config.data, RunFolder(root / "run").ensure(), seed=config.seed, multi_label=False)
