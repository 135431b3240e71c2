"""`keras-tl features` writes the pooled features phase 1 sees; data.shots_per_class keeps k training images."""

from __future__ import annotations

import numpy as np
import pytest

from keras_tl.data import prepare_data
from keras_tl.data.sources import Sample
from keras_tl.data.split import few_shot
from keras_tl.errors import DataError
from keras_tl.run import RunFolder
from tests.support.bad_inputs import expect_error, run_cli


def _samples(per_class: dict[str, int]) -> list[Sample]:
    return [Sample(path=f"{label}/{i}.png", labels=(label,)) for label, n in per_class.items() for i in range(n)]


def test_few_shot_keeps_k_per_class_drawn_with_the_seed():
    train = _samples({"a": 9, "b": 7, "c": 12})
    picked = few_shot(train, 3, seed=1)
    assert sorted(s.label for s in picked) == ["a"] * 3 + ["b"] * 3 + ["c"] * 3
    assert few_shot(train, 3, seed=1) == picked
    assert any(few_shot(train, 3, seed=seed) != picked for seed in range(2, 8))


def test_few_shot_refuses_a_class_with_too_few_images(bad_input):
    with pytest.raises(DataError, match="class 'b' has only 2 training images"):
        few_shot(_samples({"a": 5, "b": 2, "c": 4}), 4, seed=0)
    bad_input("data.shots_per_class above a class's training images", "one-line error naming the class")


def test_shots_per_class_applies_to_train_only(config_factory, tmp_path):
    config = config_factory(data={"shots_per_class": 2})
    data = prepare_data(config.data, RunFolder(tmp_path / "run").ensure(), seed=config.seed, multi_label=False)
    full = config_factory()
    everything = prepare_data(full.data, RunFolder(tmp_path / "full").ensure(), seed=full.seed, multi_label=False)
    counts = np.bincount(data.targets("train"), minlength=data.num_classes)
    assert counts.tolist() == [2] * data.num_classes
    assert {s.path for s in data.splits["train"]} <= {s.path for s in everything.splits["train"]}
    for split in ("val", "test"):
        assert data.splits[split] == everything.splits[split]
    saved = (tmp_path / "run" / "splits" / "train.txt").read_text(encoding="utf-8").splitlines()
    assert len(saved) == 2 * data.num_classes


@pytest.mark.slow
def test_features_command_writes_the_pooled_features(config_factory, capsys, bad_input, tmp_path):
    import keras

    import keras_tl
    from keras_tl.data import load_prepared
    from keras_tl.models import FEATURES_LAYER

    config = config_factory(train={"phase1": {"epochs": 1}, "phase2": {"epochs": 0}})
    run = keras_tl.train_model(config, log=lambda *_: None)
    code, out, _ = run_cli(capsys, "features", run.path, "--split", "val")
    assert code == 0
    written = out.strip().splitlines()[-1]
    with np.load(written) as saved:
        features, targets, names, paths = (saved[k] for k in ("features", "targets", "label_names", "paths"))
    data = load_prepared(run, config.data, multi_label=False)
    assert list(names) == data.label_names and list(paths) == data.paths("val")
    np.testing.assert_array_equal(targets, data.targets("val"))
    model = keras.models.load_model(run.model_file, compile=False)
    images = data.dataset("val", image_size=32, batch_size=64, training=False, seed=config.seed, cache="none")
    extractor = keras.Model(model.inputs[0], model.get_layer(FEATURES_LAYER).output)
    expected = np.concatenate([extractor.predict(x, verbose=0) for x, _ in images])
    np.testing.assert_allclose(features, expected, atol=1e-5)

    expect_error(capsys, bad_input, "features file exists", "already exists", "features", run.path,
                 "--split", "val", "-o", written)
    assert run_cli(capsys, "features", run.path, "--split", "val", "-o", written, "--overwrite")[0] == 0
    expect_error(capsys, bad_input, "features file not .npz", "must end in .npz", "features", run.path,
                 "-o", tmp_path / "features.csv")
