"""The uint8 image cache (the same batches in every cache mode) and what data.cache: auto picks, and why."""

import numpy as np
import pytest
import tensorflow as tf

from keras_tl.config import AugmentConfig, load_config
from keras_tl.data import image_cache_file, list_source, make_dataset, prepare_data
from keras_tl.data.image_cache import choose_cache, image_bytes
from keras_tl.data.pipeline import SHUFFLE_BUFFER
from keras_tl.run import RunFolder
from keras_tl.train.trainer import image_cache_mode

SIZE = 24


def paths_of(image_folder):
    return [str(image_folder / s.path) for s in list_source(image_folder).samples]


def float_resize(path: str) -> np.ndarray:
    """The float32 pixels keras_tl cached before images were cached as uint8."""
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    return tf.clip_by_value(tf.image.resize(image, (SIZE, SIZE), method="bilinear", antialias=True), 0, 255).numpy()


def images_of(ds) -> np.ndarray:
    return np.concatenate([np.asarray(x) for x, _ in ds])


def test_every_cache_mode_gives_the_float_resize_rounded_bit_for_bit(image_folder, tmp_path):
    paths = paths_of(image_folder)
    targets = np.arange(len(paths), dtype="int32")
    before = np.stack([float_resize(p) for p in paths])
    assert not np.array_equal(before, np.round(before))  # the resize makes fractions: rounding is a real step

    def run(cache, training, augment=None, batch_size=5):
        return images_of(make_dataset(paths, targets, image_size=SIZE, batch_size=batch_size, training=training, seed=3,
                                      augment=augment, cache=cache, cache_file=tmp_path / cache / "train"))

    for cache in ("memory", "disk", "none"):
        evaluated = run(cache, training=False)
        assert evaluated.dtype == np.float32
        np.testing.assert_array_equal(evaluated, np.round(before))  # uint8 -> float32 is exact
    trained = {cache: run(cache, training=True) for cache in ("memory", "disk", "none")}
    np.testing.assert_array_equal(trained["memory"], trained["disk"])
    np.testing.assert_array_equal(trained["memory"], trained["none"])
    assert not np.array_equal(trained["memory"], np.round(before))  # shuffled
    augment = AugmentConfig(flip="horizontal", rotation=0.05, zoom=0.1, contrast=0.1)
    # One batch: without op determinism (training turns it on) parallel batches race for the seed generators.
    augmented = {cache: run(cache, training=True, augment=augment, batch_size=len(paths))
                 for cache in ("memory", "none")}
    np.testing.assert_array_equal(augmented["memory"], augmented["none"])
    # The disk cache holds a byte per channel: a quarter of what float32 took.
    written = sum(f.stat().st_size for f in (tmp_path / "disk").glob("train*.data-*"))
    assert len(paths) * image_bytes(SIZE) <= written < 1.2 * len(paths) * image_bytes(SIZE), written


def test_run_cache_file_names_the_decode_version(tmp_path, image_folder):
    name = image_cache_file("train", paths_of(image_folder), SIZE, run_cache_dir=tmp_path, shared_dir=None)
    assert name.parent == tmp_path and name.name == "train-v2"  # an older float32 cache is never read as uint8


@pytest.fixture(scope="module")
def shapes_data(tmp_path_factory, image_folder):
    config = load_config(overrides=[f"data.source={image_folder}", "data.scan_workers=2"])
    run = RunFolder(tmp_path_factory.mktemp("auto") / "run").ensure()
    return prepare_data(config.data, run, seed=config.seed, multi_label=False), run


@pytest.mark.parametrize("memory,disk,expected,fragment", [
    (0.5, None, "memory", "within the memory budget"),
    (0.25, 1.0, "disk", "within the disk budget"),
    (0.25, 0.1, "none", "the disk budget of 0.1 MiB (data.cache_disk_mb) is too small"),
    (0.05, 1.0, "none", "over the memory budget"),  # not even the shuffle buffer fits in memory
])
def test_auto_picks_memory_then_disk_then_none_by_the_budgets(shapes_data, memory, disk, expected, fragment):
    data, run = shapes_data
    size = 48
    train, val = len(data.splits["train"]), len(data.splits["val"])
    cached, shuffle = (train + val) * image_bytes(size) / 2**20, min(train, SHUFFLE_BUFFER) * image_bytes(size) / 2**20
    assert shuffle < 0.25 < cached + shuffle < 0.5 and 0.1 < cached < 1.0 and 0.05 < shuffle  # budgets bracket them
    overrides = [f"data.cache_memory_mb={memory}"]
    if disk is not None:
        overrides.append(f"data.cache_disk_mb={disk}")
    config = load_config(overrides=overrides)
    lines = []
    mode = image_cache_mode(config, data, size, run, ["image"], log=lines.append)
    assert mode == expected and len(lines) == 1 and lines[0].startswith(f"data.cache: auto chose {expected}")
    assert fragment in lines[0] and f"{train + val} images at {size} px" in lines[0]


def test_auto_measures_this_machine_and_explicit_modes_stay_silent(shapes_data):
    data, run = shapes_data
    lines = []
    assert image_cache_mode(load_config(), data, 32, run, ["image"], log=lines.append) == "memory"  # a few KiB
    assert "of the available RAM" in lines[0]
    assert image_cache_mode(load_config(overrides=["data.cache=disk"]), data, 32, run, ["image"], log=lines.append) \
        == "disk" and len(lines) == 1
    assert image_cache_mode(load_config(), data, 32, run, ["token_ids", "padding_mask"], log=lines.append) == "none"


def test_sixty_thousand_images_at_224_px():
    """What auto weighs for a Fashion-MNIST-sized set: 8.4 GiB of uint8 (float32 took 33.6 GiB)."""
    choice = choose_cache("auto", cached_images=60_000, shuffle_images=SHUFFLE_BUFFER, image_size=224,
                          folder=".", memory_mb=16 * 1024, disk_mb=0)
    assert choice.mode == "memory" and "60,000 images at 224 px take 8.4 GiB as uint8" in choice.reason
    choice = choose_cache("auto", cached_images=60_000, shuffle_images=SHUFFLE_BUFFER, image_size=224,
                          folder=".", memory_mb=8 * 1024, disk_mb=100 * 1024)
    assert choice.mode == "disk", choice.reason
