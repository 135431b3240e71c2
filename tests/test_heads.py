"""Fitted heads (train.phase1.head): the Dense layer holds the scikit-learn classifier, and runs train and export."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.preprocessing import normalize

from keras_tl.config import load_config
from keras_tl.errors import ConfigError
from keras_tl.train.heads import fit_head


def _features(classes: int, seed: int = 0):
    x, y = make_classification(n_samples=600, n_features=24, n_informative=12, n_classes=classes,
                               n_clusters_per_class=1, class_sep=1.0, random_state=seed)
    return np.abs(x * 2).astype("float32"), y  # pooled ReLU features are non-negative


def _dense_probabilities(fitted, features):
    """The fitted weights in a real Keras softmax Dense layer, as the model's output layer holds them."""
    layer = keras.layers.Dense(fitted.kernel.shape[1], activation="softmax", dtype="float32")
    layer.build((None, fitted.kernel.shape[0]))
    layer.set_weights([fitted.kernel.astype("float32"), fitted.bias.astype("float32")])
    return np.asarray(layer(features))


@pytest.mark.parametrize("classes", [2, 4])
def test_logistic_dense_layer_is_the_fitted_classifier(classes):
    x, y = _features(classes)
    fitted = fit_head("logistic", x, y, classes)
    probabilities = _dense_probabilities(fitted, x)
    np.testing.assert_allclose(probabilities, fitted.classifier.predict_proba(x), atol=2e-5)
    assert (probabilities.argmax(1) == fitted.classifier.predict(x)).all()


@pytest.mark.parametrize("classes", [2, 4])
def test_linear_svm_dense_layer_predicts_as_the_svm(classes):
    x, y = _features(classes, seed=1)
    fitted = fit_head("linear_svm", x, y, classes, calibration=_features(classes, seed=1))
    assert (_dense_probabilities(fitted, x).argmax(1) == fitted.classifier.predict(x)).all()
    scores = fitted.classifier.decision_function(x)
    if classes == 2:
        np.testing.assert_allclose(fitted.logits(x)[:, 1] / fitted.temperature, scores, rtol=1e-4, atol=1e-4)
    else:
        np.testing.assert_allclose(fitted.logits(x) / fitted.temperature, scores, rtol=1e-4, atol=1e-4)


def test_prototype_head_is_the_cosine_nearest_class_mean():
    x, y = _features(5, seed=2)
    fitted = fit_head("prototype", x, y, 5)
    prototypes = normalize(fitted.classifier.centroids_)
    cosine = normalize(x) @ prototypes.T
    assert (_dense_probabilities(fitted, x).argmax(1) == cosine.argmax(1)).all()
    assert fitted.temperature > 1  # cosine scores in [-1, 1] are far too flat as logits


def test_temperature_lowers_the_calibration_log_loss_and_changes_no_prediction():
    x, y = _features(4, seed=3)
    fitted = fit_head("linear_svm", x, y, 4)
    raw = fitted.logits(x) / fitted.temperature

    def log_loss(logits):
        shifted = logits - logits.max(1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
        return -log_p[np.arange(len(y)), y].mean()

    assert log_loss(fitted.logits(x)) < log_loss(raw)
    assert (fitted.logits(x).argmax(1) == raw.argmax(1)).all()


def test_fitted_heads_default_to_one_pass():
    assert load_config(train={"phase1": {"head": "logistic"}}).train.phase1.epochs == 1
    assert load_config().train.phase1.epochs == 5
    assert load_config(train={"phase1": {"head": "prototype", "epochs": 0}}).train.phase1.epochs == 0


@pytest.mark.parametrize("sections, fragment", [
    ({"train": {"phase1": {"head": "logistic", "epochs": 5}}}, "fitted in one pass"),
    ({"model": {"hidden_units": [16]}}, "model.hidden_units"),
    ({"model": {"multi_label": True}}, "model.multi_label"),
    ({"model": {"modality": "image_text"}}, "model.modality"),
    ({"train": {"cache_features": "off"}}, "train.cache_features: off"),
    ({"train": {"distribution": "mirrored"}}, "train.distribution"),
])
def test_fitted_head_clashes_are_refused_by_the_config(sections, fragment, bad_input):
    sections = {**sections, "train": {**sections.get("train", {}),
                                      "phase1": {"head": "linear_svm", **sections.get("train", {}).get("phase1", {})}}}
    with pytest.raises(ConfigError, match=fragment):
        load_config(**sections)
    bad_input(f"train.phase1.head with {fragment}", "refused by the config")


@pytest.mark.slow
@pytest.mark.parametrize("head", ["logistic", "linear_svm", "prototype"])
def test_fitted_head_run_trains_and_exports(tmp_path, shapes_base, head):
    """A head fitted on the run's own cached features holds the fitted weights, and every format of it verifies."""
    import keras_tl
    from keras_tl.export import export_run
    from keras_tl.models import FEATURES_LAYER, PREDICTIONS_LAYER
    from keras_tl.train.callbacks import read_history
    from tests.helpers import NO_AUGMENT, make_image_folder, tiny_config

    folder = make_image_folder(tmp_path / "shapes", per_class=20)
    config = tiny_config(tmp_path / "runs", folder, shapes_base, name=head,
                         data={**NO_AUGMENT, "test_fraction": 0.25, "val_fraction": 0.15},
                         train={"phase1": {"head": head}, "phase2": {"epochs": 0}})
    lines: list[str] = []
    run = keras_tl.train_model(config, log=lines.append)
    assert any(f"fitted a {head} head" in line for line in lines), lines

    model = keras.models.load_model(run.model_file, compile=False)
    data = keras_tl.data.load_prepared(run, config.data, multi_label=False)
    images = data.dataset("train", image_size=32, batch_size=64, training=False, seed=config.seed, cache="none")
    extractor = keras.Model(model.inputs[0], model.get_layer(FEATURES_LAYER).output)
    features = np.concatenate([extractor.predict(x, verbose=0) for x, _ in images])
    val = data.dataset("val", image_size=32, batch_size=64, training=False, seed=config.seed, cache="none")
    val_features = np.concatenate([extractor.predict(x, verbose=0) for x, _ in val])
    refit = fit_head(head, features, data.targets("train"), data.num_classes,
                     calibration=(val_features, data.targets("val")), seed=config.seed)
    kernel, bias = model.get_layer(PREDICTIONS_LAYER).get_weights()
    np.testing.assert_allclose(kernel, refit.kernel, rtol=1e-2, atol=2e-3)
    np.testing.assert_allclose(bias, refit.bias, rtol=1e-2, atol=2e-3)
    rows = read_history(run.history_file, config.train.phase1.epochs)
    assert [row["phase"] for row in rows] == [1]

    report = export_run(run.path, ["export.formats=[tflite,onnx]", "export.quantize=[fp32,int8]",
                                   "export.benchmark.runs=2", "export.benchmark.warmup=0"], log=lambda *_: None)
    statuses = {entry["path"]: entry["status"] for entry in report["artifacts"]}
    assert statuses and all(status == "passed" for status in statuses.values()), statuses
