"""The two phases touch exactly the layers they should; runs are reproducible; the run folder is complete."""

import json

import keras
import numpy as np
import pytest

import keras_tl
from keras_tl.data import prepare_data
from keras_tl.errors import RunFolderError
from keras_tl.models import base_layers, build_classifier
from keras_tl.run import RunFolder
from keras_tl.train import TrainingDiverged, fit_two_phase, read_history
from tests.helpers import changed_layers, weights_by_layer


def setup(config_factory, tmp_path, **overrides):
    config = config_factory(**overrides)
    run = RunFolder(tmp_path / "run").ensure()
    data = prepare_data(config.data, run, seed=config.seed, multi_label=False)
    keras.utils.set_random_seed(config.seed)
    return config, run, data, build_classifier(config.model, data.num_classes)


def test_phase1_changes_only_the_head(config_factory, tmp_path):
    config, run, data, model = setup(config_factory, tmp_path, train={"phase1": {"epochs": 2}, "phase2": {"epochs": 0}})
    before = weights_by_layer(model)
    fit_two_phase(model, data, config, run, log=lambda *_: None)
    changed = changed_layers(before, weights_by_layer(model))
    assert changed == {"tl_predictions"}  # base weights and every BatchNorm statistic untouched


def test_phase2_changes_only_layers_above_the_boundary_and_no_batchnorm(config_factory, tmp_path):
    config, run, data, model = setup(config_factory, tmp_path, train={
        "phase1": {"epochs": 0}, "phase2": {"epochs": 2, "learning_rate": 1e-3, "fine_tune_from": "block_15",
                                            "warmup_epochs": 0}})
    layers = base_layers(model)
    boundary = next(i for i, layer in enumerate(layers) if layer.name.startswith("block_15_"))
    above = {layer.name for layer in layers[boundary:] if not isinstance(layer, keras.layers.BatchNormalization)}
    batchnorms = {layer.name for layer in layers if isinstance(layer, keras.layers.BatchNormalization)}
    before = weights_by_layer(model)
    fit_two_phase(model, data, config, run, log=lambda *_: None)
    changed = changed_layers(before, weights_by_layer(model))
    assert changed - {"tl_predictions"} <= above
    assert {"block_15_expand", "block_16_project", "Conv_1"} <= changed
    assert not changed & batchnorms


def test_fine_tune_boundary_as_top_n_layers(config_factory, tmp_path):
    config, run, data, model = setup(config_factory, tmp_path, train={
        "phase1": {"epochs": 0}, "phase2": {"epochs": 1, "learning_rate": 1e-3, "fine_tune_from": 5}})
    before = weights_by_layer(model)
    fit_two_phase(model, data, config, run, log=lambda *_: None)
    changed = changed_layers(before, weights_by_layer(model))
    top5 = {layer.name for layer in base_layers(model)[-5:]
            if layer.weights and not isinstance(layer, keras.layers.BatchNormalization)}
    assert changed - {"tl_predictions"} == top5 == {"Conv_1", "block_16_project"}


def test_layerwise_lr_decay_moves_deeper_layers_less(config_factory, tmp_path):
    config, run, data, model = setup(config_factory, tmp_path, train={
        "phase1": {"epochs": 0}, "phase2": {"epochs": 1, "learning_rate": 1e-3, "fine_tune_from": "block_14",
                                            "warmup_epochs": 0, "layerwise_lr_decay": 0.1, "lr_groups": 2}})
    before = weights_by_layer(model)
    fit_two_phase(model, data, config, run, log=lambda *_: None)
    after = weights_by_layer(model)

    def step(name):
        return float(np.mean(np.abs(after[name][0] - before[name][0])))

    # Adam moves each weight by about the learning rate: the deeper group's LR is 10x smaller.
    assert step("block_14_expand") < 0.3 * step("Conv_1")
    assert step("tl_predictions") > step("Conv_1")


def test_run_folder_contract_and_reproducibility(config_factory, tmp_path):
    first = keras_tl.train_model(config_factory(name="a"), log=lambda *_: None)
    for name in ("config.yaml", "labels.txt", "splits/train.txt", "splits/val.txt", "splits/test.txt", "model.keras",
                 "history.csv", "metrics.json", "report.md", "plots/history.png", "plots/confusion_test.png"):
        assert (first.path / name).is_file(), name
    assert any(first.tensorboard_dir.rglob("events.out.tfevents.*"))
    metrics = json.loads(first.metrics_file.read_text())["test"]
    assert {"accuracy", "macro_f1", "per_class", "confusion_matrix"} <= set(metrics)
    assert [row["phase"] for row in read_history(first.history_file, 1)] == [1, 2]
    second = keras_tl.train_model(config_factory(name="b"), log=lambda *_: None)
    assert json.loads(second.metrics_file.read_text()) == json.loads(first.metrics_file.read_text())
    model_a = keras.saving.load_model(first.model_file)
    model_b = keras.saving.load_model(second.model_file)
    for wa, wb in zip(model_a.get_weights(), model_b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_rerun_of_a_finished_run_resumes_and_a_changed_config_is_refused(config_factory):
    config = config_factory(name="again")
    run = keras_tl.train_model(config, log=lambda *_: None)
    stamp = run.history_file.read_text()
    messages = []
    keras_tl.train_model(config, log=messages.append)
    assert run.history_file.read_text() == stamp  # nothing retrained
    assert any("already finished" in m for m in messages)
    changed = config_factory(name="again", train={"phase1": {"epochs": 3}})
    with pytest.raises(RunFolderError, match="different experiment .*train.phase1.epochs"):
        keras_tl.train_model(changed, log=lambda *_: None)
    keras_tl.train_model(changed, overwrite=True, log=lambda *_: None)
    assert len(read_history(run.history_file)) == 4


def test_divergence_names_the_phase_and_epoch(config_factory, tmp_path):
    config, run, data, model = setup(config_factory, tmp_path, train={
        "phase1": {"epochs": 2, "learning_rate": 1e38, "optimizer": "sgd"}, "phase2": {"epochs": 0}})
    with pytest.raises(TrainingDiverged, match="phase 1 diverged at epoch 1 .*learning_rate$"):
        fit_two_phase(model, data, config, run, log=lambda *_: None)
    assert not (run.checkpoints_dir / "phase1.best.weights.h5").exists()  # a NaN epoch is never "best"


def test_balanced_class_weights_train(config_factory, tmp_path):
    config, run, data, model = setup(config_factory, tmp_path, data={"class_weights": "balanced"},
                                     train={"phase2": {"epochs": 0}})
    result = fit_two_phase(model, data, config, run, log=lambda *_: None)
    assert result.phases[0].epochs_run == 1
