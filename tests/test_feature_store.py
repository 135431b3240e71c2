"""Cached features come back in exactly the batches the images would have formed, from memory or from disk."""

import numpy as np
import pytest

from keras_tl.data import FeatureStore, list_source, load_image, make_dataset, row_order


@pytest.mark.parametrize("cache", ["memory", "none"])
def test_row_order_is_the_image_pipelines_shuffle(image_folder, cache):
    paths = [str(image_folder / s.path) for s in list_source(image_folder).samples]
    positions = np.arange(len(paths), dtype="int32")  # each image's target is its own position
    images = make_dataset(paths, positions, image_size=8, batch_size=5, training=True, seed=3, cache=cache)
    rows = row_order(len(paths), batch_size=5, training=True, seed=3)
    for _ in range(2):  # reshuffled each epoch, identically
        assert [y.numpy().tolist() for _, y in images] == [r.numpy().tolist() for r in rows]
    decoded = {tuple(y.numpy()): x.numpy() for x, y in images.unbatch().batch(1)}
    np.testing.assert_array_equal(decoded[(7,)][0], load_image(paths[7], 8).numpy())  # images stay with targets


@pytest.mark.parametrize("on_disk", [False, True])
def test_batches_gather_rows_and_multi_label_targets(tmp_path, on_disk):
    rng = np.random.default_rng(0)
    features = rng.normal(size=(37, 5)).astype("float32")
    targets = (rng.uniform(size=(37, 3)) > 0.5).astype("float32")
    store = FeatureStore(37, 5, path=tmp_path / "f" / "train.npy" if on_disk else None)
    for start in range(0, 37, 10):
        store.append(features[start:start + 10])
    store.finish()
    assert store.on_disk == on_disk and (tmp_path / "f" / "train.npy").is_file() == on_disk
    expected = row_order(37, batch_size=8, training=True, seed=1)
    batches = store.batches(row_order(37, batch_size=8, training=True, seed=1), targets)
    for rows, (x, y) in zip(expected, batches, strict=True):
        np.testing.assert_array_equal(x.numpy(), features[rows.numpy()])
        np.testing.assert_array_equal(y.numpy(), targets[rows.numpy()])
    store.delete()
    assert not list(tmp_path.rglob("*.npy"))


def test_a_store_must_be_filled_exactly():
    store = FeatureStore(4, 2)
    store.append(np.zeros((3, 2), "float32"))
    with pytest.raises(ValueError, match="expected 4 rows, got 3"):
        store.finish()
    with pytest.raises(ValueError, match="holds 4 rows"):
        store.append(np.zeros((2, 2), "float32"))
