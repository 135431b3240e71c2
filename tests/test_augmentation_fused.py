"""The fused augmentation (one warp for flip + rotation + zoom) against Keras' layers applied one by one."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_tl.config import AugmentConfig
from keras_tl.data.augment import augment_layers, build_augmenter
from keras_tl.data.epoch_seeds import reset_seed_states, seed_states
from tests.helpers import CLASSES, draw_shape

SIZE = 64
DEFAULT = dict(flip="horizontal", rotation=0.05, zoom=0.1, contrast=0.1)  # keras_tl's default until it was turned off


def batch(size=SIZE, count=16) -> tf.Tensor:
    """Shapes drawn at 4x and resized as the pipeline resizes: antialiased edges of up to ~200 levels."""
    kinds = list(CLASSES.items())
    images = [draw_shape(*kinds[i % 3], size * 4, seed=i).resize((size, size), resample=3) for i in range(count)]
    return tf.constant(np.stack([np.asarray(image, dtype="float32") for image in images]))


def photos(size=224, count=16) -> tf.Tensor:
    """Crops of scikit-learn's two sample photographs (they ship with it), resized as the pipeline resizes."""
    from sklearn.datasets import load_sample_images

    rng = np.random.default_rng(0)
    crops = []
    for i in range(count):
        photo = load_sample_images().images[i % 2]
        y, x = rng.integers(0, photo.shape[0] - 320), rng.integers(0, photo.shape[1] - 320)
        crops.append(tf.image.resize(photo[y:y + 320, x:x + 320], (size, size), antialias=True))
    return tf.round(tf.stack(crops))


def half_pixel_blur(images: np.ndarray) -> float:
    """Mean change of one bilinear pass at half a pixel in both axes: the most blur one pass adds."""
    blurred = (images[:, :-1, :-1] + images[:, 1:, :-1] + images[:, :-1, 1:] + images[:, 1:, 1:]) / 4
    return float(np.abs(blurred - images[:, :-1, :-1]).mean())


def both(cfg: AugmentConfig, seed: int, images: tf.Tensor, epoch: int = 0) -> tuple[np.ndarray, np.ndarray]:
    fused, layered = build_augmenter(cfg, seed), keras.Sequential(augment_layers(cfg, seed))
    for augmenter in (fused, layered):
        reset_seed_states(seed_states(augmenter.variables), seed, epoch)
    return fused(images, training=True).numpy(), layered(images, training=True).numpy()


@pytest.mark.parametrize("settings", [dict(flip="horizontal"), dict(flip="vertical"), dict(rotation=0.2),
                                      dict(zoom=0.3), dict(contrast=0.5),
                                      dict(flip="horizontal", rotation=0.2, contrast=0.3),
                                      dict(flip="horizontal_and_vertical", rotation=0.2)])
def test_one_resampling_gives_the_layers_pixels(settings):
    """With at most one layer that resamples, the fused warp samples exactly where the layers do: any mistake in
    the draws, in a matrix or in the order of flip and rotation (they do not commute) is tens of levels off."""
    fused, layered = both(AugmentConfig(**settings), seed=11, images=batch())
    # float32 rounding of the composed matrix moves a sample by ~1e-5 px.
    np.testing.assert_allclose(fused, layered, rtol=0, atol=1e-2)


@pytest.mark.parametrize("source,seed,epoch", [("shapes", 1, 0), ("shapes", 2, 3), ("photos", 42, 7)])
def test_fused_default_looks_like_the_layer_by_layer_one(source, seed, epoch):
    """Layer by layer, the zoom resamples the rotated picture: a second bilinear pass, which blurs it by a random
    sub-pixel offset. Fused, there is one pass. Measured: 0.5 levels apart on average for the shapes, 1.1 inside
    the border for the photos (their fine texture is what a pass blurs), against 1.1 and 2.5 allowed."""
    images = batch() if source == "shapes" else photos()
    fused, layered = both(AugmentConfig(**DEFAULT), seed, images, epoch)
    difference, side = np.abs(fused - layered), images.shape[1]
    # Layer by layer, a zoom-out reflects the rotated picture (its own reflected corners included) in a border of
    # up to zoom / 2 of the side; fused, the border reflects the original.
    margin = math.ceil(DEFAULT["zoom"] / 2 * side) + 1
    inner = difference[:, margin:-margin, margin:-margin]
    # The second pass changes a picture by at most what a pass at half a pixel does, and by less on average
    # (a random offset t blurs by t(1 - t), a quarter at most): half of that is the allowance.
    allowed = 0.5 * half_pixel_blur(images.numpy())
    assert inner.mean() <= allowed and difference.mean() <= allowed, (inner.mean(), difference.mean(), allowed)
    if source == "shapes":
        assert difference.mean() < 1.0  # under one level
    # A bilinear pass moves a pixel by at most half the step between neighbours (x 1.1 for the contrast after it).
    steps = max(np.abs(np.diff(images.numpy(), axis=axis)).max() for axis in (1, 2))
    assert inner.max() <= 0.55 * steps, (inner.max(), steps)
    assert np.abs(layered - images.numpy()).mean() > 5  # both really augment (a mismatch of draws: ~15 levels)


def test_fused_augmenter_has_the_layers_seed_states_in_order():
    fused = build_augmenter(AugmentConfig(**DEFAULT), 5)
    kinds = [state.path.split("/")[0] for state in seed_states(fused.variables)]
    assert len(kinds) == 4 and kinds == [layer.generator.state.path.split("/")[0] for layer in fused.steps]
    assert [type(layer).__name__ for layer in fused.steps] == ["RandomFlip", "RandomRotation", "RandomZoom",
                                                               "RandomContrast"]
    images = batch(count=4)

    def epoch(number):
        reset_seed_states(seed_states(fused.variables), 5, number)
        return fused(images, training=True).numpy()

    first = epoch(2)
    assert not np.array_equal(epoch(3), first)
    np.testing.assert_array_equal(epoch(2), first)  # the per-epoch reset replays the epoch's draws
    assert np.array_equal(fused(images, training=False).numpy(), images.numpy())
