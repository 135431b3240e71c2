"""Phase 1 on cached features trains the same head as the slow path, in memory or from a memory-mapped file."""

import keras
import numpy as np
import pytest

from keras_tl.errors import ConfigError
from keras_tl.run import RunFolder
from keras_tl.train import fit_two_phase, head_of, plan_cached_phase1, read_history
from tests.helpers import NO_AUGMENT, changed_layers, fit_fresh_model, fresh_model, weights_by_layer

def train_phase1(config_factory, prepared, tmp_path, name, data=None, **train):
    """Phase 1 only, on a freshly built model; returns the model, its run folder and the log lines."""
    config = config_factory(data={**NO_AUGMENT, "class_weights": "balanced", **(data or {})},
                            train={"phase1": {"epochs": 2}, "phase2": {"epochs": 0}, **train})
    messages = []
    model, run, _ = fit_fresh_model(config, prepared, tmp_path / name, log=messages.append)
    return model, run, messages


def test_cached_head_equals_the_slow_path_in_memory_and_on_disk(config_factory, prepared, tmp_path):
    # The slow run also reads images through a shared disk cache and runs 2 steps per call: neither may change
    # a number.
    shared = tmp_path / "image-cache"
    slow, slow_run, slow_log = train_phase1(config_factory, prepared, tmp_path, "slow", cache_features="off",
                                            steps_per_execution=2,
                                            data={"cache": "disk", "cache_dir": str(shared)})
    memory, _, memory_log = train_phase1(config_factory, prepared, tmp_path, "memory", cache_features="auto")
    disk, disk_run, disk_log = train_phase1(config_factory, prepared, tmp_path, "disk", cache_features="on",
                                            feature_memory_mb=0)
    assert not any("cached" in m for m in slow_log)
    assert any("on cached features" in m for m in memory_log) and any("in memory" in m for m in memory_log)
    assert any("memory-mapped file" in m and "features/train.npy" in m for m in disk_log)
    assert not list((disk_run.data_dir / "features").glob("*.npy"))  # removed once phase 1 is over
    assert slow.steps_per_execution == 2 and slow.jit_compile is False
    assert sorted(p.name.split("-")[0] for p in shared.glob("*.index")) == ["train", "val"]
    assert not (slow_run.data_dir / "tfcache").exists()

    before = weights_by_layer(fresh_model(config_factory().model, prepared.num_classes))
    assert changed_layers(before, weights_by_layer(slow), atol=1e-6) == {"tl_predictions"}
    for model in (memory, disk):  # every weight: the trained head and the untouched base
        for got, want in zip(model.get_weights(), slow.get_weights(), strict=True):
            np.testing.assert_allclose(got, want, atol=2e-5, rtol=0)
    # Same epochs, same validation figures: the same batches, class weights and dropout masks were used.
    slow_rows = read_history(slow_run.history_file)
    disk_rows = read_history(disk_run.history_file)
    assert len(slow_rows) == len(disk_rows) == 2
    for a, b in zip(slow_rows, disk_rows):
        assert abs(float(a["val_loss"]) - float(b["val_loss"])) < 1e-4
        assert a["val_accuracy"] == b["val_accuracy"]


