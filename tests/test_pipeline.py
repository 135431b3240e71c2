"""The tf.data pipeline: raw 0-255 images, augmentation only when training, deterministic when seeded."""

import numpy as np

from keras_tl.config import AugmentConfig
from keras_tl.data import list_source, load_image, make_dataset


def paths_and_targets(image_folder):
    listing = list_source(image_folder)
    paths = [str(image_folder / s.path) for s in listing.samples]
    targets = np.array([["circle", "square", "triangle"].index(s.label) for s in listing.samples], dtype="int32")
    return paths, targets


def batches(ds):
    return [(np.asarray(x), np.asarray(y)) for x, y in ds]


def test_eval_batches_are_the_decoded_images_in_order(image_folder):
    paths, targets = paths_and_targets(image_folder)
    ds = make_dataset(paths, targets, image_size=32, batch_size=8, training=False, seed=0)
    images = np.concatenate([x for x, _ in batches(ds)])
    assert images.shape == (36, 32, 32, 3) and images.dtype == np.float32
    assert 0 <= images.min() and images.max() <= 255 and images.max() > 200  # raw pixels, not normalised
    np.testing.assert_array_equal(images[5], load_image(paths[5], 32).numpy())
    np.testing.assert_array_equal(np.concatenate([y for _, y in batches(ds)]), targets)


def test_training_shuffles_and_augments_reproducibly(image_folder):
    paths, targets = paths_and_targets(image_folder)
    augment = AugmentConfig(flip="horizontal_and_vertical", rotation=0.1, zoom=0.1, contrast=0.2)

    def first_epoch(seed):
        ds = make_dataset(paths, targets, image_size=32, batch_size=36, training=True, seed=seed, augment=augment)
        return batches(ds)[0]

    (x1, y1), (x2, y2), (x3, _) = first_epoch(3), first_epoch(3), first_epoch(4)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(x1, x3)
    assert sorted(y1.tolist()) == sorted(targets.tolist())
    eval_images = {tuple(np.round(load_image(p, 32).numpy().ravel()[:64])) for p in paths}
    augmented = sum(tuple(np.round(x.ravel()[:64])) not in eval_images for x in x1)
    assert augmented > 30 and 0 <= x1.min() and x1.max() <= 255.5


def test_extra_inputs_make_a_dict_batch(image_folder):
    paths, targets = paths_and_targets(image_folder)
    ids = np.arange(36 * 4, dtype="int32").reshape(36, 4)
    ds = make_dataset(paths, targets, image_size=32, batch_size=6, training=False, seed=0,
                      extra_inputs={"token_ids": ids})
    x, y = list(ds)[1]
    assert set(x) == {"image", "token_ids"}
    np.testing.assert_array_equal(np.asarray(x["token_ids"]), ids[6:12])
    np.testing.assert_array_equal(np.asarray(y), targets[6:12])


def test_shared_image_cache_is_named_after_its_images_and_reused(image_folder, tmp_path):
    import os
    import shutil

    from keras_tl.data import image_cache_file

    copy = tmp_path / "copy"
    shutil.copytree(image_folder, copy)
    paths, targets = paths_and_targets(copy)
    def cache_file(size=32, run="run", shared=str(tmp_path / "shared")):
        return image_cache_file("train", paths, size, run_cache_dir=tmp_path / run, shared_dir=shared)

    name = cache_file()
    assert name == cache_file(run="other") and name.parent == tmp_path / "shared"  # shared across runs
    assert name != cache_file(size=48)
    assert cache_file(shared=None).parent == tmp_path / "run" and cache_file(shared=None).name.startswith("train")

    def images():
        ds = make_dataset(paths, targets, image_size=32, batch_size=36, training=False, seed=0, cache="disk",
                          cache_file=name)
        return batches(ds)[0][0]

    first = images()
    for path in paths:  # a second run reads the cache, not the files
        os.remove(path)
    np.testing.assert_array_equal(images(), first)
    shutil.copytree(image_folder, copy, dirs_exist_ok=True)
    os.utime(paths[0], ns=(0, 0))
    assert name != cache_file()  # an edited image is a different cache



def test_uncached_training_pipeline_shuffles_paths_and_keeps_examples_together(image_folder):
    paths, _ = paths_and_targets(image_folder)
    positions = np.arange(len(paths), dtype="int32")
    ds = make_dataset(paths, positions, image_size=32, batch_size=8, training=True, seed=5, cache="none",
                      extra_inputs={"token_ids": positions[:, None] * 10})
    seen = []
    for x, y in ds:
        for image, ids, position in zip(x["image"].numpy(), x["token_ids"].numpy(), y.numpy()):
            assert ids[0] == 10 * position
            np.testing.assert_array_equal(image, load_image(paths[position], 32).numpy())
            seen.append(int(position))
    assert sorted(seen) == positions.tolist() and seen != positions.tolist()