def test_augmented_views_are_precomputed_and_drawn_from(config_factory, prepared, tmp_path):
    augment = {"augment": {"flip": "horizontal_and_vertical", "rotation": 0.1, "zoom": 0.0, "contrast": 0.0}}
    config = config_factory(data=augment, train={"phase1": {"epochs": 2}, "phase2": {"epochs": 0},
                                                 "feature_views": 2})
    keras.utils.set_random_seed(config.seed)
    model = fresh_model(config.model, prepared.num_classes)
    run = RunFolder(tmp_path / "views").ensure()
    plan = plan_cached_phase1(model, prepared, config, run)
    inputs = plan.inputs()
    features = plan.stores[0].array
    n = len(prepared.splits["train"])
    assert features.shape == (2 * n, 1280) and inputs.steps_per_epoch == -(-n // 8)
    view0, view1 = features[:n], features[n:]
    assert np.abs(view0 - view1).max(axis=1).min() > 0  # every image has two different views
    x, y = next(iter(inputs.train))
    assert x.shape == (8, 1280) and set(np.asarray(y)) <= {0, 1, 2}
    plan.cleanup()

    before = weights_by_layer(model)
    messages = []
    result = fit_two_phase(model, prepared, config, run, log=messages.append)
    assert any(f"2 augmented views of {n} train images" in m for m in messages)
    assert result.phases[0].epochs_run == 2 and len(read_history(run.history_file)) == 2
    assert changed_layers(before, weights_by_layer(model)) == {"tl_predictions"}


def test_interrupted_cached_phase_resumes(config_factory, prepared, tmp_path, monkeypatch):
    import keras_tl.train.trainer as trainer

    class StopAfterSecondEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    real = trainer.phase_callbacks
    config = config_factory(data=NO_AUGMENT, train={"phase1": {"epochs": 3}, "phase2": {"epochs": 0},
                                                    "early_stopping_patience": 0})
    run = RunFolder(tmp_path / "resume").ensure()
    # Last in the list, like a kill after the epoch's checkpoint and backup were written.
    monkeypatch.setattr(trainer, "phase_callbacks", lambda *a, **k: real(*a, **k) + [StopAfterSecondEpoch()])
    with pytest.raises(KeyboardInterrupt):
        fit_two_phase(fresh_model(config.model, prepared.num_classes), prepared, config, run, log=lambda *_: None)
    monkeypatch.setattr(trainer, "phase_callbacks", real)
    assert (run.checkpoints_dir / "phase1-head" / "training_metadata.json").is_file()
    assert not list((run.data_dir).rglob("*.npy"))

    messages = []
    result = fit_two_phase(fresh_model(config.model, prepared.num_classes), prepared, config, run,
                           log=messages.append)
    assert any(m.startswith("phase 1: resuming") and m.endswith("on cached features") for m in messages)
    assert result.phases[0].epochs_run == 1  # only the third epoch ran again
    assert [int(row["epoch"]) for row in read_history(run.history_file)] == [0, 1, 2]
    assert (run.checkpoints_dir / "phase1.done.weights.h5").is_file()
    assert not (run.checkpoints_dir / "phase1-head").exists()


def test_when_features_are_cached(config_factory, prepared, tmp_path):
    run = RunFolder(tmp_path / "plan").ensure()
    model = fresh_model(config_factory().model, prepared.num_classes)

    def plan(data=None, log=lambda *_: None, **train):
        config = config_factory(data=data or {}, train={"phase2": {"epochs": 0}, **train})
        return plan_cached_phase1(model, prepared, config, run, log=log)

    messages = []
    assert plan(log=messages.append) is None  # default augmentation: the base must see every augmented batch
    assert "train.feature_views" in messages[0]
    assert plan(data=NO_AUGMENT) is not None
    assert plan(data=NO_AUGMENT, cache_features="off") is None
    assert plan(data=NO_AUGMENT, phase1={"epochs": 0}) is None
    messages.clear()
    assert plan(cache_features="on", log=messages.append).views == 0
    assert "un-augmented" in messages[0]

    image = keras.Input((8, 8, 3), name="image")
    extra = keras.Input((4,), name="extra")
    pooled = keras.layers.GlobalAveragePooling2D(name="tl_pool")(image)
    joined = keras.layers.Concatenate()([pooled, extra])
    two_inputs = keras.Model([image, extra], keras.layers.Dense(3, name="tl_predictions")(joined))
    assert head_of(two_inputs)[0] is None and "2 inputs" in head_of(two_inputs)[1]
    config = config_factory(data=NO_AUGMENT, train={"cache_features": "on"})
    with pytest.raises(ConfigError, match="cache_features: on cannot be used with this model: it has 2 inputs"):
        plan_cached_phase1(two_inputs, prepared, config, run)
    config = config_factory(data=NO_AUGMENT)
    assert plan_cached_phase1(two_inputs, prepared, config, run, log=lambda *_: None) is None


@pytest.mark.parametrize("overrides, reason", [
    ({"model": {"modality": "image_text"}}, "model.modality: image_text takes text"),
    ({"train": {"distribution": "mirrored"}}, "train.distribution: mirrored"),
])
def test_text_models_and_strategies_run_the_base_in_every_step(config_factory, prepared, tmp_path, overrides,
                                                               reason):
    def config(switch):
        sections = {"data": NO_AUGMENT, **overrides}
        sections["train"] = {**sections.get("train", {}), "cache_features": switch}
        return config_factory(name=f"refused-{switch}", **sections)

    with pytest.raises(ConfigError, match=f"cache_features: on cannot be used here: {reason}"):
        config("on")  # load_config refuses it, so nothing can be written
    messages = []
    model = fresh_model(config_factory().model, prepared.num_classes)
    assert plan_cached_phase1(model, prepared, config("auto"), RunFolder(tmp_path / "auto").ensure(),
                              log=messages.append) is None
    assert len(messages) == 1 and messages[0].startswith(f"phase 1: features are not cached ({reason}")
